import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { tesseraBin } from '../cli/src/bin-path.js';
import { LocalFederation } from '../cli/src/local-federation/index.js';
import { SqliteCoordinatorStore } from '../coordinator/src/store/sqlite-store.js';
import { writeSyntheticCohort } from '../site-agent/src/hospital/datasets/index.js';
import type { StudySpec } from '../shared/src/study/study-spec.js';
import { round } from './report.js';

/**
 * `npm run bench -- chaos`: a real coordinator and N agent processes (secure aggregation, mTLS on loopback,
 * every agent behind a TCP proxy) run one study while faults are injected: in every round one random agent is
 * killed (`kill -9`) or cut off by its proxy and back a few seconds later; every `coordinatorKillEvery` rounds
 * the coordinator is killed at a random phase and restarted; one agent starts late. A clean run of the same
 * federation (no faults) in the same bench is the baseline. Figures: rounds committed (each exactly once),
 * failed attempts and why, time lost per fault, and the signed ledgers (the coordinator's verifies, every
 * site's cross-checks with it).
 */
export interface ChaosOptions {
  /** @default 10 */
  sites: number;
  /** Rounds of the chaos study. @default 50 */
  rounds: number;
  /** Rounds of the clean baseline (its median round is the reference). @default min(rounds, 5) */
  cleanRounds?: number;
  /** Kill the coordinator in every round divisible by this (0: never). @default 10 */
  coordinatorKillEvery?: number;
  /** Seed of the fault schedule. @default 1 */
  seed?: number;
  /** A killed or cut agent is back after a delay drawn from this range, ms. @default [2000, 4000] */
  downMs?: readonly [number, number];
  /** The late agent starts once this round has committed. @default 2 */
  lateStartAfterRound?: number;
  /** @default 60 */
  examplesPerSite?: number;
  /** Keep the workdirs. @default false */
  keep?: boolean;
}

/** The bench's row (the figures issue 16 names first, then detail). */
export interface ChaosResult {
  sites: number;
  rounds: number;
  secureAggregation: true;
  /** Distinct rounds committed. */
  roundsCommitted: number;
  /** Every round 1..rounds committed, each exactly once (checked in the coordinator's database). */
  committedExactlyOnce: boolean;
  failedAttempts: number;
  /** Attempts cut short by a coordinator kill (marked interrupted at its restart), from the database. */
  interruptedAttempts: number;
  /** Failed attempts by reason (the reason's text up to its first digit or colon). */
  failuresByReason: Record<string, number>;
  faults: { agentKills: number; proxyCuts: number; coordinatorKills: number };
  /** Median round of the clean run, ms (dispatch → committed). */
  cleanRoundMs: number;
  /** First round started → study finished, chaos run, ms. */
  chaosWallMs: number;
  /** (chaosWallMs − rounds × cleanRoundMs) / faults. */
  timeLostPerFaultMs: number;
  /** `tessera audit verify --ca` of the coordinator's exported ledger exited 0. */
  ledgerVerified: boolean;
  /** Sites whose own ledger `tessera audit cross-check` agrees with the coordinator's (exit 0), of `sites`. */
  siteLedgersAgreeing: number;
  /** The late agent connected and took part in at least one committed round. */
  lateSiteJoined: boolean;
  status: string;
  /** Per-site cross-check exit codes (0 agree, 8 invalid, 9 disagree). */
  crossChecks: Record<string, number>;
}

/** A small seeded PRNG (mulberry32): the fault schedule repeats for a seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** The phases a coordinator kill is drawn from (secure aggregation on). */
const PHASES = ['fit', 'secagg-share-keys', 'secagg-masked-input', 'secagg-unmask', 'evaluate'] as const;

function chaosStudy(id: string, rounds: number, sites: number): StudySpec {
  return {
    id,
    name: id,
    dataset: 'synthetic-cohort',
    model: 'logreg',
    inputDim: 10,
    rounds,
    strategy: 'fedavg',
    strategyOptions: {},
    // One agent down per round, one late: the rest must carry every round.
    minSites: Math.max(3, sites - 3),
    training: { localEpochs: 1, batchSize: 16, learningRate: 0.1, optimizer: 'sgd' },
    timeouts: { waitForSitesMs: 120_000, fitMs: 30_000, evaluateMs: 30_000 },
    maxRoundAttempts: 20,
    seed: 42,
    secureAggregation: true,
    secureAggregationOptions: { clip: 8, maxWeight: 16_384, weightBucket: 8, completeGraphUpTo: 32, stageTimeoutMs: 15_000 },
  };
}

interface RunStats {
  roundsMs: number[];
  committed: Set<number>;
  failures: Record<string, number>;
  faults: ChaosResult['faults'];
  wallMs: number;
  status: string;
  committedExactlyOnce: boolean;
  interruptedAttempts: number;
  ledgerVerified: boolean;
  crossChecks: Record<string, number>;
  lateSiteJoined: boolean;
}

function tessera(args: string[]): number {
  const r = spawnSync(process.execPath, [tesseraBin(), ...args], { stdio: 'ignore', env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });
  return r.status ?? -1;
}

/** One federation through one study, with or without faults. */
async function runOne(o: Required<ChaosOptions>, faults: boolean, log: (line: string) => void): Promise<RunStats> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `tessera-chaos-${faults ? 'faults' : 'clean'}-`));
  const random = rng(o.seed);
  const ids = Array.from({ length: o.sites }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
  const late = faults ? ids.at(-1) : undefined;
  const studyId = faults ? 'chaos' : 'clean';
  const rounds = faults ? o.rounds : o.cleanRounds;
  const stats: RunStats = {
    roundsMs: [],
    committed: new Set(),
    failures: {},
    faults: { agentKills: 0, proxyCuts: 0, coordinatorKills: 0 },
    wallMs: Number.NaN,
    status: 'unknown',
    committedExactlyOnce: false,
    interruptedAttempts: 0,
    ledgerVerified: false,
    crossChecks: {},
    lateSiteJoined: false,
  };
  let fed: LocalFederation | undefined;
  try {
    const csvs = await writeSyntheticCohort(path.join(dir, 'data'), { sites: o.sites, seed: 42, examplesPerSite: o.examplesPerSite });
    const studyFile = path.join(dir, 'study.json');
    writeFileSync(studyFile, JSON.stringify(chaosStudy(studyId, rounds, o.sites)));
    mkdirSync(path.join(dir, 'site-ledgers'));
    fed = await LocalFederation.create({
      workdir: path.join(dir, 'federation'),
      keep: true,
      name: 'chaos',
      sites: ids.map((id, i) => ({
        id,
        datasets: { 'synthetic-cohort': { csv: csvs[i] ?? '', schema: 'builtin:synthetic-cohort', seed: 42 } },
        config: { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, auditLedger: path.join(dir, 'site-ledgers', `${id}.jsonl`) },
        ...(faults ? { proxy: true } : {}),
        ...(id === late ? { startLate: true } : {}),
      })),
      coordinator: { config: { heartbeatIntervalMs: 1000 }, studies: [studyFile], exitWhenDone: true },
      logLevel: 'warn',
    });
    const f = fed;
    const faulted = new Set<number>();
    const coordinatorKillPhase = new Map<number, string>();
    let started = Number.NaN;
    let restarting = false;
    // Sites in a fault now (killed or cut): never two faults on one site at once.
    const inFault = new Set<string>();
    const agentFault = async (): Promise<void> => {
      const live = ids.filter((id) => f.process(id) !== undefined && !inFault.has(id));
      const victim = live[Math.floor(random() * live.length)];
      if (victim === undefined) return;
      inFault.add(victim);
      const down = o.downMs[0] + random() * (o.downMs[1] - o.downMs[0]);
      if (random() < 0.5) {
        stats.faults.agentKills++;
        log(`  kill -9 ${victim} for ${(down / 1000).toFixed(1)} s`);
        await f.kill(victim);
        await sleep(down);
        f.startAgent(victim);
      } else {
        stats.faults.proxyCuts++;
        log(`  cut ${victim} for ${(down / 1000).toFixed(1)} s`);
        f.proxy(victim)?.setDown(true);
        await sleep(down);
        f.proxy(victim)?.setDown(false);
      }
      inFault.delete(victim);
    };
    const coordinatorFault = async (): Promise<void> => {
      restarting = true;
      stats.faults.coordinatorKills++;
      await f.kill('coordinator');
      await sleep(1000 + random() * 2000);
      await f.startCoordinator();
      restarting = false;
    };
    const problems: Promise<void>[] = [];
    f.onMessage((m) => {
      if (m.kind !== 'event') return;
      const e = m.event;
      if (e.type === 'round-started') {
        if (Number.isNaN(started)) started = performance.now();
        if (!faults || faulted.has(e.round)) return;
        faulted.add(e.round);
        if (o.coordinatorKillEvery > 0 && e.round % o.coordinatorKillEvery === 0) {
          coordinatorKillPhase.set(e.round, PHASES[Math.floor(random() * PHASES.length)] ?? 'fit');
        }
        problems.push(sleep(random() * 1500).then(agentFault));
      } else if (e.type === 'round-phase') {
        if (faults && !restarting && coordinatorKillPhase.get(e.round) === e.phase) {
          coordinatorKillPhase.delete(e.round);
          log(`  kill -9 coordinator in round ${e.round} at ${e.phase}`);
          problems.push(coordinatorFault());
        }
      } else if (e.type === 'round-committed') {
        stats.committed.add(e.round);
        stats.roundsMs.push(e.durationMs);
        if (late !== undefined && e.round >= o.lateStartAfterRound && f.process(late) === undefined) {
          log(`  ${late} starts late`);
          f.startAgent(late);
        }
        log(`  round ${e.round} committed (${e.sites} sites, ${(e.durationMs / 1000).toFixed(1)} s)`);
      } else if (e.type === 'round-failed') {
        const why = e.reason.split(/[0-9:]/)[0]?.trim() || e.reason.slice(0, 40);
        stats.failures[why] = (stats.failures[why] ?? 0) + 1;
        log(`  round ${e.round} attempt ${e.attempt} failed: ${e.reason}`);
      } else if (e.type === 'study-finished') {
        stats.status = e.status;
      }
    });
    const summary = f.waitForMessage((m) => m.kind === 'summary', { timeoutMs: 180_000 * rounds });
    await f.start();
    await summary;
    stats.wallMs = performance.now() - started;
    await Promise.allSettled(problems);
    for (let i = 0; i < 100 && f.process('coordinator') !== undefined; i++) await sleep(100);
    // Agents stop cleanly (their ledgers end with a signed head), then the ledgers are checked offline.
    for (const id of ids) await f.kill(id, 'SIGTERM');
    if (late !== undefined) {
      const store = await SqliteCoordinatorStore.open(path.join(f.dir, 'coordinator-data', 'coordinator.sqlite'));
      try {
        const rows = await store.listRounds(studyId);
        const committed = rows.filter((r) => r.status === 'committed');
        stats.committedExactlyOnce = committed.length === rounds && new Set(committed.map((r) => r.round)).size === rounds;
        stats.interruptedAttempts = rows.filter((r) => r.status === 'interrupted').length;
        for (const r of committed) {
          if ((await store.listRoundSites(studyId, r.round, r.attempt)).some((s) => s.siteId === late && s.phase === 'fit' && s.outcome === 'ok')) stats.lateSiteJoined = true;
        }
      } finally {
        await store.close();
      }
      const exported = path.join(dir, 'coordinator-ledger.jsonl');
      const ca = f.coordinatorTls().ca;
      const exportCode = tessera(['audit', 'export', '--workdir', f.dir, '--out', exported]);
      stats.ledgerVerified = exportCode === 0 && tessera(['audit', 'verify', exported, '--ca', ca]) === 0;
      for (const id of ids) stats.crossChecks[id] = tessera(['audit', 'cross-check', exported, path.join(dir, 'site-ledgers', `${id}.jsonl`), '--site', id, '--ca', ca]);
    }
    return stats;
  } finally {
    await fed?.close();
    if (o.keep) log(`  kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** The clean baseline, then the chaos run, in one bench run. */
export async function runChaos(options: ChaosOptions, log: (line: string) => void = console.log): Promise<ChaosResult> {
  const o: Required<ChaosOptions> = {
    cleanRounds: Math.min(options.rounds, 5),
    coordinatorKillEvery: 10,
    seed: 1,
    downMs: [2000, 4000],
    lateStartAfterRound: 2,
    examplesPerSite: 60,
    keep: false,
    ...options,
  };
  log(`chaos: clean baseline, ${o.sites} agents, ${o.cleanRounds} rounds`);
  const clean = await runOne(o, false, log);
  log(`chaos: ${o.sites} agents, ${o.rounds} rounds, faults every round, coordinator killed every ${o.coordinatorKillEvery}`);
  const chaos = await runOne(o, true, log);
  const cleanRoundMs = median(clean.roundsMs);
  const faults = chaos.faults.agentKills + chaos.faults.proxyCuts + chaos.faults.coordinatorKills;
  return {
    sites: o.sites,
    rounds: o.rounds,
    secureAggregation: true,
    roundsCommitted: chaos.committed.size,
    committedExactlyOnce: chaos.committedExactlyOnce,
    failedAttempts: Object.values(chaos.failures).reduce((a, b) => a + b, 0),
    interruptedAttempts: chaos.interruptedAttempts,
    failuresByReason: chaos.failures,
    faults: chaos.faults,
    cleanRoundMs: round(cleanRoundMs),
    chaosWallMs: round(chaos.wallMs),
    timeLostPerFaultMs: round(faults > 0 ? (chaos.wallMs - o.rounds * cleanRoundMs) / faults : 0),
    ledgerVerified: chaos.ledgerVerified,
    siteLedgersAgreeing: Object.values(chaos.crossChecks).filter((c) => c === 0).length,
    lateSiteJoined: chaos.lateSiteJoined,
    status: chaos.status,
    crossChecks: chaos.crossChecks,
  };
}
