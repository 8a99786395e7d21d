import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPeerCertificate } from '../../../shared/src/pki/index.js';
import { type CaMaterial, createConsortiumCa, type IssuedCertificate, issueCertificate } from '../../../coordinator/src/pki/index.js';

// Real OpenSSL handshakes, so the clock is the real one.
const now = new Date();

interface HandshakeResult {
  ok: boolean;
  error?: string;
}

describe('certificates in a real mutual-TLS handshake', () => {
  let ca: CaMaterial;
  let foreignCa: CaMaterial;
  let server: tls.Server;
  let port: number;
  const serverSaw: string[] = [];

  beforeAll(async () => {
    ca = createConsortiumCa({ name: 'Nordic Imaging Consortium', validityDays: 3660, now });
    foreignCa = createConsortiumCa({ name: 'Nordic Imaging Consortium', validityDays: 3660, now });
    const coordinator = issueCertificate({ ca, role: 'coordinator', id: 'coordinator', validityDays: 30, now });
    server = tls.createServer(
      { cert: coordinator.certPem, key: coordinator.keyPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const peer = socket.getPeerCertificate();
        const identity = verifyPeerCertificate({ certDer: peer.raw, caCertPem: ca.certPem, now: new Date(), expectedRole: 'site' });
        serverSaw.push(identity.id);
        socket.end('welcome\n');
      },
    );
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function connect(client: IssuedCertificate, servername: string): Promise<HandshakeResult> {
    return new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, cert: client.certPem, key: client.keyPem, ca: [ca.certPem] });
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('end', () => resolve(data === 'welcome\n' ? { ok: true } : { ok: false, error: 'closed without welcome' }));
      socket.on('error', (err) => resolve({ ok: false, error: err.message }));
    });
  }

  it('lets a site certificate from our CA in, and the server reads its id', async () => {
    // Arrange
    const site = issueCertificate({ ca, role: 'site', id: 'st-olav', validityDays: 30, now });
    // Act
    const result = await connect(site, 'localhost');
    // Assert
    expect(result).toEqual({ ok: true });
    expect(serverSaw).toContain('st-olav');
  });

  it('refuses a client certificate from a foreign CA at the handshake', async () => {
    // Arrange
    const impostor = issueCertificate({ ca: foreignCa, role: 'site', id: 'st-olav', validityDays: 30, now });
    const before = serverSaw.length;
    // Act
    const result = await connect(impostor, 'localhost');
    // Assert
    expect(result.ok).toBe(false);
    expect(serverSaw.length).toBe(before);
  });
});
