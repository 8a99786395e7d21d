import { createLogger } from '../shared/src/logging.js';
import { getModelSpec, initialWeights, type BackendName } from '../shared/src/ml/index.js';
import { createRng } from '../shared/src/rng.js';
import { Trainer, type FitConfig, type TrainingData } from '../site-agent/src/training/index.js';
import { bestOf, round } from './report.js';

/**
 * DP-SGD training throughput next to non-DP training of the same model on the same backend in the
 * same run: examples per second through the training step, for the heart-disease MLP (`mlp-small`
 * on 13 features) and the registry CNN (`cnn-small` on 28×28×1). DP pays for Poisson sampling from
 * the CSPRNG, per-example gradients (batched, no loop), clipping and Gaussian noise per step.
 */
export interface DpBenchOptions {
  /** Models to measure. @default ['mlp-small', 'cnn-small'] */
  models?: readonly ('mlp-small' | 'cnn-small')[];
  /** (Expected) batch size. @default 64 */
  batch?: number;
  /** Steps timed per run. @default 40 for the MLP, 10 for the CNN */
  steps?: number;
  /** Runs per case; the fastest counts. @default 3 */
  runs?: number;
  /** TF.js backend. @default 'wasm' (what the sites use without the native binding) */
  backend?: BackendName;
}

export interface DpBenchResult {
  model: string;
  backend: string;
  params: number;
  batch: number;
  steps: number;
  /** Examples per second of plain mini-batch SGD (the baseline, same run). */
  baselineExamplesPerSecond: number;
  /** Examples per second of DP-SGD (expected batch size × steps / seconds). */
  dpExamplesPerSecond: number;
  /** dp / baseline (the goal is ≥ 0.3). */
  ratio: number;
}

const FEATURES: Record<string, number> = { 'mlp-small': 13, 'cnn-small': 28 * 28 };

function syntheticData(n: number, d: number, seed: number): TrainingData {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: n * d }, () => rng.normal());
  const y = Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
  return { x, y, n, d };
}

export async function runDpSuite(opts: DpBenchOptions = {}): Promise<DpBenchResult[]> {
  const logger = createLogger({ name: 'bench', level: 'warn' });
  const batch = opts.batch ?? 64;
  const runs = opts.runs ?? 3;
  const results: DpBenchResult[] = [];
  for (const name of opts.models ?? ['mlp-small', 'cnn-small']) {
    const spec = getModelSpec(name);
    const d = FEATURES[name] as number;
    const steps = opts.steps ?? (name === 'cnn-small' ? 10 : 40);
    // One epoch of n = batch × steps rows is `steps` mini-batches; DP samples at q = batch / n.
    const n = batch * steps;
    const data = syntheticData(n, d, 1);
    const trainer = await Trainer.create({ spec, inputDim: d, prefer: opts.backend ?? 'wasm', logger });
    try {
      const w0 = initialWeights(spec, d, 1);
      const base: FitConfig = { epochs: 1, batchSize: batch, learningRate: 0.05, optimizer: 'sgd', proximalMu: 0, seed: 1 };
      const dpCfg: FitConfig = { ...base, dp: { clipNorm: 1, noiseMultiplier: 1, samplingRate: batch / n, steps } };
      // Warm-up (kernel compilation, allocation) outside the timing.
      await trainer.fit(w0, data, base);
      await trainer.fit(w0, data, dpCfg);
      const plain = await bestOf(runs, async () => {
        await trainer.fit(w0, data, base);
      });
      const dp = await bestOf(runs, async () => {
        await trainer.fit(w0, data, dpCfg);
      });
      const baselineExamplesPerSecond = n / plain;
      const dpExamplesPerSecond = n / dp;
      results.push({
        model: name,
        backend: trainer.backend,
        params: trainer.numParams,
        batch,
        steps,
        baselineExamplesPerSecond: round(baselineExamplesPerSecond),
        dpExamplesPerSecond: round(dpExamplesPerSecond),
        ratio: round(dpExamplesPerSecond / baselineExamplesPerSecond, 3),
      });
    } finally {
      trainer.dispose();
    }
  }
  return results;
}
