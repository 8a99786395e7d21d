import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkChaosRun, type ChaosChecks, type SiteCrossCheck } from './chaos-check.js';
import { type ChaosRunResult, type FaultRecord, runChaosFederation } from './chaos-driver.js';
import { chaosPlan, type ChaosPlan } from './chaos-plan.js';
import { round } from './report.js';

/**
 * `npm run bench -- chaos [--sites N] [--rounds R] [--seed S] [--clean-rounds C] [--keep]`: the chaos run of
 * issue 16. A real coordinator and N agent processes (10 by default) run a 50-round study under secure
 * aggregation while, every round, a random agent is killed (SIGKILL) or cut off by its TCP proxy and brought
 * back a few seconds later, every 10th round the coordinator is killed at a random phase and restarted, and
 * one agent starts late — all drawn from one seed (reported). In the same bench, a clean run of the same
 * federation (no faults) gives the round time the faults are measured against.
 */
export interface ChaosBenchOptions {
  sites: number;
  rounds: number;
  seed: number;
  /** Rounds of the clean baseline run. @default min(rounds, 10) */
  cleanRounds?: number;
  /** Kill the coordinator every this many rounds. @default 10 */
  coordinatorEvery?: number;
  /** The study expects every site (rounds wait up to joinMs for all of them). @default true */
  expectAllSites?: boolean;
  /** coordinator.yaml heartbeatIntervalMs (the reconnect grace of a lost site is 4 × it). @default 1000 */
  heartbeatIntervalMs?: number;
  keep?: boolean;
}

/** One round of the chaos run as the report lists it. */
export interface ChaosRoundRow {
  round: number;
  /** Previous round's commit → this round's commit (round 1: its first start → its commit), store clock, ms. */
  spanMs: number | null;
  /** spanMs − the clean run's median span. */
  excessMs: number | null;
  attempts: number;
  faults: string[];
}

export interface ChaosBenchRow {
  seed: number;
  sites: number;
  rounds: number;
  model: string;
  secureAggregation: true;
  /** The study listed every site in `expectedSites` (rounds wait up to `joinMs` for the whole federation). */
  expectAllSites: boolean;
  heartbeatIntervalMs: number;
  /** Goal: equal to `rounds`. */
  roundsCommitted: number;
  /** Every round committed exactly once (store rows, model versions and `model.committed` ledger entries). */
  exactlyOnce: boolean;
  duplicateCommits: number[];
  missingRounds: number[];
  modelChainOk: boolean;
  studyStatus: string;
  failedAttempts: number;
  interruptedAttempts: number;
  /** Lost attempts by status and reason. */
  lostAttemptReasons: Record<string, number>;
  /** Sites dropped from an attempt, by phase and outcome, and by reason. */
  siteDrops: Record<string, number>;
  siteDropReasons: Record<string, number>;
  faults: { agentKill: number; proxyCut: number; coordinatorKill: number; skipped: number };
  coordinatorKills: { round: number; phase: string; attempt: number }[];
  /** Median round span of the clean run (rounds 2.., same federation size), ms. */
  cleanRoundMs: number;
  /** Median round span of the chaos run (rounds 2..), ms. */
  chaosRoundMs: number;
  cleanWallMs: number;
  chaosWallMs: number;
  /** Σ over rounds 2.. of (span − clean median), ms. */
  timeLostMs: number;
  /**
   * Mean excess of the rounds struck by each kind of fault (a coordinator-kill round's excess less the mean
   * excess of its agent fault's kind), ms, and the total over all faults. A fault whose down time outlasts its
   * round can slow the next one too; `overall` (timeLostMs / faults) does not depend on that attribution.
   */
  timeLostPerFaultMs: { agentKill: number | null; proxyCut: number | null; coordinatorKill: number | null; overall: number | null };
  ledger: ChaosChecks['ledger'];
  /** `tessera audit cross-check`'s verdict for every site. */
  crossCheckOk: boolean;
  /** Every site ledger verifies and every disagreement is an evaluation candidate of an attempt that never committed. */
  crossCheckExplained: boolean;
  crossChecks: SiteCrossCheck[];
  lateSite: string | null;
  lateStartedAtMs: number | null;
  /** Site → committed rounds it contributed to (the late site's count shows it joined). */
  contributedRounds: Record<string, number>;
  perRound: ChaosRoundRow[];
  /** 1-, 5- and 15-minute load averages when the bench started and ended (the machine is shared). */
  loadAverage: { start: number[]; end: number[] };
  error: string | null;
  workdir: string | null;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const mean = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Round spans from the store's commit times: previous commit → this commit. */
export function roundSpans(checks: Pick<ChaosChecks, 'commitTimes' | 'firstStart'>): (number | null)[] {
  return checks.commitTimes.map((t, i) => {
    const before = i === 0 ? checks.firstStart : checks.commitTimes[i - 1];
    return t === null || before === null || before === undefined ? null : t - before;
  });
}

function describeFault(f: FaultRecord): string {
  const what = f.kind === 'coordinator-kill' ? 'coordinator kill' : `${f.kind} ${f.target}`;
  return `${what} @${f.phase} (attempt ${f.attempt})`;
}

/** Time lost per kind of fault, from each round's excess over the clean median. */
export function timeLostPerFault(rows: readonly ChaosRoundRow[], faults: readonly FaultRecord[]): ChaosBenchRow['timeLostPerFaultMs'] {
  // A fault that struck after its round committed costs the next round.
  const byRound = new Map<number, FaultRecord[]>();
  for (const f of faults) {
    const r = f.phase === 'committed' ? f.round + 1 : f.round;
    byRound.set(r, [...(byRound.get(r) ?? []), f]);
  }
  const excess = (pred: (fs: FaultRecord[]) => boolean): number[] =>
    rows.filter((r) => r.round > 1 && r.excessMs !== null && pred(byRound.get(r.round) ?? [])).map((r) => r.excessMs as number);
  const only = (kind: FaultRecord['kind']) => (fs: FaultRecord[]) => fs.length > 0 && fs.every((f) => f.kind === kind);
  const agentKill = mean(excess(only('agent-kill')));
  const proxyCut = mean(excess(only('proxy-cut')));
  const coordinatorRounds = rows.filter((r) => r.round > 1 && r.excessMs !== null && (byRound.get(r.round) ?? []).some((f) => f.kind === 'coordinator-kill'));
  const coordinator = coordinatorRounds.map((r) => {
    const other = (byRound.get(r.round) ?? []).find((f) => f.kind !== 'coordinator-kill');
    const base = other === undefined ? 0 : ((other.kind === 'agent-kill' ? agentKill : proxyCut) ?? 0);
    return (r.excessMs as number) - base;
  });
  const counted = rows.filter((r) => r.round > 1 && r.excessMs !== null);
  const faultCount = [...byRound.entries()].filter(([r]) => r > 1 && r <= rows.length).reduce((n, [, fs]) => n + fs.length, 0);
  const total = counted.reduce((s, r) => s + (r.excessMs as number), 0);
  const r0 = (x: number | null): number | null => (x === null ? null : round(x));
  return { agentKill: r0(agentKill), proxyCut: r0(proxyCut), coordinatorKill: r0(mean(coordinator)), overall: faultCount === 0 ? null : round(total / faultCount) };
}

/** The figures of one chaos run against its clean baseline. */
export function chaosFigures(o: { plan: ChaosPlan; model: string; expectAllSites: boolean; heartbeatIntervalMs: number }, clean: { run: ChaosRunResult; checks: ChaosChecks }, chaos: { run: ChaosRunResult; checks: ChaosChecks }): Omit<ChaosBenchRow, 'loadAverage' | 'workdir'> {
  const cleanSpans = roundSpans(clean.checks).slice(1).filter((x): x is number => x !== null);
  const cleanRoundMs = median(cleanSpans);
  const spans = roundSpans(chaos.checks);
  const perRound: ChaosRoundRow[] = spans.map((span, i) => ({
    round: i + 1,
    spanMs: span === null ? null : round(span),
    excessMs: span === null || Number.isNaN(cleanRoundMs) ? null : round(span - cleanRoundMs),
    attempts: chaos.checks.lostAttempts.filter((a) => a.round === i + 1).length + (chaos.checks.missingRounds.includes(i + 1) ? 0 : 1),
    faults: chaos.run.faults.filter((f) => f.round === i + 1).map(describeFault),
  }));
  const c = chaos.checks;
  const count = (k: FaultRecord['kind']): number => chaos.run.faults.filter((f) => f.kind === k).length;
  return {
    seed: o.plan.seed,
    sites: o.plan.sites,
    rounds: o.plan.rounds,
    model: o.model,
    secureAggregation: true,
    expectAllSites: o.expectAllSites,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    roundsCommitted: c.roundsCommitted,
    exactlyOnce: c.exactlyOnce,
    duplicateCommits: c.duplicateCommits,
    missingRounds: c.missingRounds,
    modelChainOk: c.modelChainOk,
    studyStatus: c.studyStatus,
    failedAttempts: c.lostAttempts.filter((a) => a.status === 'failed').length,
    interruptedAttempts: c.lostAttempts.filter((a) => a.status === 'interrupted').length,
    lostAttemptReasons: c.lostAttemptReasons,
    siteDrops: c.siteDrops,
    siteDropReasons: c.siteDropReasons,
    faults: { agentKill: count('agent-kill'), proxyCut: count('proxy-cut'), coordinatorKill: count('coordinator-kill'), skipped: chaos.run.skippedFaults },
    coordinatorKills: chaos.run.faults.filter((f) => f.kind === 'coordinator-kill').map((f) => ({ round: f.round, phase: f.phase, attempt: f.attempt })),
    cleanRoundMs: round(cleanRoundMs),
    chaosRoundMs: round(median(spans.slice(1).filter((x): x is number => x !== null))),
    cleanWallMs: round(clean.run.wallMs),
    chaosWallMs: round(chaos.run.wallMs),
    timeLostMs: round(perRound.slice(1).reduce((s, r) => s + (r.excessMs ?? 0), 0)),
    timeLostPerFaultMs: timeLostPerFault(perRound, chaos.run.faults),
    ledger: c.ledger,
    crossCheckOk: c.crossCheckOk,
    crossCheckExplained: c.crossCheckExplained,
    crossChecks: c.crossChecks,
    lateSite: chaos.run.lateSite,
    lateStartedAtMs: chaos.run.lateStartedAt === null ? null : round(chaos.run.lateStartedAt),
    contributedRounds: c.contributedRounds,
    perRound,
    error: chaos.run.error ?? clean.run.error,
  };
}

/** The clean run, then the chaos run, of the same federation size; each in its own workdir. */
export async function runChaosSuite(o: ChaosBenchOptions, log: (line: string) => void = console.log): Promise<ChaosBenchRow> {
  const loadStart = os.loadavg().map((x) => round(x, 3));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-chaos-'));
  const model = 'logreg';
  const plan = chaosPlan({ seed: o.seed, sites: o.sites, rounds: o.rounds, coordinatorEvery: o.coordinatorEvery ?? 10 });
  try {
    const cleanRounds = o.cleanRounds ?? Math.min(o.rounds, 10);
    log(`chaos: clean run, ${o.sites} sites, ${cleanRounds} rounds (secure aggregation, ${model})`);
    const expectAllSites = o.expectAllSites !== false;
    const heartbeatIntervalMs = o.heartbeatIntervalMs ?? 1000;
    const cleanRun = await runChaosFederation({ sites: o.sites, rounds: cleanRounds, plan: null, workdir: path.join(dir, 'clean'), model, expectAllSites, heartbeatIntervalMs, log });
    const cleanChecks = await checkChaosRun(cleanRun, cleanRounds);
    log(`chaos: seed ${o.seed}, ${o.sites} sites, ${o.rounds} rounds, ${expectAllSites ? 'every site expected' : 'no expected sites'}; late site ${plan.lateSite + 1} with round ${plan.lateAtRound}`);
    const chaosRun = await runChaosFederation({ sites: o.sites, rounds: o.rounds, plan, workdir: path.join(dir, 'chaos'), model, expectAllSites, heartbeatIntervalMs, log });
    const chaosChecks = await checkChaosRun(chaosRun, o.rounds);
    const figures = chaosFigures({ plan, model, expectAllSites, heartbeatIntervalMs }, { run: cleanRun, checks: cleanChecks }, { run: chaosRun, checks: chaosChecks });
    return { ...figures, loadAverage: { start: loadStart, end: os.loadavg().map((x) => round(x, 3)) }, workdir: o.keep ? dir : null };
  } finally {
    if (o.keep) log(`  kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
