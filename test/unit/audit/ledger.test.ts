import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AuditKind,
  canonicalJson,
  crossCheckLedgers,
  entriesCsv,
  type AuditEntry,
  JsonlLedgerFile,
  ledgerHeader,
  ledgerJsonl,
  sealEntry,
  signHead,
  verifyLedger,
  GENESIS_HASH,
  LedgerSigner,
} from '../../../shared/src/audit/index.js';
import { AuditError } from '../../../shared/src/errors.js';
import { makeTempDir, NOW } from '../pki/pki-fixtures.js';
import { type AuditPki, makeAuditPki } from './audit-fixtures.js';

let pki: AuditPki;
beforeAll(() => {
  pki = makeAuditPki();
});

/** A chain of `n` entries signed by the coordinator, and the JSONL export lines. */
function chain(n: number, signer: LedgerSigner = pki.coordinator): { entries: AuditEntry[]; lines: string[] } {
  const entries: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const at = new Date(NOW.getTime() + i * 1000);
    const e = sealEntry(
      { actor: 'coordinator:coordinator', kind: AuditKind.DataReceived, studyId: 's1', siteId: 'site-1', round: i, details: { kind: 'model-update', bytes: 400, sha256: 'ab'.repeat(32) } },
      i,
      prev,
      at,
      signer,
    );
    entries.push(e);
    prev = e.hash;
  }
  const text = ledgerJsonl(ledgerHeader('coordinator:coordinator', [signer.certificatePem], pki.ca.certPem), entries, signHead('coordinator:coordinator', entries.at(-1) ?? null, NOW, signer));
  return { entries, lines: text.split('\n').slice(0, -1) };
}

const join = (lines: string[]): string => `${lines.join('\n')}\n`;

describe('canonicalJson', () => {
  it('sorts keys at every level, drops undefined members and keeps array order', () => {
    // Arrange
    const value = { b: [3, { z: 1, a: 2 }], a: 'x', u: undefined, n: -0 };
    // Act
    const text = canonicalJson(value);
    // Assert
    expect(text).toBe('{"a":"x","b":[3,{"a":2,"z":1}],"n":0}');
  });

  it.each([
    ['NaN', { x: Number.NaN }, '$.x'],
    ['Infinity', { y: [1, Number.POSITIVE_INFINITY] }, '$.y[1]'],
    ['a bigint', { z: 1n }, '$.z'],
    ['a Date', { d: new Date(0) }, '$.d'],
  ])('refuses %s, naming the path', (_name, value, where) => {
    expect(() => canonicalJson(value)).toThrow(where);
  });
});

describe('verifyLedger', () => {
  it('accepts an untouched export, anchored when the CA is given', () => {
    // Arrange
    const { lines } = chain(5);
    // Act
    const { report, entries } = verifyLedger(join(lines), { caPem: pki.ca.certPem });
    // Assert
    expect(report.firstBad).toBeNull();
    expect(report).toMatchObject({ ok: true, entries: 5, anchored: true, ledger: 'coordinator:coordinator' });
    expect(report.head?.seq).toBe(5);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('accepts an empty ledger (header and a head of seq 0)', () => {
    const { report } = verifyLedger(join(chain(0).lines), { caPem: pki.ca.certPem });
    expect(report).toMatchObject({ ok: true, entries: 0 });
  });

  it('names an edited entry (content changed, hash kept)', () => {
    // Arrange
    const { lines } = chain(5);
    lines[3] = (lines[3] ?? '').replace('"bytes":400', '"bytes":401'); // entry #3 is line 4
    // Act
    const { report } = verifyLedger(join(lines));
    // Assert
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ problem: 'edited', seq: 3, line: 4 });
    expect(report.firstBad?.message).toContain('entry #3');
  });

  it('names an edited entry whose hash was recomputed (the signature fails)', () => {
    // Arrange: rewrite entry #2 and recompute its hash with the public algorithm; the attacker has no key.
    const { entries } = chain(4);
    const victim = entries[1] as AuditEntry;
    const forged = sealEntry({ actor: victim.actor, kind: victim.kind, details: { kind: 'model-update', bytes: 1, sha256: 'cd'.repeat(32) } }, 2, victim.prev, new Date(victim.at), pki.stranger);
    const tampered = entries.map((e) => (e.seq === 2 ? { ...forged, signer: victim.signer } : e));
    const text = ledgerJsonl(ledgerHeader('coordinator:coordinator', [pki.coordinator.certificatePem]), tampered, signHead('coordinator:coordinator', entries.at(-1) ?? null, NOW, pki.coordinator));
    // Act
    const { report } = verifyLedger(text);
    // Assert
    expect(report.firstBad).toMatchObject({ problem: 'edited', seq: 2 });
    expect(report.firstBad?.message).toContain('signature does not verify');
  });

  it('names a deleted entry', () => {
    // Arrange
    const { lines } = chain(6);
    lines.splice(4, 1); // entry #4
    // Act
    const { report } = verifyLedger(join(lines));
    // Assert
    expect(report.firstBad).toMatchObject({ problem: 'deleted', seq: 4 });
    expect(report.firstBad?.message).toContain('entry #4 was deleted');
    expect(report.entries).toBe(3);
  });

  it('names reordered entries', () => {
    // Arrange
    const { lines } = chain(6);
    const a = lines[2] as string;
    lines[2] = lines[3] as string; // swap #2 and #3
    lines[3] = a;
    // Act
    const { report } = verifyLedger(join(lines));
    // Assert
    expect(report.firstBad).toMatchObject({ problem: 'reordered', seq: 2, line: 3 });
  });

  it('detects a truncated file: the last entries and the head cut off', () => {
    // Arrange
    const { lines } = chain(6);
    const cut = lines.slice(0, 5); // header + entries #1..#4
    // Act
    const { report } = verifyLedger(join(cut));
    // Assert
    expect(report.firstBad).toMatchObject({ problem: 'truncated', seq: 5 });
    expect(report.firstBad?.message).toContain('ends after entry #4');
  });

  it('detects a truncated file: entries removed before a kept head', () => {
    const { lines } = chain(6);
    const cut = [...lines.slice(0, 5), lines.at(-1) as string];
    const { report } = verifyLedger(join(cut));
    expect(report.firstBad).toMatchObject({ problem: 'truncated', seq: 5 });
    expect(report.firstBad?.message).toContain('covers 6 entries');
  });

  it('detects a file cut in the middle of a line', () => {
    const text = join(chain(3).lines);
    const { report } = verifyLedger(text.slice(0, text.length - 40));
    expect(report.firstBad?.problem).toBe('truncated');
  });

  it('refuses a signer from another CA when the CA is pinned, and a whole-file forgery', () => {
    // Arrange: a complete, self-consistent ledger signed by a stranger that embeds its own CA.
    const { lines } = chain(3, pki.stranger);
    // Act
    const pinned = verifyLedger(join(lines), { caPem: pki.ca.certPem });
    // Assert
    expect(pinned.report.firstBad).toMatchObject({ problem: 'untrusted', line: 1 });
  });

  it('reports an unpinned verification as not anchored', () => {
    const { report } = verifyLedger(join(chain(2).lines));
    expect(report).toMatchObject({ ok: true, anchored: false });
  });

  it('refuses an edited head', () => {
    const { lines } = chain(3);
    lines[lines.length - 1] = (lines.at(-1) ?? '').replace(/"at":"[^"]+"/, '"at":"2030-01-01T00:00:00.000Z"');
    const { report } = verifyLedger(join(lines));
    expect(report.firstBad).toMatchObject({ problem: 'edited' });
  });

  it('checks a head noted earlier: kept (ok), rewritten by the key holder (edited), cut back and re-signed (truncated)', () => {
    // Arrange: a validly signed ledger, and a head a compliance officer noted from it.
    const original = chain(5);
    const noted = { seq: 3, hash: original.entries[2]?.hash ?? '' };
    // A key holder re-creates the chain with other content, or a shorter one, and signs it again.
    const other: AuditEntry[] = [];
    let prev = GENESIS_HASH;
    for (let i = 1; i <= 5; i++) {
      const e = sealEntry({ actor: 'coordinator:coordinator', kind: AuditKind.RoundPhase, details: { i } }, i, prev, NOW, pki.coordinator);
      other.push(e);
      prev = e.hash;
    }
    const header = ledgerHeader('coordinator:coordinator', [pki.coordinator.certificatePem], pki.ca.certPem);
    const forged = ledgerJsonl(header, other, signHead('coordinator:coordinator', other.at(-1) ?? null, NOW, pki.coordinator));
    const shorter = ledgerJsonl(header, original.entries.slice(0, 2), signHead('coordinator:coordinator', original.entries[1] ?? null, NOW, pki.coordinator));
    // Act / Assert: each file verifies on its own; only the noted head tells them apart.
    expect(verifyLedger(join(original.lines), { caPem: pki.ca.certPem, expectHead: noted }).report.ok).toBe(true);
    expect(verifyLedger(forged, { caPem: pki.ca.certPem }).report.ok).toBe(true);
    expect(verifyLedger(forged, { caPem: pki.ca.certPem, expectHead: noted }).report.firstBad).toMatchObject({ problem: 'edited', seq: 3 });
    expect(verifyLedger(shorter, { caPem: pki.ca.certPem }).report.ok).toBe(true);
    expect(verifyLedger(shorter, { caPem: pki.ca.certPem, expectHead: noted }).report.firstBad).toMatchObject({ problem: 'truncated', seq: 3 });
  });

  it('refuses lines that are not ledger records', () => {
    const { lines } = chain(2);
    lines.splice(2, 0, '{"hello":1}');
    expect(verifyLedger(join(lines)).report.firstBad).toMatchObject({ problem: 'malformed', line: 3 });
    expect(verifyLedger('not json\n').report.firstBad).toMatchObject({ problem: 'malformed', line: 1 });
  });
});

describe('sealEntry', () => {
  it('refuses content where metadata belongs', () => {
    const long = 'x'.repeat(600);
    expect(() => sealEntry({ actor: 'site:a', kind: 'data.sent', details: { note: long } }, 1, GENESIS_HASH, NOW, pki.site)).toThrow(AuditError);
    expect(() => sealEntry({ actor: 'bad actor', kind: 'data.sent' }, 1, GENESIS_HASH, NOW, pki.site)).toThrow(/actor/);
    expect(() => sealEntry({ actor: 'site:a', kind: 'nodots' }, 1, GENESIS_HASH, NOW, pki.site)).toThrow(/kind/);
  });

  it('refuses a key that is not the certificate\'s', () => {
    expect(() => LedgerSigner.fromPem(pki.ca.keyPem, pki.site.certificatePem)).toThrow(/does not belong/);
  });
});

describe('entriesCsv', () => {
  it('writes one row per entry, quoting JSON and neutralising formulas', () => {
    const e = sealEntry({ actor: 'site:a', kind: 'data.sent', details: { note: '=cmd()', kind: 'model-update' } }, 1, GENESIS_HASH, NOW, pki.site);
    const rows = entriesCsv([e]).split('\r\n');
    expect(rows[0]).toBe('seq,at,actor,kind,studyId,siteId,round,details,prev,hash,signer,sig');
    expect(rows[1]).toContain('"{""kind"":""model-update"",""note"":""=cmd()""}"');
    expect(rows).toHaveLength(3);
  });
});

describe('JsonlLedgerFile', () => {
  const dir = makeTempDir('audit-jsonl');

  it('appends a verifiable chain across reopenings and refuses to continue a tampered file', () => {
    // Arrange
    const file = path.join(dir, 'site.jsonl');
    const open = (): JsonlLedgerFile => JsonlLedgerFile.open({ path: file, ledger: 'site:site-1', signer: pki.site, caPem: pki.ca.certPem });
    // Act
    open().append({ actor: 'site:site-1', kind: AuditKind.AgentStarted });
    const again = open();
    again.append({ actor: 'site:site-1', kind: AuditKind.DataSent, studyId: 's1', round: 1, details: { kind: 'model-update', bytes: 4, sha256: 'aa'.repeat(32) } });
    // Assert
    const text = readFileSync(file, 'utf8');
    const { report } = verifyLedger(text, { caPem: pki.ca.certPem });
    expect(report).toMatchObject({ ok: true, entries: 2 });
    // A file whose last entry and head were cut off still ends with an earlier head: a valid prefix. The
    // cross-check with the coordinator's ledger is what notices the missing update (next test).
    const lines = text.split('\n');
    const edited = lines.map((l, i) => (i === 4 ? l.replace('"bytes":4', '"bytes":5') : l)).join('\n');
    expect(verifyLedger(edited).report.firstBad).toMatchObject({ problem: 'edited', seq: 2 });
    writeFileSync(file, edited);
    expect(() => open()).toThrow(/entry #2/);
  });
});

describe('crossCheckLedgers', () => {
  const sha = (c: string): string => c.repeat(64);
  const seal = (seq: number, input: Parameters<typeof sealEntry>[0]): AuditEntry => sealEntry(input, seq, GENESIS_HASH, NOW, pki.coordinator);
  const received = (seq: number, round: number, h: string): AuditEntry =>
    seal(seq, { actor: 'coordinator:c', kind: AuditKind.DataReceived, studyId: 's1', siteId: 'site-1', round, details: { kind: 'model-update', bytes: 8, sha256: h } });
  const sent = (seq: number, round: number, h: string): AuditEntry =>
    seal(seq, { actor: 'site:site-1', kind: AuditKind.DataSent, studyId: 's1', round, details: { kind: 'model-update', bytes: 8, sha256: h } });

  it('agrees when every update hash matches', () => {
    const r = crossCheckLedgers([received(1, 1, sha('a')), received(2, 2, sha('b'))], [sent(1, 1, sha('a')), sent(2, 2, sha('b'))], 'site-1');
    expect(r).toMatchObject({ ok: true, matched: 2, mismatched: [], missingAtSite: [] });
  });

  it('names a hash that differs and an update the site never recorded', () => {
    const r = crossCheckLedgers([received(1, 1, sha('a')), received(2, 2, sha('b'))], [sent(1, 1, sha('c'))], 'site-1');
    expect(r.ok).toBe(false);
    expect(r.mismatched).toHaveLength(1);
    expect(r.mismatched[0]?.coordinator.sha256).toBe(sha('a'));
    expect(r.missingAtSite.map((m) => m.round)).toEqual([2]);
  });

  it('ignores other sites\' updates and flags a model the coordinator never committed', () => {
    const other = seal(3, { actor: 'coordinator:c', kind: AuditKind.DataReceived, studyId: 's1', siteId: 'site-2', round: 1, details: { kind: 'model-update', bytes: 8, sha256: sha('e') } });
    const model = seal(4, { actor: 'site:site-1', kind: AuditKind.ModelReceived, studyId: 's1', round: 1, details: { sha256: sha('f'), bytes: 8 } });
    const r = crossCheckLedgers([other], [model], 'site-1');
    expect(r.matched).toBe(0);
    expect(r.unknownModels).toEqual([{ sha256: sha('f'), seq: 4 }]);
    expect(r.ok).toBe(false);
  });

  it('knows a round\'s candidate the coordinator named when the round moved to evaluating, committed or not', () => {
    const phase = seal(5, { actor: 'coordinator:c', kind: AuditKind.RoundPhase, studyId: 's1', round: 1, details: { attempt: 1, status: 'evaluating', candidate: sha('f') } });
    const model = seal(6, { actor: 'site:site-1', kind: AuditKind.ModelReceived, studyId: 's1', round: 1, details: { sha256: sha('f'), bytes: 8 } });
    expect(crossCheckLedgers([phase], [model], 'site-1')).toMatchObject({ ok: true, unknownModels: [] });
    // Another status's entry names no model.
    const fitting = seal(5, { actor: 'coordinator:c', kind: AuditKind.RoundPhase, studyId: 's1', round: 1, details: { attempt: 1, status: 'fitting' } });
    expect(crossCheckLedgers([fitting], [model], 'site-1').unknownModels).toEqual([{ sha256: sha('f'), seq: 6 }]);
  });
});
