import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsortiumCa, issueCertificate } from '../../coordinator/src/pki/index.js';
import { AuditKind, type AuditEntry } from '../../shared/src/audit/index.js';
import { consortiumCa, siteTls, tryConnect } from '../helpers/hand-site.js';
import { type RestFederation, startRestFederation } from '../helpers/rest-fixture.js';

/**
 * Every identity refusal reaches the signed ledger, aggregated per peer and reason (issue 16): a site claiming
 * another in its hello, a certificate refused in the TLS handshake, and anonymous REST calls. A flood of the
 * same refusal costs one entry at once and one summary with its count when the window closes, never one each.
 */
describe('identity refusals in the audit ledger, aggregated (real mTLS and REST)', () => {
  let fed: RestFederation;
  let address: string;
  beforeAll(async () => {
    fed = await startRestFederation({ sites: 3 });
    address = `127.0.0.1:${fed.coordinator.port}`;
  });
  afterAll(async () => {
    await fed?.close();
  });

  async function entries(kind: string, since: number): Promise<AuditEntry[]> {
    return (await fed.coordinator.audit.list({ kind }, { afterSeq: since, limit: 1000 })).entries;
  }

  it('records a hello claiming another site once, then its count, however many times it is tried', async () => {
    // Arrange
    const before = (await fed.coordinator.audit.head()).seq;

    // Act: site-1's certificate claims site-2, twenty times.
    for (let i = 0; i < 20; i++) {
      const outcome = await tryConnect(address, siteTls(fed.pkiDir, 'site-1'), 'site-2');
      expect(outcome.ok).toBe(false);
    }
    const during = (await entries(AuditKind.SiteRefused, before)).filter((e) => e.details['code'] === 'TESSERA_IDENTITY_SITE_MISMATCH');
    await fed.coordinator.auditTrail.flushRefusals();
    const after = (await entries(AuditKind.SiteRefused, before)).filter((e) => e.details['code'] === 'TESSERA_IDENTITY_SITE_MISMATCH');

    // Assert: the first at once, naming the proven site and the method; then one summary counting the other 19.
    expect(during).toHaveLength(1);
    expect(during[0]).toMatchObject({ actor: 'site:site-1', siteId: 'site-1', details: { source: 'grpc', peer: '127.0.0.1', method: 'Connect' } });
    expect(during[0]?.details['reason']).toEqual(expect.stringContaining("hello claims site 'site-2'"));
    expect(after).toHaveLength(2);
    expect(after[1]?.details).toMatchObject({ aggregate: true, suppressed: 19, source: 'grpc', peer: '127.0.0.1', code: 'TESSERA_IDENTITY_SITE_MISMATCH' });
  });

  it('records certificates refused in the TLS handshake (another CA), aggregated the same way', async () => {
    // Arrange: a look-alike consortium whose CA issues a certificate for 'site-1'.
    const now = new Date();
    const rogue = createConsortiumCa({ name: 'rogue', validityDays: 30, now });
    const cert = issueCertificate({ ca: rogue, role: 'site', id: 'site-1', validityDays: 10, now });
    const tls = { ca: Buffer.from(consortiumCa(fed.pkiDir).certPem), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) };
    const before = (await fed.coordinator.audit.head()).seq;

    // Act
    for (let i = 0; i < 5; i++) expect((await tryConnect(address, tls, 'site-1')).ok).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    await fed.coordinator.auditTrail.flushRefusals();

    // Assert
    const tlsRefusals = (await entries(AuditKind.SiteRefused, before)).filter((e) => e.details['source'] === 'tls' && e.details['code'] === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(tlsRefusals.length).toBeGreaterThanOrEqual(1);
    expect(tlsRefusals.length).toBeLessThanOrEqual(2);
    expect(tlsRefusals[0]).toMatchObject({ actor: 'unauthenticated', details: { peer: '127.0.0.1' } });
    expect(tlsRefusals[0]?.details['reason']).toEqual(expect.stringContaining('not issued by the consortium CA'));
    const counted = 1 + tlsRefusals.slice(1).reduce((n, e) => n + Number(e.details['suppressed'] ?? 0), 0);
    expect(counted).toBe(5);
  });

  it('keeps a flood of anonymous REST calls to one entry per window plus its count', async () => {
    // Arrange
    const before = (await fed.coordinator.audit.head()).seq;

    // Act: 200 calls without credentials, then the server closes (the window is flushed).
    for (let i = 0; i < 200; i++) expect((await fed.app.inject({ url: '/api/v1/studies' })).statusCode).toBe(401);
    // Appended in the background: give the first entry a moment to land.
    let during: AuditEntry[] = [];
    for (let i = 0; i < 50 && during.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      during = (await entries(AuditKind.LoginRefused, before)).filter((e) => e.actor === 'unauthenticated');
    }
    await fed.app.close();
    await new Promise((r) => setTimeout(r, 200));
    const after = (await entries(AuditKind.LoginRefused, before)).filter((e) => e.actor === 'unauthenticated');

    // Assert
    expect(during).toHaveLength(1);
    expect(during[0]?.details).toMatchObject({ code: 'TESSERA_API_UNAUTHENTICATED', via: 'rest', source: 'rest' });
    expect(after).toHaveLength(2);
    expect(after[1]?.details).toMatchObject({ aggregate: true, suppressed: 199, code: 'TESSERA_API_UNAUTHENTICATED' });
    // The ledger still verifies with the aggregate entries in it.
    expect((await fed.coordinator.audit.verify()).ok).toBe(true);
  });
});
