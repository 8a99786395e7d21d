import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../../shared/src/errors.js';
import { createLogger } from '../../../shared/src/logging.js';
import { getModelSpec, initialWeights, type ModelSpec } from '../../../shared/src/ml/index.js';
import { createRng } from '../../../shared/src/rng.js';
import { Trainer, balancedClassWeights, binaryCrossEntropy, meanGradients, type FitConfig, type TrainingData } from '../../../site-agent/src/training/index.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const D = 6;

/** Linearly separable data: y = [x·w* + b* > 0], rows too close to the boundary dropped. */
function separable(n: number, seed: number): TrainingData {
  const rng = createRng(seed);
  const wStar = Array.from({ length: D }, () => rng.normal());
  const x = new Float32Array(n * D);
  const y = new Float32Array(n);
  for (let r = 0; r < n; ) {
    const row = Array.from({ length: D }, () => rng.normal());
    const z = row.reduce((s, v, j) => s + v * wStar[j]!, 0.3);
    if (Math.abs(z) < 0.2) continue;
    x.set(row, r * D);
    y[r] = z > 0 ? 1 : 0;
    r++;
  }
  return { x, y, n, d: D };
}

const cfg = (over: Partial<FitConfig> = {}): FitConfig => ({
  epochs: 10,
  batchSize: 32,
  learningRate: 0.1,
  optimizer: 'sgd',
  proximalMu: 0,
  seed: 7,
  ...over,
});

const sqDist = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0);

let logreg: Trainer;
// One draw (one w*), split 512 train / 256 held out.
const all = separable(768, 1);
const train: TrainingData = { x: all.x.subarray(0, 512 * D), y: all.y.subarray(0, 512), n: 512, d: D };
const test: TrainingData = { x: all.x.subarray(512 * D), y: all.y.subarray(512), n: 256, d: D };

beforeAll(async () => {
  logreg = await Trainer.create({ spec: getModelSpec('logreg'), inputDim: D, prefer: 'wasm', logger });
});
afterAll(() => logreg.dispose());

describe('Trainer (real TF.js, wasm backend)', () => {
  it('learns a linearly separable set to > 0.85 accuracy (logreg and mlp-small)', async () => {
    expect(logreg.backend).toBe('wasm');
    const t0 = performance.now();
    const res = await logreg.fit(initialWeights(logreg.spec, D, 1), train, cfg());
    const ms = performance.now() - t0;
    const held = logreg.evaluate(res.weights, test);
    console.info(
      `logreg: train acc ${res.metrics.accuracy.toFixed(3)} loss ${res.metrics.loss.toFixed(3)}, ` +
        `held-out acc ${held.accuracy.toFixed(3)}, ${ms.toFixed(0)} ms (512 rows × 10 epochs)`,
    );
    expect(res.numExamples).toBe(512);
    expect(res.metrics.accuracy).toBeGreaterThan(0.85);
    expect(held.accuracy).toBeGreaterThan(0.85);

    const mlp = await Trainer.create({ spec: getModelSpec('mlp-small'), inputDim: D, prefer: 'wasm', logger });
    const t1 = performance.now();
    const r2 = await mlp.fit(initialWeights(mlp.spec, D, 1), train, cfg({ optimizer: 'adam', learningRate: 0.01 }));
    console.info(
      `mlp-small (adam): train acc ${r2.metrics.accuracy.toFixed(3)}, ${(performance.now() - t1).toFixed(0)} ms`,
    );
    expect(r2.metrics.accuracy).toBeGreaterThan(0.85);
    mlp.dispose();
  });

  it('is deterministic for a seed and uses the gradient hook once per mini-batch', async () => {
    let calls = 0;
    const t = await Trainer.create({
      spec: getModelSpec('logreg'),
      inputDim: D,
      logger,
      computeGradients: (ctx) => {
        calls++;
        return meanGradients(ctx);
      },
    });
    const g = initialWeights(t.spec, D, 3);
    const a = await t.fit(g, train, cfg({ epochs: 2, batchSize: 100 }));
    expect(calls).toBe(2 * Math.ceil(512 / 100));
    const b = await t.fit(g, train, cfg({ epochs: 2, batchSize: 100 }));
    expect(b.weights).toEqual(a.weights);
    const c = await t.fit(g, train, cfg({ epochs: 2, batchSize: 100, seed: 8 }));
    expect(c.weights).not.toEqual(a.weights);
    t.dispose();
  });

  it('gives the event loop a turn between batches, so timers (the agent\'s heartbeat) run during one long epoch', async () => {
    // Each step holds the main thread ≥ 3 ms, as a heavy batch would; a 1 ms interval timer can only run in between.
    let ticks = 0;
    const seen: number[] = [];
    const busyStep: Parameters<typeof Trainer.create>[0]['computeGradients'] = (ctx) => {
      const until = performance.now() + 3;
      while (performance.now() < until);
      seen.push(ticks);
      return meanGradients(ctx);
    };
    const t = await Trainer.create({ spec: getModelSpec('logreg'), inputDim: D, prefer: 'wasm', logger, computeGradients: busyStep, yieldEveryMs: 0 });
    const timer = setInterval(() => ticks++, 1);
    try {
      await t.fit(initialWeights(t.spec, D, 1), train, cfg({ epochs: 1, batchSize: 32 }));
    } finally {
      clearInterval(timer);
      t.dispose();
    }
    expect(seen).toHaveLength(512 / 32);
    // The timer ran between every two batches of the single epoch (before, it ran only between epochs).
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
  });

  it('FedProx with a large μ stays closer to the global model than μ = 0', async () => {
    const global = initialWeights(logreg.spec, D, 5);
    const free = await logreg.fit(global, train, cfg({ proximalMu: 0 }));
    const prox = await logreg.fit(global, train, cfg({ proximalMu: 5 }));
    const dFree = sqDist(free.weights, global);
    const dProx = sqDist(prox.weights, global);
    expect(dProx).toBeLessThan(dFree * 0.5);
  });

  it('evaluate matches a hand computation on a tiny case', () => {
    // logreg with d = 2 would need a second trainer; use d = D with zeros beyond the first two features.
    const w = new Float32Array(D + 1);
    w[0] = 0.5;
    w[1] = -1.25;
    w[D] = 0.1; // bias
    const rows = [
      [1, 2, 1],
      [-1, 0.5, 0],
      [3, -1, 1],
      [0, 0, 0],
    ];
    const x = new Float32Array(rows.length * D);
    rows.forEach(([a, b], r) => x.set([a!, b!], r * D));
    const y = Float32Array.from(rows.map((r) => r[2]!));
    let loss = 0;
    let correct = 0;
    for (const [a, b, label] of rows) {
      const p = 1 / (1 + Math.exp(-(0.5 * a! - 1.25 * b! + 0.1)));
      loss -= label! * Math.log(p) + (1 - label!) * Math.log(1 - p);
      if ((p >= 0.5 ? 1 : 0) === label) correct++;
    }
    const res = logreg.evaluate(w, { x, y, n: rows.length, d: D });
    expect(res.numExamples).toBe(4);
    expect(res.accuracy).toBe(correct / 4);
    expect(res.loss).toBeCloseTo(loss / 4, 5);
  });

  it('leaks no tensors across fits (sgd, adam, proximal, l2, dropout)', async () => {
    const spec: ModelSpec = {
      name: 'leak-check',
      description: 'test',
      layers: [
        { type: 'dense', units: 8, activation: 'relu' },
        { type: 'dropout', rate: 0.1 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binary-crossentropy',
      l2: 1e-3,
    };
    const t = await Trainer.create({ spec, inputDim: D, logger });
    const tf = await import('@tensorflow/tfjs-core');
    const g = initialWeights(spec, D, 9);
    await t.fit(g, train, cfg({ epochs: 1 }));
    t.evaluate(g, train);
    const before = tf.memory().numTensors;
    expect(before).toBeGreaterThan(0);
    await t.fit(g, train, cfg({ epochs: 2, optimizer: 'adam', proximalMu: 0.1 }));
    await t.fit(g, train, cfg({ epochs: 1, optimizer: 'sgd', proximalMu: 0 }));
    t.evaluate(g, train);
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });

  it('class weights: the weighted loss matches a hand computation, and balanced weights from the labels', async () => {
    // Arrange
    const tf = await import('@tensorflow/tfjs-core');
    const p = [0.9, 0.2, 0.6, 0.3];
    const y = [1, 0, 0, 1];
    const w: [number, number] = [3, 0.5];
    // Act
    const got = tf.tidy(() => binaryCrossEntropy(tf, tf.tensor2d(p, [4, 1]), tf.tensor2d(y, [4, 1]), w).dataSync()[0]);
    // Assert
    const hand = -p.reduce((s, pi, i) => s + (y[i] === 1 ? w[1] * Math.log(pi) : w[0] * Math.log(1 - pi)), 0) / 4;
    expect(got).toBeCloseTo(hand, 5);
    // 1 negative in 5: n / (2·n_class) → negatives 2.5, positives 0.625 (each class half of the loss).
    expect(balancedClassWeights(Float32Array.from([1, 1, 0, 1, 1]))).toEqual([2.5, 0.625]);
    expect(balancedClassWeights(Float32Array.from([1, 1, 1]))).toEqual([1, 1]);
  });

  it('balanced class weights raise the rare class\'s recall on an imbalanced set', async () => {
    // Arrange: keep one negative in ten of the separable set (the chest-xray demo's train prevalence).
    const rows = [...Array(train.n).keys()].filter((r) => train.y[r] === 1 || r % 10 === 0);
    const x = new Float32Array(rows.length * D);
    rows.forEach((r, i) => x.set(train.x.subarray(r * D, (r + 1) * D), i * D));
    const imbalanced: TrainingData = { x, y: Float32Array.from(rows.map((r) => train.y[r]!)), n: rows.length, d: D };
    const recall0 = (w: Float32Array): number => {
      const p = logreg.predict(w, test);
      const neg = [...test.y.keys()].filter((i) => test.y[i] === 0);
      return neg.filter((i) => p[i]! < 0.5).length / neg.length;
    };
    const g = initialWeights(logreg.spec, D, 3);
    // Act
    const plain = await logreg.fit(g, imbalanced, cfg({ epochs: 3 }));
    const weighted = await logreg.fit(g, imbalanced, cfg({ epochs: 3, classWeights: balancedClassWeights(imbalanced.y) }));
    // Assert
    expect(recall0(weighted.weights)).toBeGreaterThan(recall0(plain.weights));
  });

  it('rejects bad config and malformed data', async () => {
    const g0 = initialWeights(logreg.spec, D, 1);
    await expect(logreg.fit(g0, train, cfg({ classWeights: [0, 1] }))).rejects.toThrow(/training.classWeights/);
    await expect(logreg.fit(g0, train, cfg({ classWeights: [1, Number.NaN] }))).rejects.toBeInstanceOf(ConfigError);
    const g = initialWeights(logreg.spec, D, 1);
    await expect(logreg.fit(g, train, cfg({ epochs: 0 }))).rejects.toThrow(/training.epochs/);
    await expect(logreg.fit(g, train, cfg({ learningRate: -1 }))).rejects.toBeInstanceOf(ConfigError);
    await expect(logreg.fit(g, { ...train, d: D + 1 }, cfg())).rejects.toBeInstanceOf(InputError);
    const y = train.y.slice();
    y[3] = 0.5;
    await expect(logreg.fit(g, { ...train, y }, cfg())).rejects.toMatchObject({ code: 'TESSERA_INPUT_DATA_LABEL' });
    const x = train.x.slice();
    x[10] = NaN;
    await expect(logreg.fit(g, { ...train, x }, cfg())).rejects.toMatchObject({ code: 'TESSERA_INPUT_DATA_NONFINITE' });
    await expect(logreg.fit(new Float32Array(3), train, cfg())).rejects.toMatchObject({
      code: 'TESSERA_INPUT_WEIGHTS_SHAPE',
    });
  });
});
