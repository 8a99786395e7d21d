import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditKind, crossCheckLedgers, verifyLedger, type AuditEntry } from '../../shared/src/audit/index.js';
import { revokeCertificate } from '../../coordinator/src/pki/index.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';

async function exportText(fed: Federation): Promise<string> {
  let text = '';
  for await (const line of fed.coordinator.audit.exportJsonl()) text += line;
  return text;
}

describe('audit ledger of a real federation (mTLS on 127.0.0.1, 2 agents)', () => {
  let fed: Federation;
  let caPem: string;

  beforeAll(async () => {
    fed = await startFederation({ sites: 2 });
    caPem = readFileSync(path.join(fed.pkiDir, 'ca', 'ca.crt'), 'utf8');
    await fed.startAgent(0);
    await fed.startAgent(1);
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const study = await fed.coordinator.createStudy(makeStudy({ inputDim, rounds: 2, secureAggregation: false /* two sites: below the secure minimum of three */ }));
    const done = await fed.coordinator.runStudy(study.id);
    expect(done.status).toBe('completed');
  });

  afterAll(async () => {
    await fed?.close();
  });

  it('records the run as a chain that verifies offline against the consortium CA', async () => {
    // Act
    const { report, entries } = verifyLedger(await exportText(fed), { caPem });
    // Assert
    expect(report.firstBad).toBeNull();
    expect(report).toMatchObject({ ok: true, anchored: true, ledger: 'coordinator:coordinator' });
    const kinds = new Set(entries.map((e) => e.kind));
    for (const k of [AuditKind.CoordinatorStarted, AuditKind.ConfigChanged, AuditKind.ProvisionAnchored, AuditKind.RevocationsLoaded, AuditKind.StudyCreated, AuditKind.PrivacyParameters, AuditKind.RoundStarted, AuditKind.RoundPhase, AuditKind.SiteJoined, AuditKind.DataReceived, AuditKind.ModelCommitted, AuditKind.StudyStatus]) {
      expect(kinds, k).toContain(k);
    }
    const anchored = entries.find((e) => e.kind === AuditKind.ProvisionAnchored);
    expect(anchored?.details).toMatchObject({ ok: true, ledger: 'ca:it' });
    const updates = entries.filter((e) => e.kind === AuditKind.DataReceived && e.details['kind'] === 'model-update');
    expect(updates).toHaveLength(4); // 2 sites × 2 rounds
    for (const u of updates) expect(u.details['sha256']).toMatch(/^[0-9a-f]{64}$/);
    const committed = entries.filter((e) => e.kind === AuditKind.ModelCommitted).map((e) => e.details['modelVersion']);
    const versions = (await fed.coordinator.store.listModelVersions('it-study')).filter((v) => v.round > 0).map((v) => v.sha256);
    expect(committed.sort()).toEqual(versions.sort());
  });

  it('agrees with each site\'s own signed ledger on every update hash', async () => {
    // Arrange
    const coordinator = verifyLedger(await exportText(fed), { caPem }).entries;
    for (const agent of fed.agents) {
      const site = verifyLedger(readFileSync(agent.ledger.path, 'utf8'), { caPem });
      expect(site.report.firstBad).toBeNull();
      expect(site.report.ledger).toBe(`site:${agent.siteId}`);
      // Act
      const check = crossCheckLedgers(coordinator, site.entries, agent.siteId);
      // Assert
      expect(check).toMatchObject({ ok: true, matched: 2, mismatched: [], missingAtSite: [], unknownModels: [] });
    }
  });

  it('notices a site ledger that lost an update (cut back to an earlier signed head)', async () => {
    // Arrange: drop the site's last data.sent entry and everything after it, ending at the head before it.
    const coordinator = verifyLedger(await exportText(fed), { caPem }).entries;
    const agent = fed.agents[0]!;
    const lines = readFileSync(agent.ledger.path, 'utf8').split('\n').filter((l) => l !== '');
    const lastSent = lines.findLastIndex((l) => l.includes('"kind":"data.sent"') && l.includes('model-update'));
    const cut = `${lines.slice(0, lastSent).join('\n')}\n`;
    const site = verifyLedger(cut, { caPem });
    expect(site.report.ok).toBe(true); // a prefix ending at a signed head is self-consistent…
    // Act
    const check = crossCheckLedgers(coordinator, site.entries, agent.siteId);
    // Assert: …but the coordinator's ledger names the update the site's ledger no longer has.
    expect(check.ok).toBe(false);
    expect(check.missingAtSite).toHaveLength(1);
    expect(check.missingAtSite[0]?.round).toBe(2);
  });

  it('records a revocation the coordinator picks up and the refused site', async () => {
    // Arrange
    const before = (await fed.coordinator.audit.head()).seq;
    // Act
    revokeCertificate({ caDir: fed.pkiDir, id: 'site-2', reason: 'key compromised', now: new Date(Date.now() + 2000) });
    // A connected stream is not re-authenticated; the agent's next connection is (and reloads the list).
    // The coordinator re-reads the list at most once a second.
    fed.agents[1]!.stop();
    await new Promise((r) => setTimeout(r, 1200));
    await fed.startAgent(1);
    let entries: AuditEntry[] = [];
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 200));
      entries = (await fed.coordinator.audit.list({}, { afterSeq: before, limit: 1000 })).entries;
      if (entries.some((e) => e.kind === AuditKind.SiteRefused && e.siteId === 'site-2')) break;
    }
    // Assert
    const revoked = entries.find((e) => e.kind === AuditKind.RevocationsLoaded);
    expect(revoked?.details['newlyRevoked']).toEqual([expect.objectContaining({ id: 'site-2', reason: 'key compromised' })]);
    const refused = entries.find((e) => e.kind === AuditKind.SiteRefused && e.siteId === 'site-2');
    expect(refused?.details['code']).toBe('TESSERA_IDENTITY_REVOKED');
    expect(verifyLedger(await exportText(fed), { caPem }).report.ok).toBe(true);
  });

  it('lists with filters and pages, and exports CSV', async () => {
    const page1 = await fed.coordinator.audit.list({ siteId: 'site-1' }, { limit: 3 });
    expect(page1.entries).toHaveLength(3);
    expect(page1.entries.every((e) => e.siteId === 'site-1')).toBe(true);
    const page2 = await fed.coordinator.audit.list({ siteId: 'site-1' }, { afterSeq: page1.nextAfterSeq ?? 0, limit: 3 });
    expect(page2.entries[0]!.seq).toBeGreaterThan(page1.entries[2]!.seq);
    const received = await fed.coordinator.audit.list({ studyId: 'it-study', kind: AuditKind.DataReceived }, { limit: 1000 });
    expect(received.entries.length).toBeGreaterThanOrEqual(8); // 4 updates + 4 evaluations
    const none = await fed.coordinator.audit.list({ fromMs: Date.now() + 3_600_000 });
    expect(none.entries).toEqual([]);
    let csv = '';
    for await (const row of fed.coordinator.audit.exportCsv({ studyId: 'it-study' })) csv += row;
    expect(csv.split('\r\n')[0]).toBe('seq,at,actor,kind,studyId,siteId,round,details,prev,hash,signer,sig');
    let selection = '';
    for await (const line of fed.coordinator.audit.exportJsonl({ siteId: 'site-1' })) selection += line;
    const partial = verifyLedger(selection, { caPem });
    expect(partial.report).toMatchObject({ ok: true, complete: false });
  });
});
