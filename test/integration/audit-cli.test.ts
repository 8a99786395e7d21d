import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../cli/src/exit-codes.js';
import { repoRoot } from '../../shared/src/paths.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';

const execFileP = promisify(execFile);

/** Runs `tessera …` as a child process; resolves with its exit code and output (never rejects on a non-zero exit). */
async function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return tesseraIn(undefined, ...args);
}

/** {@link tessera} with the child's working directory set to `cwd`. */
async function tesseraIn(cwd: string | undefined, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [path.join(repoRoot(), 'bin', 'tessera.js'), ...args], {
      env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
      timeout: 60_000,
      ...(cwd !== undefined ? { cwd } : {}),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('tessera audit export | verify | evidence | cross-check (subprocesses, real federation)', () => {
  let fed: Federation;
  let work: string;
  let ca: string;
  let exported: string;

  beforeAll(async () => {
    fed = await startFederation({ sites: 2 });
    await fed.startAgent(0);
    await fed.startAgent(1);
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    await fed.coordinator.createStudy(makeStudy({ inputDim, rounds: 2, secureAggregation: false /* two sites: below the secure minimum of three */ }));
    expect((await fed.coordinator.runStudy('it-study')).status).toBe('completed');
    // A workdir as `tessera demo` lays it out: coordinator.yaml naming the data folder and TLS files.
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-audit-cli-'));
    const c = path.join(fed.pkiDir, 'coordinator');
    ca = path.join(c, 'ca.crt');
    writeFileSync(
      path.join(work, 'coordinator.yaml'),
      JSON.stringify({ dataDir: path.join(fed.dir, 'coordinator-data'), tls: { ca, cert: path.join(c, 'server.crt'), key: path.join(c, 'server.key') } }),
    );
    exported = path.join(work, 'ledger.jsonl');
  });

  afterAll(async () => {
    await fed?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('exports the coordinator ledger as JSONL that verifies offline (exit 0)', async () => {
    // Act
    const exp = await tessera('audit', 'export', '--workdir', work, '--out', exported, '--json');
    const ver = await tessera('audit', 'verify', exported, '--ca', ca, '--json');
    // Assert
    expect(exp.code, exp.stderr).toBe(ExitCode.Ok);
    const summary = JSON.parse(exp.stdout) as { entries: number; head: { seq: number; hash: string } };
    expect(summary.entries).toBe(summary.head.seq);
    const lines = readFileSync(exported, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(summary.entries + 2); // header, entries, signed head
    for (const l of lines.slice(1, -1)) {
      const entry = JSON.parse(l) as { type: string; hash: string; sig: string };
      expect(entry.type).toBe('entry');
      expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(entry.sig.length).toBeGreaterThan(0);
    }
    expect(ver.code, ver.stdout).toBe(ExitCode.Ok);
    expect(JSON.parse(ver.stdout)).toMatchObject({ ok: true, anchored: true, entries: summary.entries, firstBad: null });
    const human = await tessera('audit', 'verify', exported);
    expect(human.stdout).toContain('OK ');
    expect(human.stdout).toContain('NOT anchored');
    // A head noted from this export must still be in a later one.
    const head = summary.head;
    expect((await tessera('audit', 'verify', exported, '--ca', ca, '--expect-head', `${head.seq}:${head.hash}`)).code).toBe(ExitCode.Ok);
    const wrong = await tessera('audit', 'verify', exported, '--ca', ca, '--expect-head', `${head.seq}:${'0'.repeat(64)}`);
    expect(wrong.code).toBe(ExitCode.AuditInvalid);
    expect(wrong.stdout).toContain('rewritten');
  });

  it('exits 10 (AuditUnanchored) for a ledger it can check only against the CA inside the file, unless --allow-unanchored', async () => {
    // Act
    const bare = await tessera('audit', 'verify', exported);
    const allowed = await tessera('audit', 'verify', exported, '--allow-unanchored');
    const both = await tessera('audit', 'verify', exported, '--allow-unanchored', '--ca', ca);
    // Assert
    expect(bare.code).toBe(ExitCode.AuditUnanchored);
    expect(bare.stderr).toContain('--allow-unanchored');
    expect(allowed.code, allowed.stderr).toBe(ExitCode.Ok);
    expect(allowed.stdout).toContain('NOT anchored');
    expect(both.code).toBe(ExitCode.Usage);
  });

  it('counts the entries verified before a line cut off mid-way (exit 8, truncated)', async () => {
    // Arrange: keep the header and the first six entries whole, then half of the seventh, no newline.
    const lines = readFileSync(exported, 'utf8').trimEnd().split('\n');
    const file = path.join(work, 'cut-mid-line.jsonl');
    writeFileSync(file, `${lines.slice(0, 7).join('\n')}\n${(lines[7] ?? '').slice(0, 40)}`);
    // Act
    const r = await tessera('audit', 'verify', file, '--ca', ca, '--json');
    const human = await tessera('audit', 'verify', file, '--ca', ca);
    // Assert
    expect(r.code).toBe(ExitCode.AuditInvalid);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, entries: 6, firstBad: { problem: 'truncated', seq: 7, line: 8 } });
    expect(human.stdout).toContain('6 entries verified before it');
  });

  it.each([
    ['edited', (l: string[]) => { l[5] = (l[5] ?? '').replace('"v":1', '"v":1,"note":"x"'); }, 'edited', 5],
    ['deleted', (l: string[]) => { l.splice(7, 1); }, 'deleted', 7],
    ['reordered', (l: string[]) => { const a = l[3] ?? ''; l[3] = l[4] ?? ''; l[4] = a; }, 'reordered', 3],
    ['truncated', (l: string[]) => { l.splice(l.length - 3); }, 'truncated', null],
  ])('exits %s → 8 (AuditInvalid) naming the first bad entry', async (_name, tamper, problem, seq) => {
    // Arrange
    const lines = readFileSync(exported, 'utf8').trimEnd().split('\n');
    const total = lines.length - 2;
    tamper(lines);
    const file = path.join(work, `tampered-${problem}.jsonl`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    // Act
    const r = await tessera('audit', 'verify', file, '--ca', ca, '--json');
    const human = await tessera('audit', 'verify', file, '--ca', ca);
    // Assert
    expect(r.code).toBe(ExitCode.AuditInvalid);
    const report = JSON.parse(r.stdout) as { ok: boolean; firstBad: { problem: string; seq: number } };
    expect(report.ok).toBe(false);
    expect(report.firstBad.problem).toBe(problem);
    expect(report.firstBad.seq).toBe(seq ?? total - 1); // truncation: the first entry cut off
    expect(human.code).toBe(ExitCode.AuditInvalid);
    expect(human.stdout).toContain(`FAILED`);
    expect(human.stdout).toContain(`entry #${report.firstBad.seq}`);
  });

  it('refuses bad usage (2) and a missing file (4)', async () => {
    expect((await tessera('audit', 'verify')).code).toBe(ExitCode.Usage);
    expect((await tessera('audit', 'frobnicate')).code).toBe(ExitCode.Usage);
    expect((await tessera('audit', 'export', '--out', 'x.jsonl')).code).toBe(ExitCode.Usage);
    expect((await tessera('audit', 'verify', path.join(work, 'nope.jsonl'))).code).toBe(ExitCode.InputMissing);
  });

  it('writes an evidence pack: JSON, a self-contained HTML page, the verified ledger and the CA', async () => {
    // Act
    const out = path.join(work, 'evidence');
    const r = await tessera('audit', 'evidence', '--study', 'it-study', '--out', out, '--workdir', work, '--json');
    // Assert
    expect(r.code, r.stderr).toBe(ExitCode.Ok);
    expect(JSON.parse(r.stdout)).toMatchObject({ ledgerOk: true, contractMatchesLedger: true, sites: ['site-1', 'site-2'], modelVersions: 3 });
    const pack = JSON.parse(readFileSync(path.join(out, 'evidence.json'), 'utf8')) as {
      contract: { spec: { id: string }; matchesLedger: boolean };
      sites: { id: string; updatesSent: number; roundsContributed: number[] }[];
      privacy: { parameters: Record<string, unknown>; epsilonSpent: unknown[] };
      modelLineage: { round: number; modelVersion: string; modelIn: string | null; updates: { sha256: string }[] }[];
    };
    expect(pack.contract.spec.id).toBe('it-study');
    expect(pack.sites.map((s) => [s.id, s.updatesSent, s.roundsContributed])).toEqual([['site-1', 2, [1, 2]], ['site-2', 2, [1, 2]]]);
    expect(pack.privacy.parameters).toEqual({ secureAggregation: false });
    // Lineage: each round starts from the previous round's model and aggregates one update per site.
    expect(pack.modelLineage.map((l) => l.round)).toEqual([0, 1, 2]);
    expect(pack.modelLineage[1]?.modelIn).toBe(pack.modelLineage[0]?.modelVersion);
    expect(pack.modelLineage[2]?.modelIn).toBe(pack.modelLineage[1]?.modelVersion);
    expect(pack.modelLineage[2]?.updates).toHaveLength(2);
    const html = readFileSync(path.join(out, 'evidence.html'), 'utf8');
    expect(html).toContain('The audit ledger verifies');
    expect(html).toContain(pack.modelLineage[2]!.modelVersion);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect((await tessera('audit', 'verify', path.join(out, 'audit-ledger.jsonl'), '--ca', path.join(out, 'ca.crt'))).code).toBe(ExitCode.Ok);
    // Exactly as the issue writes it, run from the coordinator's folder: no --workdir needed.
    const here = await tesseraIn(work, 'audit', 'evidence', '--study', 'it-study', '--out', path.join(work, 'evidence-cwd'), '--json');
    expect(here.code, here.stderr).toBe(ExitCode.Ok);
    expect(JSON.parse(here.stdout)).toMatchObject({ ledgerOk: true, contractMatchesLedger: true });
  });

  it('cross-checks the coordinator ledger against a site ledger: agree (0), tampered site file (8), disagreement (9)', async () => {
    // Arrange
    const siteFile = fed.agents[0]!.ledger.path;
    // Act
    const agree = await tessera('audit', 'cross-check', exported, siteFile, '--ca', ca, '--json');
    // Assert
    expect(agree.code, agree.stdout).toBe(ExitCode.Ok);
    expect(JSON.parse(agree.stdout)).toMatchObject({ ok: true, crossCheck: { siteId: 'site-1', matched: 2 } });

    // A site ledger cut back to the head before its last update: it verifies, but the coordinator has more.
    const lines = readFileSync(siteFile, 'utf8').trimEnd().split('\n');
    const lastSent = lines.findLastIndex((l) => l.includes('"kind":"data.sent"') && l.includes('model-update'));
    const cut = path.join(work, 'site-cut.jsonl');
    writeFileSync(cut, `${lines.slice(0, lastSent).join('\n')}\n`);
    const disagree = await tessera('audit', 'cross-check', exported, cut, '--ca', ca);
    expect(disagree.code).toBe(ExitCode.AuditMismatch);
    expect(disagree.stdout).toContain('missing from the site');

    const edited = path.join(work, 'site-edited.jsonl');
    writeFileSync(edited, `${lines.map((l, i) => (i === lastSent ? l.replace(/"sha256":"[0-9a-f]/, '"sha256":"x') : l)).join('\n')}\n`);
    expect((await tessera('audit', 'cross-check', exported, edited, '--ca', ca)).code).toBe(ExitCode.AuditInvalid);
    expect(existsSync(siteFile)).toBe(true);
  });
});
