/**
 * Imaging bench, training case: resnet-small at 128×128×1 (images/s through forward, backward and an Adam
 * step) on the wasm backend next to the cpu backend, same model and batch size. The wasm run happens in a
 * child process started with the agents' Node flags and malloc settings, whose peak resident memory
 * (VmHWM) says whether an agent training at 128×128 fits on the machine.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS } from '../cli/src/bin-path.js';
import { createLogger } from '../shared/src/logging.js';
import type { BackendName } from '../shared/src/ml/backend.js';
import { getModelSpec } from '../shared/src/ml/model-registry.js';
import { initialWeights, totalParams, weightLayout } from '../shared/src/ml/weights.js';
import { repoRoot } from '../shared/src/paths.js';
import { createRng } from '../shared/src/rng.js';
import { Trainer, type TrainingData } from '../site-agent/src/training/trainer.js';
import { round } from './report.js';

export interface TrainingBenchOptions {
  /** @default 128 */
  side?: number;
  /**
   * Images per timed pass, per backend. @default { wasm: 64, cpu: 8 } (the pure-JS cpu backend takes
   * seconds per 128×128 image: one batch is enough for its rate, and it gets no untimed warm-up pass)
   */
  images?: Partial<Record<'cpu' | 'wasm', number>>;
  /** @default 8 */
  batchSize?: number;
  /** Timed passes on wasm, the fastest counting (cpu: one). @default 2 */
  runs?: number;
}

export interface TrainingBenchResult {
  backend: 'wasm' | 'cpu';
  model: string;
  input: string;
  params: number;
  images: number;
  batchSize: number;
  seconds: number;
  imagesPerSecond: number;
  /** images/s ÷ the cpu row's, same run. */
  ratioVsCpu: number;
  /** Peak resident memory (MiB, VmHWM) of the process that trained: the agent-like child for wasm, the bench process for cpu. */
  peakRssMiB: number;
  /** Where and how it ran. */
  process: string;
}

/** One backend's timed training, in whichever process runs it. */
export interface TrainOnceOptions {
  backend: BackendName;
  side: number;
  images: number;
  batchSize: number;
  runs: number;
}

/** Synthetic images (content does not change the arithmetic), balanced labels. */
function images(n: number, d: number): TrainingData {
  const rng = createRng(1);
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  return { x, y: Float32Array.from({ length: n }, (_, i) => i % 2), n, d };
}

/** Trains resnet-small on `images` synthetic images; the fastest of `runs` passes (wasm warms up first). */
export async function trainOnce(o: TrainOnceOptions): Promise<{ seconds: number }> {
  const spec = getModelSpec('resnet-small');
  const d = o.side * o.side;
  const data = images(o.images, d);
  const trainer = await Trainer.create({ spec, inputDim: d, prefer: o.backend, logger: createLogger({ name: 'bench', level: 'silent' }) });
  const w0 = initialWeights(spec, d, 1);
  const cfg = { epochs: 1, batchSize: o.batchSize, learningRate: 1e-3, optimizer: 'adam' as const, proximalMu: 0, seed: 1 };
  try {
    const warm = Math.min(o.images, o.batchSize);
    // Warm-up (XNNPACK operator creation, JIT) for wasm; the cpu backend's setup is noise next to its pace.
    if (o.backend === 'wasm') await trainer.fit(w0, { ...data, n: warm, x: data.x.subarray(0, warm * d), y: data.y.subarray(0, warm) }, cfg);
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < o.runs; r++) {
      const t0 = performance.now();
      await trainer.fit(w0, data, cfg);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    return { seconds: best };
  } finally {
    trainer.dispose();
  }
}

/** Runs {@link trainOnce} in a child started like an agent; resolves with its time and peak RSS. */
function inAgentProcess(o: TrainOnceOptions): Promise<{ seconds: number; peakRssMiB: number }> {
  const child = path.join(repoRoot(), 'dist', 'bench', 'imaging-training-child.js');
  if (!existsSync(child)) return Promise.reject(new Error(`${child} is missing: run npx tsc -b first`));
  return new Promise((resolve, reject) => {
    const p = fork(child, [], { execArgv: [...AGENT_NODE_FLAGS], env: { ...process.env, ...AGENT_MALLOC_ENV }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    p.once('message', (m: { seconds: number; peakRssMiB: number } | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    p.once('error', reject);
    p.once('exit', (code) => code !== 0 && reject(new Error(`training child exited with ${code}`)));
    p.send(o);
  });
}

export async function runTrainingBench(opts: TrainingBenchOptions = {}): Promise<TrainingBenchResult[]> {
  const side = opts.side ?? 128;
  const batchSize = opts.batchSize ?? 8;
  const runs = opts.runs ?? 2;
  const spec = getModelSpec('resnet-small');
  const params = totalParams(weightLayout(spec, side * side));
  const row = (backend: 'wasm' | 'cpu', n: number, seconds: number, peakRssMiB: number, where: string): TrainingBenchResult => ({
    backend,
    model: spec.name,
    input: `${side}×${side}×1`,
    params,
    images: n,
    batchSize,
    seconds: round(seconds),
    imagesPerSecond: round(n / seconds),
    ratioVsCpu: 1,
    peakRssMiB,
    process: where,
  });
  const nWasm = opts.images?.wasm ?? 64;
  const wasm = await inAgentProcess({ backend: 'wasm', side, images: nWasm, batchSize, runs });
  const nCpu = opts.images?.cpu ?? 8;
  const cpu = await trainOnce({ backend: 'cpu', side, images: nCpu, batchSize, runs: 1 });
  const results = [
    row('wasm', nWasm, wasm.seconds, wasm.peakRssMiB, `child with ${AGENT_NODE_FLAGS.join(' ')} (agent flags), best of ${runs}`),
    row('cpu', nCpu, cpu.seconds, Math.round(process.resourceUsage().maxRSS / 1024), 'bench process, one pass'),
  ];
  const cpuRate = results[1]?.imagesPerSecond ?? Number.NaN;
  for (const r of results) r.ratioVsCpu = round(r.imagesPerSecond / cpuRate, 3);
  return results;
}
