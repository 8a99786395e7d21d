import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLedger } from '../../coordinator/src/audit/audit-ledger.js';
import { runAsAuditActor } from '../../coordinator/src/audit/audit-actor.js';
import { auditingStore } from '../../coordinator/src/audit/auditing-store.js';
import { MemoryAuditLedger } from '../../coordinator/src/audit/memory-audit-ledger.js';
import { SqliteAuditLedger } from '../../coordinator/src/audit/sqlite-audit-ledger.js';
import { SqliteCoordinatorStore } from '../../coordinator/src/store/sqlite-store.js';
import { AuditKind, verifyLedger } from '../../shared/src/audit/index.js';
import { validateConfig } from '../../shared/src/config/validate.js';
import { createLogger } from '../../shared/src/logging.js';
import { StudySpecSchema } from '../../shared/src/study/study-spec.js';
import { type AuditPki, makeAuditPki } from '../unit/audit/audit-fixtures.js';
import { makeTempDir, NOW } from '../unit/pki/pki-fixtures.js';

let pki: AuditPki;
beforeAll(() => {
  pki = makeAuditPki();
});

/** A clock that advances one second per reading, from NOW. */
function stepClock(): () => number {
  let t = NOW.getTime();
  return () => (t += 1000);
}

type Factory = (now: () => number) => Promise<AuditLedger & { close(): Promise<void> }>;

const dir = makeTempDir('audit-contract');
let fileNo = 0;
const implementations: [string, Factory][] = [
  ['memory', (now) => Promise.resolve(new MemoryAuditLedger({ name: 'coordinator:c', signer: pki.coordinator, caPem: pki.ca.certPem, now }))],
  ['sqlite :memory:', (now) => SqliteAuditLedger.open({ file: ':memory:', name: 'coordinator:c', signer: pki.coordinator, caPem: pki.ca.certPem, now })],
  ['sqlite file', (now) => SqliteAuditLedger.open({ file: path.join(dir, `ledger-${++fileNo}.sqlite`), name: 'coordinator:c', signer: pki.coordinator, caPem: pki.ca.certPem, now })],
];

async function text(lines: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const l of lines) out += l;
  return out;
}

describe.each(implementations)('AuditLedger contract: %s', (_name, make) => {
  it('chains appends made concurrently in call order, and the export verifies against the CA', async () => {
    // Arrange
    const ledger = await make(stepClock());
    // Act
    const sealed = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ledger.append({ actor: 'coordinator:c', kind: AuditKind.RoundPhase, studyId: 's1', round: i, details: { i } })),
    );
    const exported = await text(ledger.exportJsonl());
    // Assert
    expect(sealed.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(sealed.map((e) => e.details['i'])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (let i = 1; i < sealed.length; i++) expect(sealed[i]?.prev).toBe(sealed[i - 1]?.hash);
    const { report } = verifyLedger(exported, { caPem: pki.ca.certPem });
    expect(report).toMatchObject({ ok: true, entries: 20, complete: true });
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 20 });
    expect(await ledger.head()).toMatchObject({ seq: 20, hash: sealed[19]?.hash });
    await ledger.close();
  });

  it('refuses a bad entry without breaking the chain for the next one', async () => {
    const ledger = await make(stepClock());
    await ledger.append({ actor: 'coordinator:c', kind: AuditKind.CoordinatorStarted });
    await expect(ledger.append({ actor: 'coordinator:c', kind: 'x.y', details: { v: Number.NaN } })).rejects.toMatchObject({ code: 'TESSERA_AUDIT_ENTRY_INVALID' });
    const next = await ledger.append({ actor: 'coordinator:c', kind: AuditKind.CoordinatorStopped });
    expect(next.seq).toBe(2);
    expect((await ledger.verify()).ok).toBe(true);
    await ledger.close();
  });

  it('lists by study, site, actor, kind and time, in pages', async () => {
    // Arrange: 10 entries, one second apart, alternating two sites
    const ledger = await make(stepClock());
    for (let i = 0; i < 10; i++) {
      await ledger.append({ actor: `site:s${i % 2}`, kind: i < 5 ? AuditKind.DataReceived : AuditKind.SiteDropped, studyId: i < 8 ? 'a' : 'b', siteId: `s${i % 2}` });
    }
    // Act / Assert
    expect((await ledger.list({ studyId: 'b' })).entries.map((e) => e.seq)).toEqual([9, 10]);
    expect((await ledger.list({ siteId: 's1', kind: AuditKind.DataReceived })).entries.map((e) => e.seq)).toEqual([2, 4]);
    expect((await ledger.list({ actor: 'site:s0' })).entries).toHaveLength(5);
    const third = (await ledger.list({}, { afterSeq: 2, limit: 1 })).entries[0];
    const t = Date.parse(third?.at ?? '');
    expect((await ledger.list({ fromMs: t, toMs: t + 2000 })).entries.map((e) => e.seq)).toEqual([3, 4]);
    const p1 = await ledger.list({}, { limit: 4 });
    const p2 = await ledger.list({}, { limit: 4, afterSeq: p1.nextAfterSeq ?? 0 });
    const p3 = await ledger.list({}, { limit: 4, afterSeq: p2.nextAfterSeq ?? 0 });
    expect([p1, p2, p3].map((p) => p.entries.map((e) => e.seq))).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]);
    expect(p3.nextAfterSeq).toBeNull();
    // A selection export verifies entry by entry but says it is incomplete.
    const selection = verifyLedger(await text(ledger.exportJsonl({ siteId: 's1' })), { caPem: pki.ca.certPem });
    expect(selection.report).toMatchObject({ ok: true, complete: false, entries: 5 });
    const csv = (await text(ledger.exportCsv({ studyId: 'a' }))).split('\r\n');
    expect(csv).toHaveLength(8 + 2);
    await ledger.close();
  });

  it('has a genesis head when empty, and a signed head that verifies', async () => {
    const ledger = await make(stepClock());
    expect(await ledger.head()).toEqual({ seq: 0, hash: '0'.repeat(64), at: null });
    const exported = await text(ledger.exportJsonl());
    expect(verifyLedger(exported, { caPem: pki.ca.certPem }).report).toMatchObject({ ok: true, entries: 0 });
    await ledger.close();
  });
});

describe('SqliteAuditLedger', () => {
  it('refuses UPDATE and DELETE of entries (append-only triggers) and continues the chain after reopening', async () => {
    // Arrange
    const file = path.join(dir, 'reopen.sqlite');
    const open = (): Promise<SqliteAuditLedger> => SqliteAuditLedger.open({ file, name: 'coordinator:c', signer: pki.coordinator, caPem: pki.ca.certPem, now: stepClock() });
    const first = await open();
    await first.append({ actor: 'coordinator:c', kind: AuditKind.CoordinatorStarted });
    // Act / Assert
    await expect(first.rawRun("UPDATE audit_entries SET kind = 'x.y'")).rejects.toThrow(/TESSERA_AUDIT_APPEND_ONLY/);
    await expect(first.rawRun('DELETE FROM audit_entries')).rejects.toThrow(/TESSERA_AUDIT_APPEND_ONLY/);
    await first.close();
    const second = await open();
    const next = await second.append({ actor: 'coordinator:c', kind: AuditKind.CoordinatorStopped });
    expect(next.seq).toBe(2);
    expect((await second.verify()).ok).toBe(true);
    await second.close();
    // Read-only: lists and verifies, refuses to append.
    const readOnly = await SqliteAuditLedger.open({ file, name: 'coordinator:c', signer: null, caPem: pki.ca.certPem });
    expect((await readOnly.list()).entries).toHaveLength(2);
    expect((await readOnly.verify()).ok).toBe(true);
    await expect(readOnly.append({ actor: 'coordinator:c', kind: AuditKind.CoordinatorStarted })).rejects.toMatchObject({ code: 'TESSERA_AUDIT_LEDGER_INVALID' });
    await readOnly.close();
  });
});

describe('auditingStore', () => {
  let store: SqliteCoordinatorStore;
  afterAll(async () => {
    await store?.close();
  });

  it('records store writes with the actor set by runAsAuditActor, passing other calls through', async () => {
    // Arrange
    store = await SqliteCoordinatorStore.open(':memory:');
    const ledger = new MemoryAuditLedger({ name: 'coordinator:c', signer: pki.coordinator, caPem: pki.ca.certPem, now: stepClock() });
    const audited = auditingStore(store, ledger, 'coordinator:c', createLogger({ name: 'test', level: 'silent' }));
    const spec = validateConfig(
      StudySpecSchema,
      { id: 'st', name: 'n', dataset: 'd', model: 'logreg', inputDim: 3, rounds: 1, strategy: 'fedavg', minSites: 1 },
      'test',
    );
    const model = { sha256: 'ab'.repeat(32), studyId: 'st', round: 0, numParams: 4, createdAt: 1 };
    // Act
    await runAsAuditActor('operator:alice', () => audited.createStudy(spec, model, 1));
    await audited.recordSiteOutcome({ studyId: 'st', round: 1, attempt: 1, siteId: 'h1', phase: 'fit', outcome: 'ok', numExamples: 5, loss: 0.1, accuracy: 0.9, updateSha256: 'cd'.repeat(32), updateBytes: 16, durationMs: 3, reason: null });
    await audited.recordSiteOutcome({ studyId: 'st', round: 1, attempt: 1, siteId: 'h2', phase: 'fit', outcome: 'refused', numExamples: 0, loss: null, accuracy: null, updateSha256: null, updateBytes: null, durationMs: 3, reason: 'TESSERA_AGENT_POLICY: too many epochs' });
    // Assert
    const entries = (await ledger.list()).entries;
    expect(entries.map((e) => [e.kind, e.actor])).toEqual([
      [AuditKind.StudyCreated, 'operator:alice'],
      [AuditKind.PrivacyParameters, 'operator:alice'],
      [AuditKind.DataReceived, 'site:h1'],
      [AuditKind.SiteDropped, 'site:h2'],
    ]);
    expect(entries[0]?.details).toMatchObject({ specSha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown, initialModel: model.sha256 });
    expect(entries[2]?.details).toEqual({ kind: 'model-update', bytes: 16, sha256: 'cd'.repeat(32), attempt: 1, numExamples: 5, outcome: 'ok' });
    expect((await audited.getStudy('st'))?.spec.id).toBe('st');
  });
});
