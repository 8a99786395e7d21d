import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { createLogger } from '../shared/src/logging.js';
import { selectBackend, type BackendName } from '../shared/src/ml/backend.js';
import { getModelSpec } from '../shared/src/ml/model-registry.js';
import { initialWeights } from '../shared/src/ml/weights.js';
import { createRng } from '../shared/src/rng.js';
import { Trainer, type TrainingData } from '../site-agent/src/training/trainer.js';
import { round } from './report.js';

export interface CnnBenchOptions {
  /** Registry model to train. @default 'cnn-small' */
  model?: string;
  /** Images per timed pass, per backend. @default { cpu: 64, wasm: 546 } (546 = BreastMNIST train) */
  images?: Partial<Record<'cpu' | 'wasm', number>>;
  /** @default 32 */
  batchSize?: number;
  /** Timed passes per backend; the fastest counts. @default 2 */
  runs?: number;
}

export interface CnnBenchResult {
  /** TF.js backend; `wasm` includes Tessera's Conv2DBackpropFilter kernel. */
  backend: BackendName | 'wasm-threads';
  model: string;
  /** Images trained in one timed pass (forward, backward, Adam step). */
  images: number;
  batchSize: number;
  /** Wall seconds of the fastest pass; NaN when the backend is unavailable. */
  seconds: number;
  imagesPerSecond: number;
  /** imagesPerSecond / the cpu row's imagesPerSecond, same model, same run. */
  ratioVsCpu: number;
  /** Why a row has no figure (e.g. threads unavailable in Node), else ''. */
  note: string;
}

/** Synthetic images (the content does not change the arithmetic): pixels in [0, 1), balanced labels. */
function syntheticImages(n: number, d: number, seed: number): TrainingData {
  const rng = createRng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = Float32Array.from({ length: n }, (_, i) => i % 2);
  return { x, y, n, d };
}

/**
 * Why the multi-threaded wasm binary cannot run here. tfjs-backend-wasm 4.22 reports no thread
 * support under Node (tensorflow/tfjs#3830) and its pthread runtime starts workers from `blob:` URLs,
 * which Node's `worker_threads` refuses; `setThreadsCount` therefore has no effect.
 */
function threadsNote(): string {
  const threads = wasm.getThreadsCount();
  return threads > 1
    ? ''
    : `threaded wasm binary unavailable in Node (tfjs#3830: WASM_HAS_MULTITHREAD_SUPPORT is false, blob: workers refused); getThreadsCount() = ${threads}`;
}

/**
 * CNN training throughput (images/s through forward, backward and optimizer step) per TF.js backend,
 * same model and batch size in the same process: `cpu` (pure JS) is the baseline.
 */
export async function runCnnSuite(opts: CnnBenchOptions = {}): Promise<CnnBenchResult[]> {
  const specName = opts.model ?? 'cnn-small';
  const spec = getModelSpec(specName);
  const inputDim = (spec.inputShape ?? [1, 1, 1]).reduce((a, b) => a * b, 1);
  const batchSize = opts.batchSize ?? 32;
  const runs = opts.runs ?? 2;
  const logger = createLogger({ name: 'bench', level: 'silent' });
  const results: CnnBenchResult[] = [];
  for (const backend of ['cpu', 'wasm'] as const) {
    const n = opts.images?.[backend] ?? (backend === 'cpu' ? 64 : 546);
    const data = syntheticImages(n, inputDim, 1);
    const trainer = await Trainer.create({ spec, inputDim, prefer: backend, logger });
    const w0 = initialWeights(spec, inputDim, 1);
    const cfg = { epochs: 1, batchSize, learningRate: 1e-3, optimizer: 'adam' as const, proximalMu: 0, seed: 1 };
    // Warm-up: kernel setup, XNNPACK operator creation, JIT.
    await trainer.fit(w0, { ...data, n: Math.min(n, batchSize), x: data.x.subarray(0, Math.min(n, batchSize) * inputDim), y: data.y.subarray(0, Math.min(n, batchSize)) }, cfg);
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await trainer.fit(w0, data, cfg);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    trainer.dispose();
    results.push({ backend, model: specName, images: n, batchSize, seconds: round(best), imagesPerSecond: round(n / best), ratioVsCpu: 1, note: '' });
  }
  await selectBackend({ prefer: 'wasm', logger });
  results.push({
    backend: 'wasm-threads',
    model: specName,
    images: 0,
    batchSize,
    seconds: Number.NaN,
    imagesPerSecond: Number.NaN,
    ratioVsCpu: Number.NaN,
    note: threadsNote(),
  });
  const cpu = results[0]?.imagesPerSecond ?? Number.NaN;
  for (const r of results) if (Number.isFinite(r.imagesPerSecond)) r.ratioVsCpu = round(r.imagesPerSecond / cpu);
  return results;
}
