/**
 * TLS towards the PACS, against a real Orthanc 1.10 with a PKI made at test time (openssl): DICOMweb over HTTPS
 * with a client certificate (Orthanc `SslEnabled`, `SslVerifyPeers`, `SslTrustedClientCertificates`), and DICOM TLS
 * (`DicomTlsEnabled` with its certificate, key and trusted certificates) for C-FIND + C-GET and for C-MOVE to the
 * agent's own storage SCP over TLS. A client without a certificate, or with one from another CA, is refused
 * with TESSERA_PACS_UNREACHABLE naming TLS; the agent.yaml fields are validated.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDataDir } from '../../cli/src/public-data.js';
import { AgentConfigSchema, checkAgentConfig, type AgentImagingDatasetConfig } from '../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../shared/src/config/validate.js';
import type { TesseraError } from '../../shared/src/errors.js';
import { fillImagingCache } from '../../site-agent/src/hospital/ingest/imaging-cache.js';
import { freePort, orthancSkipReason, startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { makeTestPki, opensslSkipReason, type TestPki } from '../helpers/tls-pki.js';

const skip = orthancSkipReason() ?? opensslSkipReason();
const FILES = ['pydicom/CT_small.dcm', 'pydicom/MR_small.dcm', 'dicomparser/ctimage.dcm'];

function parse(yamlText: string): ReturnType<typeof parseConfigText<typeof AgentConfigSchema>> {
  return parseConfigText(AgentConfigSchema, yamlText, 'agent.yaml', checkAgentConfig);
}

function agentYaml(source: string, root: string): string {
  return ['kit: ./kit', 'sources:', '  pacs:', source, 'datasets:', '  scans:', '    kind: imaging-study', '    source: pacs', `    cache: ${root}/cache`, `    secret: ${root}/site-secret.hex`, '    inputShape: [64, 64, 1]'].join('\n');
}

async function pull(source: string, root: string): Promise<Awaited<ReturnType<typeof fillImagingCache>>> {
  mkdirSync(root, { recursive: true });
  const config = parse(agentYaml(source, root));
  return fillImagingCache('scans', config.datasets['scans'] as AgentImagingDatasetConfig, root, config.sources);
}

function cached(root: string): number {
  return readdirSync(path.join(root, 'cache', 'dicom')).filter((f) => f.endsWith('.dcm')).length;
}

describe('agent.yaml TLS fields', () => {
  it('names the field: a client certificate without its key, a key without its certificate, a client certificate over http', () => {
    const web = (extra: string, url = 'https://pacs.example/dicom-web'): string => agentYaml(`    kind: dicomweb\n    url: ${url}\n${extra}`, '/tmp/x');
    expect(() => parse(web('    clientCertificate: site.crt'))).toThrow(/'sources\.pacs\.clientKey' is required with clientCertificate/);
    expect(() => parse(web('    clientKey: site.key'))).toThrow(/'sources\.pacs\.clientCertificate' is required with clientKey/);
    expect(() => parse(web('    clientCertificate: site.crt\n    clientKey: site.key', 'http://pacs.example/dicom-web'))).toThrow(/'sources\.pacs\.clientCertificate' needs an https:\/\/ url/);
    const dimse = (tls: string, extra = ''): string => agentYaml(`    kind: dimse\n    host: pacs\n    port: 2762\n    calledAeTitle: PACS\n    callingAeTitle: SITE\n${extra}    tls: ${tls}`, '/tmp/x');
    expect(() => parse(dimse('{ ca: ca.crt, clientCertificate: site.crt }'))).toThrow(/'sources\.pacs\.tls\.clientKey' is required with clientCertificate/);
    expect(() => parse(dimse('{ ca: ca.crt }', '    retrieve: c-move\n    storeScp: { aeTitle: SCP, port: 11112 }\n'))).toThrow(/'sources\.pacs\.tls\.clientCertificate' is required with retrieve c-move over TLS/);
    expect(() => parse(dimse('{ ca: ca.crt, cert: site.crt }'))).toThrow(/cert/);
    expect(parse(dimse('{ ca: ca.crt, clientCertificate: site.crt, clientKey: site.key }')).sources?.['pacs']).toMatchObject({ tls: { ca: 'ca.crt' } });
  });
});

describe.skipIf(skip !== undefined)(`TLS towards a real Orthanc${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  let pki: TestPki;
  let work: string;
  beforeAll(() => {
    pki = makeTestPki();
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-pacs-tls-'));
  });
  afterAll(() => {
    pki?.remove();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  describe('DICOMweb over HTTPS with a client certificate', () => {
    let orthanc: Orthanc;
    let frontend: { url: string; close(): Promise<void> };
    beforeAll(async () => {
      orthanc = await startOrthanc();
      for (const f of FILES) expect((await orthanc.upload(path.join(sharedDataDir(), 'dicom', f))).ok).toBe(true);
      // Debian's Orthanc 1.10.1 crashes on its own HTTPS (see the last test), so HTTPS with client certificates is
      // served the way many hospitals put it in front of a PACS: a TLS-terminating reverse proxy (Node's TLS,
      // requestCert + rejectUnauthorized with the hospital CA) forwarding to Orthanc's plain HTTP on loopback.
      frontend = await startTlsFrontend(orthanc.url, { cert: pki.read(pki.server.cert), key: pki.read(pki.server.key), ca: pki.read(pki.ca) });
    });
    afterAll(async () => {
      await frontend?.close();
      await orthanc?.close();
    });

    it('pulls every instance with the hospital CA and the site certificate; survives an Orthanc restart', async () => {
      const url = `${frontend.url}/dicom-web`;
      const source = `    kind: dicomweb\n    url: ${url}\n    ca: ${pki.ca}\n    clientCertificate: ${pki.client.cert}\n    clientKey: ${pki.client.key}`;
      const root = path.join(work, 'https');
      const first = await pull(source, root);
      expect(first.pacs).toMatchObject({ found: FILES.length, written: FILES.length, failed: 0 });
      expect(cached(root)).toBe(FILES.length);
      await orthanc.restart();
      const again = await pull(source, root);
      expect(again.pacs).toMatchObject({ found: FILES.length, cached: FILES.length, fetched: 0 });
    });

    it('refuses the pull without a client certificate, with one from another CA, and a server the CA did not sign, saying TLS failed', async () => {
      const url = `${frontend.url}/dicom-web`;
      const noCert = await pull(`    kind: dicomweb\n    url: ${url}\n    ca: ${pki.ca}\n    retries: 0`, path.join(work, 'https-nocert')).catch((e: unknown) => e);
      expect((noCert as TesseraError).code).toBe('TESSERA_PACS_UNREACHABLE');
      expect((noCert as Error).message).toMatch(/TLS with 127\.0\.0\.1:\d+ failed \(ERR_SSL_[A-Z0-9_]+\): check the source's ca, clientCertificate and clientKey|closed the connection/);
      const rogue = await pull(
        `    kind: dicomweb\n    url: ${url}\n    ca: ${pki.ca}\n    clientCertificate: ${pki.rogueClient.cert}\n    clientKey: ${pki.rogueClient.key}\n    retries: 0`,
        path.join(work, 'https-rogue'),
      ).catch((e: unknown) => e);
      expect((rogue as TesseraError).code).toBe('TESSERA_PACS_UNREACHABLE');
      const wrongCa = await pull(
        `    kind: dicomweb\n    url: ${url}\n    ca: ${path.join(pki.dir, 'rogue-ca.crt')}\n    clientCertificate: ${pki.client.cert}\n    clientKey: ${pki.client.key}\n    retries: 0`,
        path.join(work, 'https-wrongca'),
      ).catch((e: unknown) => e);
      expect((wrongCa as TesseraError).code).toBe('TESSERA_PACS_UNREACHABLE');
      expect((wrongCa as Error).message).toMatch(/TLS with 127\.0\.0\.1:\d+ failed/);
    });

    it('Orthanc 1.10\'s own HTTPS (SslEnabled, SslCertificate, SslVerifyPeers, SslTrustedClientCertificates): used when it serves; this Debian build dies on the first request', async (ctx) => {
      const native = await startOrthanc({
        tls: { https: { certificateAndKey: pki.server.pem, trustedClientCertificates: pki.ca }, client: { ca: pki.read(pki.ca), cert: pki.read(pki.client.cert), key: pki.read(pki.client.key) } },
        readyTimeoutMs: 5_000,
      }).catch((e: unknown) => e as Error);
      if (native instanceof Error) {
        // Orthanc 1.10.1+dfsg-2+deb12u1 with libcivetweb1 1.15 and OpenSSL 3: the TLS handshake (client certificate
        // verified) completes, then the process dies with SIGSEGV (exit 139) on the first HTTP request.
        expect(native.message).toMatch(/Orthanc exited with SIGSEGV before it was ready/);
        ctx.skip('Orthanc\'s own HTTPS crashes in this build (SIGSEGV after the TLS handshake; civetweb 1.15 + OpenSSL 3); HTTPS is tested through the TLS front end above');
        return;
      }
      try {
        for (const f of FILES) expect((await native.upload(path.join(sharedDataDir(), 'dicom', f))).ok).toBe(true);
        const root = path.join(work, 'https-native');
        const filled = await pull(`    kind: dicomweb\n    url: ${native.dicomWebUrl}\n    ca: ${pki.ca}\n    clientCertificate: ${pki.client.cert}\n    clientKey: ${pki.client.key}`, root);
        expect(filled.pacs).toMatchObject({ found: FILES.length, written: FILES.length });
      } finally {
        await native.close();
      }
    });
  });

  describe('DIMSE over DICOM TLS (DicomTlsEnabled)', () => {
    let orthanc: Orthanc;
    let scpPort: number;
    beforeAll(async () => {
      scpPort = await freePort();
      orthanc = await startOrthanc({
        tls: { dicom: { certificate: pki.server.cert, privateKey: pki.server.key, trustedCertificates: pki.ca } },
        modalities: { tessera: { aeTitle: 'TESSERA-SCP', host: '127.0.0.1', port: scpPort, useDicomTls: true } },
      });
      for (const f of FILES) expect((await orthanc.upload(path.join(sharedDataDir(), 'dicom', f))).ok).toBe(true);
    });
    afterAll(async () => {
      await orthanc?.close();
    });

    const dimse = (o: Orthanc, extra: string): string => `    kind: dimse\n    host: 127.0.0.1\n    port: ${o.dicomPort}\n    calledAeTitle: ${o.aeTitle}\n    callingAeTitle: TESSERA-SITE\n    retries: 0\n${extra}`;

    it('C-FIND + C-GET over TLS with the site certificate', async () => {
      const root = path.join(work, 'dimse-tls');
      const filled = await pull(dimse(orthanc, `    tls: { ca: ${pki.ca}, clientCertificate: ${pki.client.cert}, clientKey: ${pki.client.key} }`), root);
      expect(filled.pacs).toMatchObject({ found: FILES.length, written: FILES.length, failed: 0 });
      expect(cached(root)).toBe(FILES.length);
    });

    it('C-MOVE over TLS to the agent\'s own storage SCP (Orthanc dials it with UseDicomTls and its certificate)', async () => {
      const root = path.join(work, 'dimse-move-tls');
      const filled = await pull(
        dimse(orthanc, `    retrieve: c-move\n    storeScp: { aeTitle: TESSERA-SCP, port: ${scpPort} }\n    tls: { ca: ${pki.ca}, clientCertificate: ${pki.client.cert}, clientKey: ${pki.client.key} }`),
        root,
      );
      expect(filled.pacs).toMatchObject({ found: FILES.length, written: FILES.length, failed: 0 });
    });

    it('refuses plain DIMSE, a missing client certificate, one from another CA, and a PACS the CA did not sign, saying why', async () => {
      for (const [name, extra] of [
        ['plain', ''],
        ['nocert', `    tls: { ca: ${pki.ca} }`],
        ['rogue', `    tls: { ca: ${pki.ca}, clientCertificate: ${pki.rogueClient.cert}, clientKey: ${pki.rogueClient.key} }`],
        // The agent's side: a PACS whose certificate the configured CA did not sign is not trusted.
        ['wrong-ca', `    tls: { ca: ${path.join(pki.dir, 'rogue-ca.crt')}, clientCertificate: ${pki.client.cert}, clientKey: ${pki.client.key} }`],
      ] as const) {
        const err = await pull(dimse(orthanc, extra), path.join(work, `dimse-${name}`)).catch((e: unknown) => e);
        expect((err as TesseraError).code, name).toBe('TESSERA_PACS_UNREACHABLE');
        if (name !== 'plain') expect((err as Error).message, name).toMatch(/DICOM TLS/);
      }
    });
  });
});

/** A TLS-terminating reverse proxy on 127.0.0.1:0 that takes only clients whose certificate `ca` signed. */
async function startTlsFrontend(target: string, tls: { cert: string; key: string; ca: string }): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const up = http.request(`${target}${req.url ?? '/'}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
