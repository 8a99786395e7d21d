import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalFederation } from '../cli/src/local-federation/index.js';
import { writeSyntheticCohort } from '../site-agent/src/hospital/datasets/index.js';
import { getModelSpec } from '../shared/src/ml/model-registry.js';
import { totalParams, weightLayout } from '../shared/src/ml/weights.js';
import type { StudySpec } from '../shared/src/study/study-spec.js';
import { round } from './report.js';

/**
 * `npm run bench -- secagg-e2e [--sites N] [--params D] [--rounds R] [--no-secure-agg]`: one real federation on
 * loopback — a throwaway consortium, a `tessera coordinator` process and N `tessera agent` processes over mTLS,
 * as `tessera demo` runs them — timing whole rounds of a study with secure aggregation and, in the same run
 * with the same processes, of the same study without it. The rounds alternate (secure, plaintext, secure, …:
 * each a one-round study on the same coordinator), so the machine's load drifts over both alike, after one
 * uncounted plaintext warm-up round (the agents' first TF.js model build and JIT warm-up).
 */
export interface SecAggE2eOptions {
  sites: number;
  /** Wanted model size: the vetted registry spec closest to it (log scale) is used; the row says the real count. */
  params: number;
  /** Rounds per mode (secure and plaintext alternate); the row reports the median round. */
  rounds: number;
  /** Run the secure study (and its plaintext baseline); false: only the plaintext study. @default true */
  secure?: boolean;
  /** Training examples per site (tiny, so the round is dominated by protocol cost). @default 10 */
  examplesPerSite?: number;
  /** Deadline of each SecAgg stage (the study's `secureAggregationOptions.stageTimeoutMs`). @default 300000 */
  stageTimeoutMs?: number;
  /** Keep the workdir (logs, databases) instead of deleting it. @default false */
  keep?: boolean;
}

/** Seconds between the round-phase events the coordinator emits (received over IPC), for one round. */
export interface SecAggE2eStages {
  /** fit dispatched → share-keys: local training (model download, one tfjs step), key advertisement. */
  trainAdvertiseMs: number;
  /** share-keys → masked-input: key relaying, Shamir sharing, share encryption. */
  shareKeysMs: number;
  /** masked-input → unmask: masking at the sites, upload of the masked vectors, running sum. */
  maskedInputMs: number;
  /** unmask → evaluate: reveals, secret reconstruction, mask removal, dequantization, strategy. */
  unmaskMs: number;
  /** evaluate → committed: federated evaluation of the new model at every site, commit. */
  evaluateMs: number;
}

/** One row of `npm run bench -- secagg-e2e`: the fields the brief names, then detail. */
export interface SecAggE2eCase {
  sites: number;
  params: number;
  secureAggregation: boolean;
  /** Median over the study's rounds of dispatch (fit phase) → committed model version, ms. */
  roundMs: number;
  /** The same for the plaintext study in the same run (same processes). */
  plainRoundMs: number;
  /** roundMs / plainRoundMs. */
  ratio: number;
  /** VmHWM of the coordinator process when this mode's last round finished (rounds alternate, so it covers both modes' earlier rounds). */
  coordinatorPeakRssMb: number;
  /** Σ VmHWM of the agent processes at the same moment. */
  agentsPeakRssMbTotal: number;
  /** Largest coordinator VmRSS sampled (every 250 ms) during this mode's rounds only. */
  coordinatorSampledPeakRssMb: number;
  /** Largest Σ agent VmRSS sampled during this mode's rounds only. */
  agentsSampledPeakRssMbTotal: number;
  /** Every round of this case's study committed. */
  completed: boolean;
  model: string;
  /** Coordinator + agents. */
  processes: number;
  rounds: number;
  /** Each round's dispatch → committed, ms. */
  roundsMs: number[];
  /** Median stage split of this case's rounds (secure only). */
  stages: SecAggE2eStages | null;
  /** Median agent VmRSS once all were connected, before round 1 (the idle agent's baseline). */
  agentIdleRssMb: number;
  /** Largest agent VmHWM. */
  agentMaxPeakRssMb: number;
  /** Time for all agents to start and connect, ms. */
  startupMs: number;
  /** Why the case did not complete (a failed round's reason), or null. */
  failure: string | null;
}

/** Registry specs the bench can pick from (tabular, on the synthetic cohort's 10 inputs). */
const MODELS = ['logreg', 'mlp-small', 'mlp-100k', 'mlp-1m'] as const;
const INPUT_DIM = 10;

/** The registry model whose parameter count is closest to `params` (log scale). */
export function modelFor(params: number): { name: string; params: number } {
  const sized = MODELS.map((name) => ({ name, params: totalParams(weightLayout(getModelSpec(name), INPUT_DIM)) }));
  sized.sort((a, b) => Math.abs(Math.log(a.params / params)) - Math.abs(Math.log(b.params / params)));
  return sized[0] as { name: string; params: number };
}

function status(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number {
  if (pid === undefined) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

interface StudyRun {
  secure: boolean;
  coordinatorSampledMb: number;
  agentsSampledMb: number;
  roundsMs: number[];
  stages: SecAggE2eStages[];
  committed: number;
  failure: string | null;
  coordinatorHwmMb: number;
  agentsHwmMb: number[];
}

function studySpec(id: string, model: string, o: Required<Omit<SecAggE2eOptions, 'keep' | 'params'>>, secure: boolean): StudySpec {
  return {
    id,
    name: `secagg-e2e ${secure ? 'secure' : 'plain'}`,
    dataset: 'synthetic-cohort',
    model,
    inputDim: INPUT_DIM,
    rounds: 1,
    strategy: 'fedavg',
    strategyOptions: {},
    minSites: o.sites,
    training: { localEpochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'sgd' },
    // Generous: 100 agents share two loaded cores; a timeout would measure the machine, not the protocol.
    timeouts: { waitForSitesMs: 900_000, fitMs: 900_000, evaluateMs: 900_000 },
    maxRoundAttempts: 1,
    seed: 42,
    secureAggregation: secure,
    secureAggregationOptions: { clip: 8, maxWeight: 16_384, weightBucket: 8, completeGraphUpTo: 32, stageTimeoutMs: o.stageTimeoutMs },
  };
}

/** Runs one federation (coordinator + N agents) through the secure study and then the plaintext one. */
export async function runSecAggE2eCase(opts: SecAggE2eOptions, log: (line: string) => void = console.log): Promise<SecAggE2eCase[]> {
  const o = { secure: true, examplesPerSite: 10, stageTimeoutMs: 300_000, ...opts };
  const { name: model, params } = modelFor(o.params);
  const ids = Array.from({ length: o.sites }, (_, i) => `site-${String(i + 1).padStart(3, '0')}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-secagg-e2e-'));
  let fed: LocalFederation | undefined;
  try {
    const csvs = await writeSyntheticCohort(path.join(dir, 'data'), { sites: o.sites, seed: 42, examplesPerSite: o.examplesPerSite });
    const full = { sites: o.sites, rounds: o.rounds, secure: o.secure, examplesPerSite: o.examplesPerSite, stageTimeoutMs: o.stageTimeoutMs };
    const runs: StudyRun[] = (o.secure ? [true, false] : [false]).map((secure) => ({
      secure,
      coordinatorSampledMb: 0,
      agentsSampledMb: 0,
      roundsMs: [],
      stages: [],
      committed: 0,
      failure: null,
      coordinatorHwmMb: 0,
      agentsHwmMb: [],
    }));
    // One-round studies, alternating the modes: e2e-secure-1, e2e-plain-1, e2e-secure-2, …
    const studies = Array.from({ length: o.rounds }, (_, i) => runs.map((run) => ({ id: `e2e-${run.secure ? 'secure' : 'plain'}-${i + 1}`, run }))).flat();
    const warmup = 'e2e-warmup';
    const studyFiles = [{ id: warmup, secure: false }, ...studies.map(({ id, run }) => ({ id, secure: run.secure }))].map(({ id, secure }) => {
      const file = path.join(dir, `${id}.json`);
      writeFileSync(file, JSON.stringify(studySpec(id, model, full, secure)));
      return file;
    });
    fed = await LocalFederation.create({
      workdir: path.join(dir, 'federation'),
      keep: true,
      name: 'secagg-e2e',
      sites: ids.map((id, i) => ({ id, datasets: { 'synthetic-cohort': { csv: csvs[i] ?? '', schema: 'builtin:synthetic-cohort', seed: 42 } } })),
      coordinator: {
        // 100 agents on two cores stall for tens of seconds while starting and training: tolerate a minute of silence.
        config: { heartbeatIntervalMs: 5000, heartbeatTimeoutMs: 60_000 + 1000 * o.sites },
        studies: studyFiles,
        exitWhenDone: true,
      },
      logLevel: process.env['TESSERA_LOG_LEVEL'] ?? 'warn',
    });
    const f = fed;
    const pid = (id: string): number | undefined => f.process(id)?.pid;
    const t0 = performance.now();
    let startupMs = Number.NaN;
    let agentIdleRssMb = Number.NaN;
    // Per round: the time each phase event arrived.
    let phaseAt = new Map<string, number>();
    const byId = new Map(studies.map((st) => [st.id, st.run]));
    let current: StudyRun | undefined;
    const sampler = setInterval(() => {
      if (!current) return;
      current.coordinatorSampledMb = Math.max(current.coordinatorSampledMb, status(pid('coordinator'), 'VmRSS'));
      current.agentsSampledMb = Math.max(current.agentsSampledMb, ids.reduce((sum, id) => sum + status(pid(id), 'VmRSS'), 0));
    }, 250);
    let finished = 0;
    const allDone = new Promise<void>((resolve, reject) => {
      f.onMessage((msg) => {
        const now = performance.now();
        if (msg.kind === 'listening') {
          log(`  coordinator on 127.0.0.1:${msg.port}; starting ${o.sites} agents (${model}, ${params} parameters)`);
          return;
        }
        if (msg.kind === 'summary' && finished === studies.length + 1) {
          resolve();
          return;
        }
        if (msg.kind !== 'event') return;
        const e = msg.event;
        if (e.type === 'round-started') {
          phaseAt = new Map();
          current = byId.get(e.studyId);
        }
        if (e.type === 'round-phase') {
          if (e.phase === 'fit' && Number.isNaN(startupMs)) {
            startupMs = now - t0;
            agentIdleRssMb = median(ids.map((id) => status(pid(id), 'VmRSS')));
            log(`  ${o.sites} agents connected after ${(startupMs / 1000).toFixed(1)} s; idle agent RSS ${agentIdleRssMb.toFixed(0)} MB`);
          }
          phaseAt.set(e.phase, now);
          return;
        }
        if (e.type === 'study-finished' && e.studyId === warmup) {
          finished++;
          log(`  warm-up round: ${e.status}`);
        }
        const run = 'studyId' in e ? byId.get(e.studyId) : undefined;
        if (!run) return;
        if (e.type === 'site-finished' && e.outcome !== 'ok') log(`  ${e.studyId}: ${e.siteId} ${e.phase} ${e.outcome}${e.reason ? ` (${e.reason})` : ''}`);
        if (e.type === 'round-committed') {
          const fit = phaseAt.get('fit') ?? now;
          const ms = now - fit;
          run.roundsMs.push(ms);
          run.committed++;
          const at = (p: string): number => phaseAt.get(p) ?? Number.NaN;
          if (run.secure) {
            run.stages.push({
              trainAdvertiseMs: at('secagg-share-keys') - fit,
              shareKeysMs: at('secagg-masked-input') - at('secagg-share-keys'),
              maskedInputMs: at('secagg-unmask') - at('secagg-masked-input'),
              unmaskMs: at('evaluate') - at('secagg-unmask'),
              evaluateMs: now - at('evaluate'),
            });
          }
          log(`  ${e.studyId}: ${(ms / 1000).toFixed(2)} s (${e.sites} sites)`);
        }
        if (e.type === 'round-failed') {
          run.failure = e.reason;
          log(`  ${e.studyId} failed: ${e.reason}`);
        }
        if (e.type === 'study-finished') {
          run.coordinatorHwmMb = status(pid('coordinator'), 'VmHWM');
          run.agentsHwmMb = ids.map((id) => status(pid(id), 'VmHWM'));
          if (e.status !== 'completed' && run.failure === null) run.failure = e.reason ?? e.status;
          finished++;
        }
      });
      // The coordinator exits by itself once every study is done (--exit-when-done); earlier is a failure.
      f.waitForMessage(() => false, { timeoutMs: 2 ** 31 - 1 }).catch(reject);
    });
    await f.start();
    await allDone;
    clearInterval(sampler);
    const plain = runs.find((r) => !r.secure) as StudyRun;
    return runs.map((r) => {
      const roundMs = median(r.roundsMs);
      const plainRoundMs = median(plain.roundsMs);
      const stageMedian = (k: keyof SecAggE2eStages): number => round(median(r.stages.map((s) => s[k])));
      return {
        sites: o.sites,
        params,
        secureAggregation: r.secure,
        roundMs: round(roundMs),
        plainRoundMs: round(plainRoundMs),
        ratio: round(roundMs / plainRoundMs, 3),
        coordinatorPeakRssMb: round(r.coordinatorHwmMb),
        agentsPeakRssMbTotal: round(r.agentsHwmMb.reduce((s, x) => s + x, 0)),
        coordinatorSampledPeakRssMb: round(r.coordinatorSampledMb),
        agentsSampledPeakRssMbTotal: round(r.agentsSampledMb),
        completed: r.committed === o.rounds,
        model,
        processes: 1 + o.sites,
        rounds: o.rounds,
        roundsMs: r.roundsMs.map((x) => round(x)),
        stages: r.secure
          ? { trainAdvertiseMs: stageMedian('trainAdvertiseMs'), shareKeysMs: stageMedian('shareKeysMs'), maskedInputMs: stageMedian('maskedInputMs'), unmaskMs: stageMedian('unmaskMs'), evaluateMs: stageMedian('evaluateMs') }
          : null,
        agentIdleRssMb: round(agentIdleRssMb),
        agentMaxPeakRssMb: round(Math.max(0, ...r.agentsHwmMb)),
        startupMs: round(startupMs),
        failure: r.failure,
      };
    });
  } finally {
    await fed?.close();
    if (o.keep) log(`  kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Every (sites, params) case in order, each its own federation. */
export async function runSecAggE2eSuite(cases: readonly SecAggE2eOptions[]): Promise<SecAggE2eCase[]> {
  const out: SecAggE2eCase[] = [];
  for (const c of cases) {
    console.log(`secagg-e2e: ${c.sites} sites, ~${c.params} parameters, ${c.rounds} rounds`);
    out.push(...(await runSecAggE2eCase(c)));
  }
  return out;
}
