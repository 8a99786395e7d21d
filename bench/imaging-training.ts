/**
 * Imaging bench, training case: resnet-small at 128×128×1 (images/s through forward, backward and an Adam
 * step) on the wasm backend next to the cpu backend, same model, batch size and process; and the peak
 * resident memory of the process after the wasm run, to check that an agent training at 128×128 fits.
 */
import { createLogger } from '../shared/src/logging.js';
import { getModelSpec } from '../shared/src/ml/model-registry.js';
import { initialWeights, totalParams, weightLayout } from '../shared/src/ml/weights.js';
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
  /** Peak resident set of the bench process so far (MiB), read after this backend's runs (wasm runs first). */
  peakRssMiB: number;
}

/** Synthetic images (content does not change the arithmetic), balanced labels. */
function images(n: number, d: number): TrainingData {
  const rng = createRng(1);
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  return { x, y: Float32Array.from({ length: n }, (_, i) => i % 2), n, d };
}

export async function runTrainingBench(opts: TrainingBenchOptions = {}): Promise<TrainingBenchResult[]> {
  const side = opts.side ?? 128;
  const batchSize = opts.batchSize ?? 8;
  const runs = opts.runs ?? 2;
  const spec = getModelSpec('resnet-small');
  const d = side * side;
  const logger = createLogger({ name: 'bench', level: 'silent' });
  const results: TrainingBenchResult[] = [];
  for (const backend of ['wasm', 'cpu'] as const) {
    const n = opts.images?.[backend] ?? (backend === 'wasm' ? 64 : 8);
    const data = images(n, d);
    const trainer = await Trainer.create({ spec, inputDim: d, prefer: backend, logger });
    const w0 = initialWeights(spec, d, 1);
    const cfg = { epochs: 1, batchSize, learningRate: 1e-3, optimizer: 'adam' as const, proximalMu: 0, seed: 1 };
    const warm = Math.min(n, batchSize);
    // Warm-up (XNNPACK operator creation, JIT) for wasm; the cpu backend's setup is noise next to its pace.
    if (backend === 'wasm') await trainer.fit(w0, { ...data, n: warm, x: data.x.subarray(0, warm * d), y: data.y.subarray(0, warm) }, cfg);
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < (backend === 'wasm' ? runs : 1); r++) {
      const t0 = performance.now();
      await trainer.fit(w0, data, cfg);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    trainer.dispose();
    results.push({
      backend,
      model: spec.name,
      input: `${side}×${side}×1`,
      params: totalParams(weightLayout(spec, d)),
      images: n,
      batchSize,
      seconds: round(best),
      imagesPerSecond: round(n / best),
      ratioVsCpu: 1,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    });
  }
  const cpu = results.find((r) => r.backend === 'cpu')?.imagesPerSecond ?? Number.NaN;
  for (const r of results) r.ratioVsCpu = round(r.imagesPerSecond / cpu, 3);
  return results;
}
