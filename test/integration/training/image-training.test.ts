import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/src/errors.js';
import { createLogger } from '../../../shared/src/logging.js';
import { getModelSpec, initialWeights, validateModelSpec, type ModelSpec } from '../../../shared/src/ml/index.js';
import { totalParams, weightLayout } from '../../../shared/src/ml/weights.js';
import { createRng } from '../../../shared/src/rng.js';
import { roundLearningRate } from '../../../shared/src/study/study-spec.js';
import { Trainer, type TrainingData } from '../../../site-agent/src/training/index.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const SIDE = 12;
const D = SIDE * SIDE;

/** Images with a bright 3×3 blob (label 1) or none (label 0) at a random place, on noise. */
function blobs(n: number, seed: number): TrainingData {
  const rng = createRng(seed);
  const x = new Float32Array(n * D);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < D; k++) x[i * D + k] = rng.next() * 0.3;
    y[i] = i % 2;
    if (y[i] === 1) {
      const r = 1 + rng.int(SIDE - 4);
      const c = 1 + rng.int(SIDE - 4);
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) x[i * D + (r + a) * SIDE + c + b] = 1;
    }
  }
  return { x, y, n, d: D };
}

const spec = (testTimeFlip: boolean, testTimeShift?: number): ModelSpec => ({
  name: 'cnn-blob',
  description: 'test',
  inputShape: [SIDE, SIDE, 1],
  augment: { flipHorizontal: true, maxShift: 1, testTimeFlip, ...(testTimeShift !== undefined ? { testTimeShift } : {}) },
  layers: [
    { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
    { type: 'maxPooling2d', poolSize: 2 },
    { type: 'flatten' },
    { type: 'dense', units: 1, activation: 'sigmoid' },
  ],
  loss: 'binary-crossentropy',
});

/** Each image moved by (dy, dx): out[i][j] = in[i − dy][j − dx], 0 where that falls outside; optionally mirrored after. */
function shifted(data: TrainingData, dy: number, dx: number, mirror: boolean): TrainingData {
  const x = new Float32Array(data.x.length);
  for (let n = 0; n < data.n; n++) {
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) {
        const sc = mirror ? SIDE - 1 - c : c;
        const [fr, fc] = [r - dy, sc - dx];
        if (fr >= 0 && fr < SIDE && fc >= 0 && fc < SIDE) x[n * D + r * SIDE + c] = data.x[n * D + fr * SIDE + fc]!;
      }
    }
  }
  return { ...data, x };
}

let plain: Trainer;
let tta: Trainer;
let shifts: Trainer;
beforeAll(async () => {
  plain = await Trainer.create({ spec: spec(false), inputDim: D, prefer: 'wasm', logger });
  tta = await Trainer.create({ spec: spec(true), inputDim: D, prefer: 'wasm', logger });
  shifts = await Trainer.create({ spec: spec(true, 1), inputDim: D, prefer: 'wasm', logger });
});
afterAll(() => {
  plain.dispose();
  tta.dispose();
  shifts.dispose();
});

describe('image models in the Trainer (wasm, flat rows reshaped by the model)', () => {
  it('learns to find a blob (AUC > 0.9 held out) with augmentation, reproducibly per seed', async () => {
    const train = blobs(256, 1);
    const test = blobs(128, 2);
    const cfg = { epochs: 8, batchSize: 32, learningRate: 0.01, optimizer: 'adam' as const, proximalMu: 0, seed: 3 };
    const w0 = initialWeights(plain.spec, D, 1);
    const a = await plain.fit(w0, train, cfg);
    const b = await plain.fit(w0, train, cfg);
    expect(b.weights).toEqual(a.weights);
    const ev = plain.evaluate(a.weights, test);
    expect(ev.auc).toBeGreaterThan(0.9);
    expect(ev.numExamples).toBe(128);
  }, 120_000);

  it('test-time flip predicts the mean over the image and its mirror', () => {
    const data = blobs(6, 5);
    const w = initialWeights(plain.spec, D, 9);
    const mirrored = new Float32Array(data.x.length);
    for (let i = 0; i < data.n; i++) {
      for (let r = 0; r < SIDE; r++) for (let c = 0; c < SIDE; c++) mirrored[i * D + r * SIDE + c] = data.x[i * D + r * SIDE + (SIDE - 1 - c)]!;
    }
    const p = plain.predict(w, data);
    const q = plain.predict(w, { ...data, x: mirrored });
    const t = tta.predict(w, data);
    t.forEach((v, i) => expect(v).toBeCloseTo((p[i]! + q[i]!) / 2, 6));
    expect(Array.from(p)).not.toEqual(Array.from(q));
  });

  it('test-time shift predicts the mean over the 9 one-pixel shifts (zero-filled) of the image and of its mirror', () => {
    const data = blobs(6, 7);
    const w = initialWeights(plain.spec, D, 11);
    const expected = new Float64Array(data.n);
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        for (const mirror of [false, true]) plain.predict(w, shifted(data, dy, dx, mirror)).forEach((v, i) => (expected[i]! += v / 18));
      }
    }
    const t = shifts.predict(w, data);
    t.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    // It is not the flip-only prediction: the shifted views count.
    expect(Array.from(t).some((v, i) => Math.abs(v - tta.predict(w, data)[i]!) > 1e-4)).toBe(true);
  });

  it('validates augment and ships cnn-breastmnist with it', () => {
    expect(() => validateModelSpec({ ...spec(true), augment: { testTimeFlip: 'yes' } })).toThrow(ConfigError);
    expect(() => validateModelSpec(spec(true, 3))).toThrow(/augment\.testTimeShift.*0\.\.2/);
    expect(() => validateModelSpec(spec(true, 0.5))).toThrow(/augment\.testTimeShift/);
    expect(() => validateModelSpec({ ...spec(true), inputShape: undefined, layers: [{ type: 'dense', units: 1, activation: 'sigmoid' }] })).toThrow(/augment/);
    expect(getModelSpec('cnn-breastmnist').augment).toEqual({ flipHorizontal: true, maxShift: 2, intensityJitter: 0.2, testTimeFlip: true });
    expect(() => validateModelSpec({ ...spec(true), augment: { intensityJitter: 0.9 } })).toThrow(/intensityJitter/);
  });

  it('builds the BreastMNIST family from one template: same head and augmentation, filters and conv depth vary', () => {
    const convs = (name: string): number[] => getModelSpec(name).layers.flatMap((l) => (l.type === 'conv2d' ? [l.filters] : []));
    expect(convs('cnn-breastmnist')).toEqual([16, 32, 64]);
    expect(convs('cnn-breastmnist-wide')).toEqual([24, 48, 96]);
    expect(convs('cnn-breastmnist-deep')).toEqual([16, 16, 32, 32, 64, 64]);
    const base = getModelSpec('cnn-breastmnist');
    for (const name of ['cnn-breastmnist-wide', 'cnn-breastmnist-deep']) {
      const s = getModelSpec(name);
      // The deep default also averages its predictions over 1-pixel test-time shifts.
      expect(s.augment).toEqual(name === 'cnn-breastmnist-deep' ? { ...base.augment, testTimeShift: 1 } : base.augment);
      expect(s.layers.filter((l) => l.type === 'maxPooling2d')).toHaveLength(3);
      expect(s.layers.slice(-2)).toEqual(base.layers.slice(-2));
    }
    expect(totalParams(weightLayout(getModelSpec('cnn-breastmnist-deep'), 28 * 28))).toBe(108_785);
  });
});

describe('roundLearningRate', () => {
  it('decays per round from the configured rate, constant without a decay', () => {
    expect(roundLearningRate({ learningRate: 0.002 }, 7)).toBe(0.002);
    expect(roundLearningRate({ learningRate: 0.002, learningRateDecay: 0.5 }, 1)).toBe(0.002);
    expect(roundLearningRate({ learningRate: 0.002, learningRateDecay: 0.5 }, 3)).toBeCloseTo(0.0005, 12);
  });
});
