import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type CoordinatorIpcMessage, LocalFederation } from '../cli/src/local-federation/index.js';
import type { CoordinatorEvent } from '../coordinator/src/rounds/events.js';
import { writeSyntheticCohort } from '../site-agent/src/hospital/datasets/index.js';
import type { StudySpec } from '../shared/src/study/study-spec.js';
import type { AgentFault, ChaosPlan, CoordinatorFault, RoundPhase } from './chaos-plan.js';

/**
 * Runs one federation on loopback — a `tessera coordinator` and N `tessera agent` processes over mTLS, each
 * agent behind its own cutting TCP proxy (the local-federation launcher) — through one secure-aggregation
 * study, and applies a {@link ChaosPlan}'s faults as the coordinator announces each round's phases: SIGKILL of
 * an agent (started again after its down time), a proxy that cuts and refuses an agent's connections for its
 * down time, SIGKILL of the coordinator (started again on the same port and state, with the same `--study`),
 * and one agent that starts late. Without a plan it is the clean run of the same size.
 */

export interface ChaosRunOptions {
  sites: number;
  rounds: number;
  /** null: the clean run (no faults, every agent from the start). */
  plan: ChaosPlan | null;
  /** Where the federation, data and ledgers go (kept: the checks read them after the run). */
  workdir: string;
  /** @default 'logreg' */
  model?: string;
  /** @default 60 */
  examplesPerSite?: number;
  /** Sites a round needs. @default sites − 3 (one killed, one cut and one late can be away together), at least 3 */
  minSites?: number;
  /**
   * List every site in the study's `expectedSites`, so a round waits up to `joinMs` for the whole federation
   * once `minSites` are there (recording those that did not join); false: it starts with whoever satisfies
   * `minSites` and the sites' own floors. @default true
   */
  expectAllSites?: boolean;
  /** The study's `timeouts.joinMs`. @default 3000 */
  joinMs?: number;
  /** coordinator.yaml heartbeatIntervalMs; the reconnect grace is 4 × it. @default 1000 */
  heartbeatIntervalMs?: number;
  /** Give up after this long, ms. @default 3600000 */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** One fault as it happened. */
export interface FaultRecord {
  round: number;
  /** The attempt in flight when it struck. */
  attempt: number;
  kind: 'agent-kill' | 'proxy-cut' | 'coordinator-kill';
  /** Site id, or 'coordinator'. */
  target: string;
  plannedPhase: RoundPhase;
  /** The last phase the coordinator had announced for that round when the fault struck. */
  phase: RoundPhase;
  /** ms since the run started. */
  at: number;
  /** When the process was started again / the proxy let it through again (ms since start), null if never. */
  restoredAt: number | null;
}

export interface ChaosRunResult {
  studyId: string;
  federationDir: string;
  coordinatorConfig: string;
  caFile: string;
  /** Site id → its signed ledger (JSONL, in its kit folder). */
  siteLedgers: Record<string, string>;
  siteIds: string[];
  /** Study start (first agent forked) → the coordinator's study summary, ms. */
  wallMs: number;
  /** The study's status in the last summary the coordinator sent (null: none arrived). */
  status: string | null;
  faults: FaultRecord[];
  /** Agent faults that found no live site to strike. */
  skippedFaults: number;
  /** round → `round-committed` events received over IPC (a commit just before a coordinator kill may send none). */
  ipcCommits: Record<number, number>;
  /** When the late site was started (ms since start), null in the clean run. */
  lateStartedAt: number | null;
  lateSite: string | null;
  /** Why the run stopped early, or null. */
  error: string | null;
}

export const CHAOS_STUDY_ID = 'chaos';

function studySpec(o: Required<Pick<ChaosRunOptions, 'rounds' | 'model' | 'minSites' | 'joinMs'>> & { seed: number; expectedSites: string[] | null }): StudySpec {
  return {
    id: CHAOS_STUDY_ID,
    name: 'chaos run',
    dataset: 'synthetic-cohort',
    model: o.model,
    inputDim: 10,
    rounds: o.rounds,
    strategy: 'fedavg',
    strategyOptions: {},
    minSites: o.minSites,
    ...(o.expectedSites ? { expectedSites: o.expectedSites } : {}),
    training: { localEpochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'sgd' },
    // A dead site is dropped within the reconnect grace, not at these deadlines; they only bound a stuck round.
    timeouts: { waitForSitesMs: 120_000, fitMs: 120_000, evaluateMs: 60_000, joinMs: o.joinMs, retryBackoffMs: 500 },
    // Every failed attempt is evidence, not the end: the run wants to see each round through.
    maxRoundAttempts: 20,
    seed: o.seed,
    secureAggregation: true,
    secureAggregationOptions: { clip: 8, maxWeight: 16_384, weightBucket: 8, completeGraphUpTo: 32, stageTimeoutMs: 60_000 },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function phaseOf(e: CoordinatorEvent): { round: number; attempt: number; phase: RoundPhase } | null {
  if (e.type === 'round-started') return { round: e.round, attempt: e.attempt, phase: 'waiting' };
  if (e.type === 'round-phase') return { round: e.round, attempt: e.attempt, phase: e.phase as RoundPhase };
  if (e.type === 'round-committed') return { round: e.round, attempt: e.attempt, phase: 'committed' };
  return null;
}

/** Runs the federation through the study under the plan's faults; the workdir is kept for the checks. */
export async function runChaosFederation(opts: ChaosRunOptions): Promise<ChaosRunResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const model = opts.model ?? 'logreg';
  const minSites = opts.minSites ?? Math.max(3, opts.sites - 3);
  const ids = Array.from({ length: opts.sites }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
  const plan = opts.plan;
  const lateSite = plan ? (ids[plan.lateSite] ?? null) : null;
  mkdirSync(opts.workdir, { recursive: true });
  const csvs = await writeSyntheticCohort(path.join(opts.workdir, 'data'), { sites: opts.sites, seed: plan?.seed ?? 42, examplesPerSite: opts.examplesPerSite ?? 60 });
  const studyFile = path.join(opts.workdir, 'study.json');
  const expectedSites = opts.expectAllSites === false ? null : ids;
  writeFileSync(studyFile, JSON.stringify(studySpec({ rounds: opts.rounds, model, minSites, seed: 42, expectedSites, joinMs: opts.joinMs ?? 3000 })));
  const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 1000;
  const fed = await LocalFederation.create({
    workdir: path.join(opts.workdir, 'federation'),
    keep: true,
    name: 'chaos',
    sites: ids.map((id, i) => ({
      id,
      datasets: { 'synthetic-cohort': { csv: csvs[i] ?? '', schema: 'builtin:synthetic-cohort', seed: 42 } },
      config: { reconnect: { initialDelayMs: 200, maxDelayMs: 2000 } },
      startLate: id === lateSite,
      proxy: true,
    })),
    coordinator: { config: { heartbeatIntervalMs }, studies: [studyFile] },
    logLevel: process.env['TESSERA_LOG_LEVEL'] ?? 'info',
  });
  const result: ChaosRunResult = {
    studyId: CHAOS_STUDY_ID,
    federationDir: fed.dir,
    coordinatorConfig: fed.coordinatorConfig,
    caFile: fed.coordinatorTls().ca,
    siteLedgers: Object.fromEntries(ids.map((id) => [id, path.join(fed.pkiDir, 'sites', id, 'audit-ledger.jsonl')])),
    siteIds: ids,
    wallMs: 0,
    status: null,
    faults: [],
    skippedFaults: 0,
    ipcCommits: {},
    lateStartedAt: null,
    lateSite,
    error: null,
  };
  const chaos = new FaultInjector(fed, plan, ids, lateSite, result, log);
  const t0 = performance.now();
  chaos.t0 = t0;
  try {
    const done = new Promise<void>((resolve) => {
      fed.onMessage((m: CoordinatorIpcMessage) => {
        if (m.kind === 'summary') {
          result.status = m.summary.status;
          // Nothing strikes after the study ended: a fault then would be measured by nothing.
          chaos.stop();
          resolve();
          return;
        }
        if (m.kind !== 'event') return;
        const e = m.event;
        if (e.type === 'round-committed') {
          result.ipcCommits[e.round] = (result.ipcCommits[e.round] ?? 0) + 1;
          log(`  round ${e.round} committed (attempt ${e.attempt}, ${e.sites} sites) at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        }
        if (e.type === 'round-failed') log(`  round ${e.round} attempt ${e.attempt} failed: ${e.reason}`);
        if (e.type === 'study-finished') log(`  study ${e.status}${e.reason ? `: ${e.reason}` : ''}`);
        chaos.onEvent(e);
      });
    });
    await fed.start();
    // Rejects on the deadline, or when the coordinator exits without being killed by the plan (a crash).
    const watchdog = fed.waitForMessage(() => false, { timeoutMs: opts.timeoutMs ?? 3_600_000 });
    await Promise.race([done, watchdog]);
    result.wallMs = performance.now() - t0;
    await chaos.settle();
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    chaos.stop();
    await fed.close();
  }
  return result;
}

/** Applies a plan's faults as the round phases arrive. */
class FaultInjector {
  t0 = 0;
  private readonly fired = new Set<string>();
  private readonly phases = new Map<number, { attempt: number; phase: RoundPhase }>();
  private readonly down = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private coordinatorDown = false;
  private stopped = false;

  constructor(
    private readonly fed: LocalFederation,
    private readonly plan: ChaosPlan | null,
    private readonly ids: readonly string[],
    private readonly lateSite: string | null,
    private readonly result: ChaosRunResult,
    private readonly log: (line: string) => void,
  ) {}

  private now(): number {
    return performance.now() - this.t0;
  }

  onEvent(e: CoordinatorEvent): void {
    const p = phaseOf(e);
    if (!p || !this.plan || this.stopped) return;
    this.phases.set(p.round, { attempt: p.attempt, phase: p.phase });
    if (p.phase === 'waiting' && p.round >= this.plan.lateAtRound && this.lateSite !== null && this.result.lateStartedAt === null) {
      this.result.lateStartedAt = this.now();
      this.fed.startAgent(this.lateSite);
      this.log(`  late site ${this.lateSite} started with round ${p.round}`);
    }
    const faults = this.plan.faults[p.round - 1];
    if (!faults) return;
    // A fault whose phase this round never showed (its attempts failed early) strikes at the commit instead.
    const due = (f: AgentFault | CoordinatorFault, key: string): boolean => !this.fired.has(key) && (f.phase === p.phase || p.phase === 'committed');
    if (faults.agent && due(faults.agent, `a${p.round}`)) {
      this.fired.add(`a${p.round}`);
      this.track(this.agentFault(p.round, faults.agent));
    }
    if (faults.coordinator && due(faults.coordinator, `c${p.round}`)) {
      this.fired.add(`c${p.round}`);
      this.track(this.coordinatorFault(p.round, faults.coordinator));
    }
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => {
      if (!this.stopped) this.log(`  fault injection failed: ${err instanceof Error ? err.message : String(err)}`);
    });
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** The planned site, or the next one in order that is running, reachable and started. */
  private liveSite(from: number): string | null {
    for (let i = 0; i < this.ids.length; i++) {
      const id = this.ids[(from + i) % this.ids.length] as string;
      if (!this.down.has(id) && this.fed.process(id) !== undefined) return id;
    }
    return null;
  }

  private record(round: number, kind: FaultRecord['kind'], target: string, planned: RoundPhase): FaultRecord {
    const seen = this.phases.get(round) ?? { attempt: 0, phase: planned };
    const r: FaultRecord = { round, attempt: seen.attempt, kind, target, plannedPhase: planned, phase: seen.phase, at: this.now(), restoredAt: null };
    this.result.faults.push(r);
    return r;
  }

  private async agentFault(round: number, f: AgentFault): Promise<void> {
    await sleep(f.delayMs);
    if (this.stopped) return;
    const site = this.liveSite(f.site);
    if (site === null) {
      this.result.skippedFaults++;
      this.log(`  round ${round}: no live site to ${f.kind}`);
      return;
    }
    this.down.add(site);
    const r = this.record(round, f.kind === 'kill' ? 'agent-kill' : 'proxy-cut', site, f.phase);
    this.log(`  round ${round} (${r.phase}): ${f.kind === 'kill' ? 'kill -9' : 'proxy cut of'} ${site} for ${f.downMs} ms`);
    const proxy = this.fed.proxy(site);
    if (f.kind === 'kill') await this.fed.kill(site, 'SIGKILL');
    else proxy?.setDown(true);
    await sleep(f.downMs);
    if (this.stopped) return;
    if (f.kind === 'kill') this.fed.startAgent(site);
    else proxy?.setDown(false);
    r.restoredAt = this.now();
    this.down.delete(site);
  }

  private async coordinatorFault(round: number, f: CoordinatorFault): Promise<void> {
    await sleep(f.delayMs);
    if (this.stopped || this.coordinatorDown) return;
    this.coordinatorDown = true;
    const r = this.record(round, 'coordinator-kill', 'coordinator', f.phase);
    this.log(`  round ${round} (${r.phase}): kill -9 coordinator for ${f.downMs} ms`);
    await this.fed.kill('coordinator', 'SIGKILL');
    await sleep(f.downMs);
    if (this.stopped) return;
    await this.fed.startCoordinator();
    r.restoredAt = this.now();
    this.coordinatorDown = false;
  }

  /** Waits for faults still in flight (a restart due after the last round). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  stop(): void {
    this.stopped = true;
  }
}
