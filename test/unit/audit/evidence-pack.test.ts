import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderEvidenceHtml } from '../../../coordinator/src/audit/evidence-html.js';
import { buildEvidencePack } from '../../../coordinator/src/audit/evidence-pack.js';
import { MemoryAuditLedger } from '../../../coordinator/src/audit/memory-audit-ledger.js';
import { CoordinatorAudit } from '../../../coordinator/src/audit/coordinator-audit.js';
import { SqliteCoordinatorStore } from '../../../coordinator/src/store/sqlite-store.js';
import { AuditKind } from '../../../shared/src/audit/index.js';
import { CoordinatorConfigSchema } from '../../../shared/src/config/coordinator-config.js';
import { validateConfig } from '../../../shared/src/config/validate.js';
import { createLogger } from '../../../shared/src/logging.js';
import { StudySpecSchema, type StudySpec } from '../../../shared/src/study/study-spec.js';
import { NOW } from '../pki/pki-fixtures.js';
import { type AuditPki, makeAuditPki } from './audit-fixtures.js';

let pki: AuditPki;
let store: SqliteCoordinatorStore;
beforeAll(async () => {
  pki = makeAuditPki();
  store = await SqliteCoordinatorStore.open(':memory:');
});
afterAll(async () => {
  await store?.close();
});

const logger = createLogger({ name: 'test', level: 'silent' });
const sha = (c: string): string => c.repeat(64);

function spec(id: string, name: string): StudySpec {
  return validateConfig(StudySpecSchema, { id, name, dataset: 'd', model: 'logreg', inputDim: 3, rounds: 1, strategy: 'fedavg', minSites: 1 }, 'test');
}

async function exportText(ledger: MemoryAuditLedger): Promise<string> {
  let text = '';
  for await (const l of ledger.exportJsonl()) text += l;
  return text;
}

describe('buildEvidencePack and renderEvidenceHtml', () => {
  it('builds lineage, sites and ε per site from signed entries, and escapes everything in the HTML', async () => {
    // Arrange: a study recorded through the coordinator's audited store, plus the DP round code's
    // site-privacy events (the coordinator's event stream), on a real CoordinatorAudit.
    let t = NOW.getTime();
    const audit = await CoordinatorAudit.open({
      config: validateConfig(CoordinatorConfigSchema, { dataDir: 'unused', tls: { ca: 'ca.crt', cert: 'server.crt', key: 'server.key' } }, 'test'),
      databaseFile: ':memory:',
      caPem: pki.ca.certPem,
      certPem: pki.coordinatorPem.cert,
      keyPem: pki.coordinatorPem.key,
      certPath: '/nonexistent/server.crt',
      logger,
      now: () => (t += 1000),
    });
    const ledger = audit.ledger;
    const audited = audit.wrapStore(store);
    const s = spec('ev1', '<script>alert(1)</script>');
    await audited.createStudy(s, { sha256: sha('0'), studyId: 'ev1', round: 0, numParams: 4, createdAt: 1 }, 1);
    await audited.upsertSite({ id: 'h1', connected: true, firstSeen: 1, lastSeen: 1, backend: 'wasm', agentVersion: 'v'.repeat(1000), certSerial: 'abc', certNotAfter: NOW.getTime() });
    const r = await audited.startRound('ev1', 1, sha('0'), 2);
    await audited.recordSiteOutcome({ studyId: 'ev1', round: 1, attempt: r.attempt, siteId: 'h1', phase: 'fit', outcome: 'ok', numExamples: 5, loss: 0.1, accuracy: 0.9, updateSha256: sha('a'), updateBytes: 16, durationMs: 3, reason: null });
    // The round walks its state table (waiting → fitting → aggregating → evaluating) before it commits.
    for (const status of ['fitting', 'aggregating', 'evaluating'] as const) await audited.updateRound('ev1', 1, r.attempt, status, {});
    await audited.commitRound({ studyId: 'ev1', round: 1, attempt: r.attempt, model: { sha256: sha('b'), studyId: 'ev1', round: 1, numParams: 4, createdAt: 3 }, metrics: { loss: 0.2, accuracy: 0.8, numExamples: 5 }, trainMetrics: null, phases: {}, strategyState: null, now: 3 });
    audit.observeEvent({ type: 'site-privacy', studyId: 'ev1', round: 1, siteId: 'h1', epsilon: 0.7, delta: 1e-5, accountant: 'rdp', dpRounds: 1 } as { type: string });
    audit.observeEvent({ type: 'site-privacy', studyId: 'ev1', round: 2, siteId: 'h1', epsilon: 1.1, delta: 1e-5, accountant: 'rdp', dpRounds: 2 } as { type: string });
    audit.observeEvent({ type: 'round-started' });
    await ledger.head(); // waits for the appends in flight
    // Act
    let ledgerText = '';
    for await (const l of ledger.exportJsonl()) ledgerText += l;
    const pack = await buildEvidencePack({ store, studyId: 'ev1', ledgerText, caPem: pki.ca.certPem, now: NOW });
    const html = renderEvidenceHtml(pack);
    // Assert
    expect(pack.ledger.verification.ok).toBe(true);
    expect(pack.contract.matchesLedger).toBe(true);
    expect(pack.sites).toEqual([{ id: 'h1', certSerial: 'abc', updatesSent: 1, roundsContributed: [1], dropped: [] }]);
    expect(pack.modelLineage.map((l) => [l.round, l.modelIn, l.modelVersion, l.updates.map((u) => u.sha256)])).toEqual([
      [0, null, sha('0'), []],
      [1, sha('0'), sha('b'), [sha('a')]],
    ]);
    expect(pack.privacy.epsilonSpent).toEqual([{ siteId: 'h1', epsilon: 1.1, delta: 1e-5, rounds: 2, method: 'recorded-total' }]);
    const joined = (await ledger.list({ kind: AuditKind.SiteJoined })).entries[0];
    expect(joined?.details['agentVersion']).toBe(`${'v'.repeat(199)}…`); // a site's over-long string is cut, not lost
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('1.1000');
    await audit.close();
  });

  it('says when the stored contract is not the one the ledger recorded', async () => {
    // Arrange: the ledger records one spec; the store holds another for the same id.
    const ledger = new MemoryAuditLedger({ name: 'coordinator:c', signer: pki.coordinator, caPem: pki.ca.certPem });
    await store.createStudy(spec('ev2', 'stored'), { sha256: sha('1'), studyId: 'ev2', round: 0, numParams: 4, createdAt: 1 }, 1);
    await ledger.append({ actor: 'coordinator:c', kind: AuditKind.StudyCreated, studyId: 'ev2', details: { specSha256: sha('9'), initialModel: sha('1') } });
    // Act
    const pack = await buildEvidencePack({ store, studyId: 'ev2', ledgerText: await exportText(ledger), caPem: pki.ca.certPem, now: NOW });
    // Assert
    expect(pack.contract).toMatchObject({ matchesLedger: false, ledger: { specSha256: sha('9') } });
    expect(renderEvidenceHtml(pack)).toContain('does NOT match');
    expect(pack.privacy.note).toContain('no ε was spent');
  });
});
