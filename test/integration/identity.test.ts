import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsortiumCa, issueCertificate, revokeCertificate } from '../../coordinator/src/pki/index.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';
import { consortiumCa, HandSite, siteTls, tryConnect } from '../helpers/hand-site.js';
import { captureLogger, type CapturedLogger } from '../helpers/log-capture.js';

const DAY_MS = 86_400_000;

/**
 * Identity refusals against a real coordinator (mTLS on 127.0.0.1, SQLite file). site-1 and site-2 run
 * real agents throughout; site-3's kit and certificates made here are used by hand. Every refusal must
 * name what was refused and why, be logged by the coordinator, and leave the federation working.
 */
describe('identity: refused certificates and claims over real mTLS', () => {
  let fed: Federation;
  let log: CapturedLogger;
  let address: string;

  beforeAll(async () => {
    log = captureLogger('coordinator');
    fed = await startFederation({ sites: 3, logger: log.logger });
    address = `127.0.0.1:${fed.coordinator.port}`;
    await fed.startAgent(0);
    await fed.startAgent(1);
    await waitUntil(() => fed.coordinator.sessions.connectedSites().length === 2, 'site-1 and site-2 to connect');
  });

  afterAll(async () => {
    await fed?.close();
  });

  /** The real agents are still connected and a valid site-3 certificate is still welcomed. */
  async function expectFederationHealthy(): Promise<void> {
    expect(fed.coordinator.sessions.connectedSites()).toEqual(expect.arrayContaining(['site-1', 'site-2']));
    const ok = await tryConnect(address, siteTls(fed.pkiDir, 'site-3'), 'site-3');
    expect(ok).toEqual({ ok: true });
  }

  it('refuses a client certificate from another CA in the TLS handshake and logs the reason', async () => {
    // Arrange: a look-alike consortium whose CA issues a certificate for 'site-1'
    const now = new Date();
    const rogue = createConsortiumCa({ name: 'rogue', validityDays: 30, now });
    const cert = issueCertificate({ ca: rogue, role: 'site', id: 'site-1', validityDays: 10, now });
    const tls = { ca: Buffer.from(consortiumCa(fed.pkiDir).certPem), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) };
    const before = log.lines.length;

    // Act
    const outcome = await tryConnect(address, tls, 'site-1');

    // Assert: the call fails (TLS 1.3: seen on the first call), and the coordinator says why
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(grpc.status.UNAVAILABLE);
    const line = await log.waitFor('refused TLS connection', (l) => log.lines.indexOf(l) >= before);
    expect(line['peer']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(line['code']).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(String(line['reason'])).toContain('not issued by the consortium CA');
    expect(fed.coordinator.sessions.connectedSites()).not.toContain('rogue');
    await expectFederationHealthy();
  });

  it('refuses an expired site certificate issued by the consortium CA, naming the expiry', async () => {
    // Arrange
    const now = Date.now();
    const cert = issueCertificate({
      ca: consortiumCa(fed.pkiDir),
      role: 'site',
      id: 'site-3',
      validityDays: 1,
      now: new Date(now - 10 * DAY_MS),
      notBefore: new Date(now - 10 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    });
    const tls = { ...siteTls(fed.pkiDir, 'site-3'), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) };
    const before = log.lines.length;

    // Act
    const outcome = await tryConnect(address, tls, 'site-3');

    // Assert: OpenSSL refuses it in the handshake (before any gRPC code runs); the log line says it expired
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(grpc.status.UNAVAILABLE);
    const line = await log.waitFor('refused TLS connection', (l) => log.lines.indexOf(l) >= before);
    expect(line['peer']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(line['code']).toBe('CERT_HAS_EXPIRED');
    expect(String(line['reason'])).toContain('certificate has expired');
    await expectFederationHealthy();
  });

  it('refuses a valid site-1 certificate whose hello claims site-2 (TESSERA_IDENTITY_SITE_MISMATCH)', async () => {
    // Act
    const outcome = await tryConnect(address, siteTls(fed.pkiDir, 'site-1'), 'site-2');

    // Assert
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(outcome.error.details).toContain('TESSERA_IDENTITY_SITE_MISMATCH');
    expect(outcome.error.details).toContain("hello claims site 'site-2' but the certificate belongs to 'site-1'");
    const line = await log.waitFor('site message refused', (l) => String(l['problem']).includes('TESSERA_IDENTITY_SITE_MISMATCH'));
    expect(line['siteId']).toBe('site-1');
    // The real site-1 agent was not displaced by the impostor stream.
    await expectFederationHealthy();
  });

  it('refuses an operator certificate used as a site (TESSERA_IDENTITY_WRONG_ROLE)', async () => {
    // Arrange
    const cert = issueCertificate({ ca: consortiumCa(fed.pkiDir), role: 'operator', id: 'ops-1', validityDays: 10, now: new Date() });
    const tls = { ...siteTls(fed.pkiDir, 'site-3'), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) };

    // Act
    const outcome = await tryConnect(address, tls, 'ops-1');

    // Assert
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(outcome.error.details).toContain('TESSERA_IDENTITY_WRONG_ROLE');
    expect(outcome.error.details).toContain("operator certificate 'ops-1'");
    const line = await log.waitFor('refused call: identity check failed', (l) => l['code'] === 'TESSERA_IDENTITY_WRONG_ROLE');
    expect(line['method']).toBe('Connect');
    expect(String(line['reason'])).toContain("role 'operator' where 'site' is required");
    await expectFederationHealthy();
  });

  it('picks up a revocation without a restart: site-3 connects before, is refused after (TESSERA_IDENTITY_REVOKED)', async () => {
    // Arrange: site-3's provisioned certificate works
    const tls = siteTls(fed.pkiDir, 'site-3');
    expect(await tryConnect(address, tls, 'site-3')).toEqual({ ok: true });
    // …and holds a stream open across the revocation.
    const held = new HandSite(address, tls);
    held.hello('site-3');
    await held.welcome();

    // Act: the consortium admin revokes it; the coordinator re-reads the list (throttled to once a second)
    const revoked = revokeCertificate({ caDir: fed.pkiDir, id: 'site-3', reason: 'key compromised', now: new Date() });
    expect(revoked.written.some((f) => f.endsWith('coordinator/revocations.json'))).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));
    const outcome = await tryConnect(address, tls, 'site-3');

    // Assert
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(outcome.error.details).toContain('TESSERA_IDENTITY_REVOKED');
    expect(outcome.error.details).toContain(`site certificate 'site-3' (serial ${revoked.serial})`);
    const line = await log.waitFor('refused call: identity check failed', (l) => l['code'] === 'TESSERA_IDENTITY_REVOKED');
    expect(String(line['reason'])).toContain('revoked by the consortium');
    // The stream opened before the revocation is closed within a heartbeat interval, with a goodbye.
    const closed = await held.failure(5000);
    held.close();
    expect(closed.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(closed.details).toContain('TESSERA_IDENTITY_REVOKED');
    expect(held.received.some((m) => m.goodbye?.reason === 'TESSERA_IDENTITY_REVOKED')).toBe(true);
    const closing = await log.waitFor('closing stream: certificate no longer accepted', (l) => l['siteId'] === 'site-3');
    expect(closing['code']).toBe('TESSERA_IDENTITY_REVOKED');
    // The other sites are untouched by site-3's revocation.
    expect(fed.coordinator.sessions.connectedSites()).toEqual(['site-1', 'site-2']);
  });

  it('still runs a study with the legitimate sites after all those refusals', async () => {
    // Arrange
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const study = await fed.coordinator.createStudy(
      // Two sites: secure aggregation needs three (a site's policy refuses smaller cohorts), so this study runs plaintext.
      makeStudy({ id: 'after-refusals', inputDim, rounds: 1, secureAggregation: false, timeouts: { waitForSitesMs: 10_000, fitMs: 8000, evaluateMs: 8000 } }),
    );

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert
    expect(done.status).toBe('completed');
    const sites = await fed.coordinator.store.listRoundSites(study.id, 1, 1);
    expect(sites.filter((s) => s.phase === 'fit').map((s) => [s.siteId, s.outcome])).toEqual([
      ['site-1', 'ok'],
      ['site-2', 'ok'],
    ]);
  });
});

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
