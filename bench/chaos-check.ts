import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tesseraBin } from '../cli/src/bin-path.js';
import { SqliteCoordinatorStore } from '../coordinator/src/store/sqlite-store.js';
import type { RoundRecord } from '../coordinator/src/store/coordinator-store.js';
import { AuditKind, crossCheckLedgers, type AuditEntry, verifyLedger } from '../shared/src/audit/index.js';
import type { ChaosRunResult } from './chaos-driver.js';

/**
 * What a finished chaos run left behind, read after every process stopped: the coordinator's store (each
 * round committed exactly once, every failed or interrupted attempt and why, every site dropped and why), its
 * ledger exported and verified by `tessera audit export` / `tessera audit verify` (exit codes), and every
 * site's own signed ledger verified and cross-checked against the coordinator's on every update hash (the
 * library calls `tessera audit cross-check` makes; one process instead of one per site).
 */

/** One attempt that did not commit. */
export interface LostAttempt {
  round: number;
  attempt: number;
  status: 'failed' | 'interrupted';
  reason: string | null;
}

export interface SiteCrossCheck {
  siteId: string;
  ok: boolean;
  /** The site's own ledger verified (chain, signatures, anchored in the consortium CA). */
  siteLedgerOk: boolean;
  siteLedgerProblem: string | null;
  matched: number;
  mismatched: number;
  missingAtSite: number;
  notRecordedByCoordinator: number;
  unknownModels: number;
  /**
   * Of `unknownModels`: candidates the site was sent to evaluate in an attempt that never committed (the
   * coordinator's ledger records a model only when it commits, so `tessera audit cross-check` cannot tell them
   * from a model the coordinator never made). The rest are unexplained.
   */
  uncommittedCandidates: number;
}

export interface ChaosChecks {
  /** Distinct rounds with a committed attempt in the store. */
  roundsCommitted: number;
  /** Every round 1..R committed exactly once in the store, the model versions and the ledger. */
  exactlyOnce: boolean;
  /** Rounds committed more than once in the store, with two model versions, or with two `model.committed` entries. */
  duplicateCommits: number[];
  /** Rounds 1..R never committed. */
  missingRounds: number[];
  /** Each committed round started from the model the previous one committed. */
  modelChainOk: boolean;
  /** The study's final status in the store. */
  studyStatus: string;
  attempts: number;
  lostAttempts: LostAttempt[];
  /** Failed or interrupted attempts by reason (numbers replaced by N). */
  lostAttemptReasons: Record<string, number>;
  /** Site task outcomes other than ok, by outcome, over every attempt. */
  siteDrops: Record<string, number>;
  /** The same by reason (numbers replaced by N). */
  siteDropReasons: Record<string, number>;
  /** Site → committed rounds it contributed to (in the secure sum). */
  contributedRounds: Record<string, number>;
  /** Per round: commit time (the store's clock, ms since epoch) of its committed attempt; null if none. */
  commitTimes: (number | null)[];
  /** Start of round 1's first attempt (ms since epoch). */
  firstStart: number | null;
  ledger: { exitCode: number; ok: boolean; entries: number; anchored: boolean; problem: string | null; commitEntries: number };
  crossChecks: SiteCrossCheck[];
  /** Every site ledger verified and agreed with the coordinator's (the verdict of `tessera audit cross-check`). */
  crossCheckOk: boolean;
  /** Every site ledger verified, and every disagreement is a candidate of an attempt that never committed. */
  crossCheckExplained: boolean;
}

/** Replaces numbers so that reasons differing only in counts or milliseconds group together. */
export function reasonKey(reason: string | null): string {
  return (reason ?? '(none)').replace(/\d+(\.\d+)?/g, 'N').slice(0, 200);
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function runTessera(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [tesseraBin(), ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

interface StoreFacts {
  rounds: RoundRecord[];
  status: string;
  drops: { outcome: string; reason: string | null }[];
  /** Site → committed rounds whose secure sum it is in (its fit outcome ok). */
  contributed: Record<string, number>;
  modelVersionsByRound: Map<number, number>;
}

async function readStore(run: ChaosRunResult): Promise<StoreFacts> {
  const store = await SqliteCoordinatorStore.open(path.join(run.federationDir, 'coordinator-data', 'coordinator.sqlite'));
  try {
    const rounds = await store.listRounds(run.studyId);
    const drops: StoreFacts['drops'] = [];
    const contributed: Record<string, number> = Object.fromEntries(run.siteIds.map((id) => [id, 0]));
    for (const r of rounds) {
      for (const s of await store.listRoundSites(run.studyId, r.round, r.attempt)) {
        if (s.outcome !== 'ok') drops.push({ outcome: `${s.phase} ${s.outcome}`, reason: s.reason });
        else if (r.status === 'committed' && s.phase === 'fit') contributed[s.siteId] = (contributed[s.siteId] ?? 0) + 1;
      }
    }
    const modelVersionsByRound = new Map<number, number>();
    for (const v of await store.listModelVersions(run.studyId)) modelVersionsByRound.set(v.round, (modelVersionsByRound.get(v.round) ?? 0) + 1);
    const study = await store.getStudy(run.studyId);
    return { rounds, status: study?.status ?? 'missing', drops, contributed, modelVersionsByRound };
  } finally {
    await store.close();
  }
}

async function checkLedgers(run: ChaosRunResult, committedAttempts: ReadonlySet<string>): Promise<Pick<ChaosChecks, 'ledger' | 'crossChecks' | 'crossCheckOk' | 'crossCheckExplained'> & { entries: readonly AuditEntry[] }> {
  const out = path.join(path.dirname(run.federationDir), 'coordinator-ledger.jsonl');
  const exported = await runTessera(['audit', 'export', '--config', run.coordinatorConfig, '--out', out, '--json']);
  if (exported.code !== 0) {
    return {
      ledger: { exitCode: exported.code, ok: false, entries: 0, anchored: false, problem: `tessera audit export exited ${exported.code}: ${exported.stderr.trim().slice(0, 300)}`, commitEntries: 0 },
      crossChecks: [],
      crossCheckOk: false,
      crossCheckExplained: false,
      entries: [],
    };
  }
  const verified = await runTessera(['audit', 'verify', out, '--ca', run.caFile, '--json']);
  const caPem = readFileSync(run.caFile, 'utf8');
  const coordinator = verifyLedger(readFileSync(out, 'utf8'), { caPem });
  const report = coordinator.report;
  const commitEntries = coordinator.entries.filter((e) => e.kind === AuditKind.ModelCommitted && e.studyId === run.studyId).length;
  const crossChecks: SiteCrossCheck[] = run.siteIds.map((siteId) => {
    const file = run.siteLedgers[siteId] ?? '';
    if (!existsSync(file)) {
      return { siteId, ok: false, siteLedgerOk: false, siteLedgerProblem: `no ledger at ${file}`, matched: 0, mismatched: 0, missingAtSite: 0, notRecordedByCoordinator: 0, unknownModels: 0, uncommittedCandidates: 0 };
    }
    const site = verifyLedger(readFileSync(file, 'utf8'), { caPem });
    const check = crossCheckLedgers(coordinator.entries, site.entries, siteId);
    const taskOf = new Map(site.entries.map((e) => [e.seq, typeof e.details['taskId'] === 'string' ? e.details['taskId'] : '']));
    const uncommittedCandidates = check.unknownModels.filter((m) => {
      const task = /^(.+)\/r(\d+)\/a(\d+)\/evaluate\//.exec(taskOf.get(m.seq) ?? '');
      return task !== null && task[1] === run.studyId && !committedAttempts.has(`${task[2]}/${task[3]}`);
    }).length;
    return {
      siteId,
      ok: site.report.ok && check.ok,
      siteLedgerOk: site.report.ok,
      siteLedgerProblem: site.report.ok ? null : `${site.report.firstBad?.problem ?? 'bad'}: ${site.report.firstBad?.message ?? ''}`,
      matched: check.matched,
      mismatched: check.mismatched.length,
      missingAtSite: check.missingAtSite.length,
      notRecordedByCoordinator: check.notRecordedByCoordinator.length,
      unknownModels: check.unknownModels.length,
      uncommittedCandidates,
    };
  });
  return {
    ledger: {
      exitCode: verified.code,
      ok: verified.code === 0 && report.ok,
      entries: report.entries,
      anchored: report.anchored,
      problem: report.ok ? null : `${report.firstBad?.problem ?? 'bad'} at #${report.firstBad?.seq ?? '?'}: ${report.firstBad?.message ?? ''}`,
      commitEntries,
    },
    crossChecks,
    crossCheckOk: crossChecks.length > 0 && crossChecks.every((c) => c.ok),
    crossCheckExplained:
      crossChecks.length > 0 && crossChecks.every((c) => c.siteLedgerOk && c.mismatched === 0 && c.missingAtSite === 0 && c.unknownModels === c.uncommittedCandidates),
    entries: coordinator.entries,
  };
}

/** Reads and verifies everything a finished run left behind (every process must have stopped). */
export async function checkChaosRun(run: ChaosRunResult, rounds: number): Promise<ChaosChecks> {
  const facts = await readStore(run);
  const ledgers = await checkLedgers(run, new Set(facts.rounds.filter((r) => r.status === 'committed').map((r) => `${r.round}/${r.attempt}`)));
  const committedByRound = new Map<number, RoundRecord[]>();
  for (const r of facts.rounds) if (r.status === 'committed') committedByRound.set(r.round, [...(committedByRound.get(r.round) ?? []), r]);
  const ledgerCommits = new Map<number, number>();
  for (const e of ledgers.entries) {
    if (e.kind === AuditKind.ModelCommitted && e.studyId === run.studyId && e.round !== undefined) ledgerCommits.set(e.round, (ledgerCommits.get(e.round) ?? 0) + 1);
  }
  const duplicateCommits: number[] = [];
  const missingRounds: number[] = [];
  const commitTimes: (number | null)[] = [];
  let modelChainOk = true;
  let previousOut: string | null = null;
  for (let round = 1; round <= rounds; round++) {
    const committed = committedByRound.get(round) ?? [];
    if (committed.length === 0) missingRounds.push(round);
    if (committed.length > 1 || (facts.modelVersionsByRound.get(round) ?? 0) > 1 || (ledgerCommits.get(round) ?? 0) > 1) duplicateCommits.push(round);
    const c = committed[0];
    commitTimes.push(c?.endedAt ?? null);
    if (c && previousOut !== null && c.modelIn !== previousOut) modelChainOk = false;
    previousOut = c?.modelOut ?? null;
  }
  const lostAttempts: LostAttempt[] = facts.rounds
    .filter((r): r is RoundRecord & { status: 'failed' | 'interrupted' } => r.status === 'failed' || r.status === 'interrupted')
    .map((r) => ({ round: r.round, attempt: r.attempt, status: r.status, reason: r.reason }));
  const lostAttemptReasons: Record<string, number> = {};
  for (const a of lostAttempts) bump(lostAttemptReasons, `${a.status}: ${reasonKey(a.reason)}`);
  const siteDrops: Record<string, number> = {};
  const siteDropReasons: Record<string, number> = {};
  for (const d of facts.drops) {
    bump(siteDrops, d.outcome);
    bump(siteDropReasons, `${d.outcome}: ${reasonKey(d.reason)}`);
  }
  const first = facts.rounds.filter((r) => r.round === 1).sort((a, b) => a.startedAt - b.startedAt)[0];
  const roundsCommitted = committedByRound.size;
  const ledgerOnce = [...Array(rounds).keys()].every((i) => ledgerCommits.get(i + 1) === 1);
  return {
    roundsCommitted,
    exactlyOnce: missingRounds.length === 0 && duplicateCommits.length === 0 && ledgerOnce,
    duplicateCommits,
    missingRounds,
    modelChainOk,
    studyStatus: facts.status,
    attempts: facts.rounds.length,
    lostAttempts,
    lostAttemptReasons,
    siteDrops,
    siteDropReasons,
    contributedRounds: facts.contributed,
    commitTimes,
    firstStart: first?.startedAt ?? null,
    ledger: ledgers.ledger,
    crossChecks: ledgers.crossChecks,
    crossCheckOk: ledgers.crossCheckOk,
    crossCheckExplained: ledgers.crossCheckExplained,
  };
}
