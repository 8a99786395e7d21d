import type * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecureRandom, poissonSample } from '../../../shared/src/dp/noise.js';
import { createLogger } from '../../../shared/src/logging.js';
import { buildModel, getModelSpec, initialWeights, selectBackend, setFlatWeights, type ModelSpec, type TfCore } from '../../../shared/src/ml/index.js';
import { createRng } from '../../../shared/src/rng.js';
import { binaryCrossEntropy, clippedGradientSum, clippedGradientSumAutodiff, dpSgdGradients, Trainer, type TrainingData } from '../../../site-agent/src/training/index.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const D = 5;
let tf: TfCore;

beforeAll(async () => {
  tf = (await selectBackend({ prefer: 'wasm', logger })).tf;
});

/** A model with random (seeded) weights, its variables and its data loss, for one spec. */
function setup(spec: ModelSpec, seed: number, d = D, wScale = 0.5): { model: tfl.LayersModel; variables: tfc.Variable[]; loss: (x: tfc.Tensor2D, y: tfc.Tensor2D) => tfc.Scalar } {
  const model = buildModel(tfl, spec, d);
  const rng = createRng(seed);
  const w = initialWeights(spec, d, seed).map(() => wScale * rng.normal());
  setFlatWeights(model, w);
  const variables = model.trainableWeights.map((v) => v.read() as tfc.Variable);
  return { model, variables, loss: (x, y) => binaryCrossEntropy(tf, model.apply(x, { training: true }) as tfc.Tensor2D, y) };
}

function batch(m: number, seed: number, d = D): { x: Float32Array; y: Float32Array } {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: m * d }, () => 2 * rng.normal());
  const y = Float32Array.from({ length: m }, () => (rng.next() < 0.5 ? 1 : 0));
  return { x, y };
}

/** Per-example gradients the slow way: tf.variableGrads of the loss of each single example. */
function loopGradients(s: ReturnType<typeof setup>, x: Float32Array, y: Float32Array, m: number, d = D): Float32Array[][] {
  const out: Float32Array[][] = [];
  for (let i = 0; i < m; i++) {
    out.push(
      tf.tidy(() => {
        const xi = tf.tensor2d(x.subarray(i * d, (i + 1) * d), [1, d]);
        const yi = tf.tensor2d(y.subarray(i, i + 1), [1, 1]);
        const { grads } = tf.variableGrads(() => s.loss(xi, yi), s.variables);
        return s.variables.map((v) => (grads[v.name] as tfc.Tensor).dataSync() as Float32Array);
      }),
    );
  }
  return out;
}

const norm = (parts: Float32Array[]): number => Math.sqrt(parts.reduce((acc, p) => acc + p.reduce((a, v) => a + v * v, 0), 0));

describe.each(['logreg', 'mlp-small'])('vectorised per-example gradients (%s, wasm)', (name) => {
  const spec = getModelSpec(name);
  const m = 24;
  let s: ReturnType<typeof setup>;
  beforeAll(() => {
    s = setup(spec, 3);
  });
  afterAll(() => s.model.dispose());

  it('per-example norms and the clipped sum equal tf.variableGrads on single examples', () => {
    const { x, y } = batch(m, 11);
    const per = loopGradients(s, x, y, m);
    const norms = per.map(norm);
    const clip = [...norms].sort((a, b) => a - b)[m / 2] as number; // half the rows get clipped
    const { normsOut, sums } = tf.tidy(() => {
      const r = clippedGradientSum(tf, spec, s.variables, tf.tensor2d(x, [m, D]), tf.tensor2d(y, [m, 1]), clip);
      return { normsOut: r.norms.dataSync() as Float32Array, sums: r.sums.map((t) => t.dataSync() as Float32Array) };
    });
    norms.forEach((n, i) => expect(normsOut[i]).toBeCloseTo(n, 4));
    s.variables.forEach((v, k) => {
      const expected = new Float32Array(v.size);
      per.forEach((g, i) => {
        const c = Math.min(1, clip / ((norms[i] as number) + 1e-6));
        (g[k] as Float32Array).forEach((val, j) => (expected[j] = (expected[j] as number) + c * val));
      });
      expected.forEach((e, j) => expect(sums[k]?.[j]).toBeCloseTo(e, 4));
    });
  });

  it('each example contributes at most the clipping norm, exactly it when clipped', () => {
    const { x, y } = batch(m, 12);
    const clip = 0.05;
    for (let i = 0; i < m; i++) {
      const { before, after } = tf.tidy(() => {
        const r = clippedGradientSum(tf, spec, s.variables, tf.tensor2d(x.subarray(i * D, (i + 1) * D), [1, D]), tf.tensor2d(y.subarray(i, i + 1), [1, 1]), clip);
        return { before: r.norms.dataSync()[0] as number, after: norm(r.sums.map((t) => t.dataSync() as Float32Array)) };
      });
      expect(after).toBeLessThanOrEqual(clip * (1 + 1e-5));
      if (before > clip) expect(after).toBeCloseTo(clip * (before / (before + 1e-6)), 6);
    }
  });
});

// The general path (one backward pass for δ at every weighted layer, conv gradients by patch
// extraction + batched matmul) on a dense model and on the registry CNN without its dropout (dropout
// masks would differ between the batched pass and the single-example reference).
const cnn = getModelSpec('cnn-small');
const cnnNoDropout: ModelSpec = { ...cnn, name: 'cnn-small-test', layers: cnn.layers.filter((l) => l.type !== 'dropout') };
describe.each([
  ['mlp-small', getModelSpec('mlp-small'), D, 0.5],
  ['cnn-small (no dropout)', cnnNoDropout, 28 * 28, 0.15],
] as const)('autodiff per-example gradients (%s, wasm)', (_name, spec, d, wScale) => {
  it('per-example norms and the clipped sum equal tf.variableGrads on single examples', () => {
    const s = setup(spec, 4, d, wScale);
    const m = 8;
    const { x, y } = batch(m, 13, d);
    const per = loopGradients(s, x, y, m, d);
    const norms = per.map(norm);
    const clip = [...norms].sort((a, b) => a - b)[m / 2] as number;
    const { normsOut, sums } = tf.tidy(() => {
      const r = clippedGradientSumAutodiff(tf, spec, s.variables, tf.tensor2d(x, [m, d]), tf.tensor2d(y, [m, 1]), clip);
      return { normsOut: r.norms.dataSync() as Float32Array, sums: r.sums.map((t) => t.dataSync() as Float32Array) };
    });
    s.model.dispose();
    expect(Math.min(...norms)).toBeGreaterThan(1e-3); // not saturated: every example has a gradient
    norms.forEach((n, i) => expect(Math.abs((normsOut[i] as number) - n) / n).toBeLessThan(1e-3));
    s.variables.forEach((v, k) => {
      const expected = new Float32Array(v.size);
      per.forEach((g, i) => {
        const c = Math.min(1, clip / ((norms[i] as number) + 1e-6));
        (g[k] as Float32Array).forEach((val, j) => (expected[j] = (expected[j] as number) + c * val));
      });
      const scale = Math.max(1e-3, ...Array.from(expected, Math.abs));
      expected.forEach((e, j) => expect(Math.abs((sums[k]?.[j] as number) - e) / scale, `variable ${k} [${j}]: ${sums[k]?.[j]} vs ${e}`).toBeLessThan(1e-3));
    });
  });
});

describe('DP noise and sampling (node:crypto)', () => {
  it('Gaussian samples have mean 0 and the requested standard deviation', () => {
    const random = createSecureRandom();
    const n = 200_000;
    const out = new Float64Array(n);
    random.gaussian(out, 3);
    const mean = out.reduce((a, v) => a + v, 0) / n;
    const variance = out.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    const kurt = out.reduce((a, v) => a + (v - mean) ** 4, 0) / n / variance ** 2;
    // 6 standard errors: mean ±6·3/√n, sd within ±6·3/√(2n), kurtosis 3 ± 6·√(24/n).
    expect(Math.abs(mean)).toBeLessThan((6 * 3) / Math.sqrt(n));
    expect(Math.abs(Math.sqrt(variance) - 3)).toBeLessThan((6 * 3) / Math.sqrt(2 * n));
    expect(Math.abs(kurt - 3)).toBeLessThan(6 * Math.sqrt(24 / n));
  });

  it('Poisson sampling includes each row with probability q', () => {
    const random = createSecureRandom();
    const n = 1000;
    const counts = new Uint32Array(n);
    const draws = 400;
    let total = 0;
    for (let t = 0; t < draws; t++) {
      const rows = poissonSample(n, 0.1, random);
      total += rows.length;
      for (const r of rows) counts[r] = (counts[r] as number) + 1;
    }
    const expected = n * draws * 0.1;
    expect(Math.abs(total - expected)).toBeLessThan(6 * Math.sqrt(expected * 0.9));
    // No row is favoured: every row's count within 6 sd of its mean 40.
    for (const c of counts) expect(Math.abs(c - 40)).toBeLessThan(6 * Math.sqrt(40 * 0.9));
  });

  it('an empty Poisson batch yields pure noise of std σ·C/(q·n) per coordinate', () => {
    const spec = getModelSpec('mlp-small');
    const s = setup(spec, 5);
    const dp = { clipNorm: 2, noiseMultiplier: 1.5, samplingRate: 0.05, steps: 1 };
    const n = 400;
    const step = dpSgdGradients(spec, dp, n, createSecureRandom());
    const values: number[] = [];
    for (let t = 0; t < 40; t++) {
      tf.tidy(() => {
        const { grads } = step({ tf, variables: s.variables, x: tf.zeros([0, D]), y: tf.zeros([0, 1]), dataLoss: s.loss, regularizer: () => tf.scalar(0), hasRegularizer: false });
        for (const g of Object.values(grads)) values.push(...g.dataSync());
      });
    }
    s.model.dispose();
    const expectedStd = (dp.noiseMultiplier * dp.clipNorm) / (dp.samplingRate * n);
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan((6 * expectedStd) / Math.sqrt(values.length));
    expect(Math.abs(sd / expectedStd - 1)).toBeLessThan(6 / Math.sqrt(2 * values.length));
  });
});

describe('Trainer with record-level DP-SGD', () => {
  it('learns a separable set with clipping and noise, and the weights differ between two runs (fresh noise)', async () => {
    const rng = createRng(1);
    const wStar = Array.from({ length: D }, () => rng.normal());
    const n = 600;
    const x = new Float32Array(n * D);
    const y = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      const row = Array.from({ length: D }, () => rng.normal());
      x.set(row, r * D);
      y[r] = row.reduce((acc, v, j) => acc + v * (wStar[j] as number), 0) > 0 ? 1 : 0;
    }
    const data: TrainingData = { x, y, n, d: D };
    const trainer = await Trainer.create({ spec: getModelSpec('logreg'), inputDim: D, prefer: 'wasm', logger });
    try {
      const cfg = { epochs: 1, batchSize: 1, learningRate: 0.5, optimizer: 'sgd' as const, proximalMu: 0, seed: 1, dp: { clipNorm: 1, noiseMultiplier: 1, samplingRate: 0.1, steps: 150 } };
      const a = await trainer.fit(initialWeights(trainer.spec, D, 1), data, cfg);
      const b = await trainer.fit(initialWeights(trainer.spec, D, 1), data, cfg);
      expect(a.metrics.accuracy).toBeGreaterThan(0.85);
      expect(Array.from(a.weights)).not.toEqual(Array.from(b.weights));
    } finally {
      trainer.dispose();
    }
  });
});
