/**
 * Real TF.js training of the radiology models: the residual network learns on 64×64 images, a softmax
 * head learns three classes, a multi-label head two findings, and FedBN keeps each site's
 * batch-normalisation weights out of what it sends while using them for its own predictions.
 */
import { describe, expect, it } from 'vitest';

import { createLogger } from '../../../shared/src/logging.js';
import { exchangedLayout, getModelSpec, initialExchangedWeights, initialWeights, totalParams, weightLayout, type ModelSpec } from '../../../shared/src/ml/index.js';
import { createRng } from '../../../shared/src/rng.js';
import { Trainer, type FitConfig, type TrainingData } from '../../../site-agent/src/training/index.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const cfg = (epochs: number, learningRate = 0.01): FitConfig => ({ epochs, batchSize: 8, learningRate, optimizer: 'adam', proximalMu: 0, seed: 5 });

/**
 * `n` grey `side × side` images on noise with a bright square in one of `classes` horizontal bands
 * (the class); `multiLabel` instead puts a square in each of two bands independently.
 */
function bands(n: number, side: number, classes: number, seed: number, opts: { multiLabel?: boolean; gain?: number; offset?: number } = {}): TrainingData {
  const rng = createRng(seed);
  const d = side * side;
  const k = opts.multiLabel ? 2 : classes;
  const x = new Float32Array(n * d);
  const y = new Float32Array(n * (classes === 2 && !opts.multiLabel ? 1 : k));
  const gain = opts.gain ?? 1;
  const offset = opts.offset ?? 0;
  const square = (i: number, band: number, bands: number): void => {
    const r = Math.floor((band * side) / bands) + 1;
    const c = 1 + rng.int(side - Math.floor(side / 4) - 2);
    const s = Math.max(2, Math.floor(side / (bands * 2)));
    for (let a = 0; a < s; a++) for (let b = 0; b < s; b++) x[i * d + (r + a) * side + c + b] = 1;
  };
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < d; p++) x[i * d + p] = rng.next() * 0.3;
    if (opts.multiLabel) {
      for (let f = 0; f < 2; f++) if (rng.next() < 0.5) { square(i, f, 2); y[i * 2 + f] = 1; }
    } else if (classes === 2) {
      y[i] = i % 2;
      if (y[i] === 1) square(i, rng.int(2), 2);
    } else {
      const c = i % classes;
      square(i, c, classes);
      y[i * classes + c] = 1;
    }
    for (let p = 0; p < d; p++) x[i * d + p] = (x[i * d + p] as number) * gain + offset;
  }
  return { x, y, n, d };
}

/** A small image model with batch normalisation and a head of `units` outputs. */
const bnSpec = (loss: ModelSpec['loss'], units: number, activation: 'sigmoid' | 'softmax'): ModelSpec => ({
  name: 'bn-test',
  description: 'test',
  inputShape: [16, 16, 1],
  layers: [
    { type: 'conv2d', filters: 8, kernelSize: 3, padding: 'same', activation: 'linear' },
    { type: 'batchNormalization', momentum: 0.5 },
    { type: 'activation', activation: 'relu' },
    { type: 'maxPooling2d', poolSize: 2 },
    { type: 'residualBlock', filters: 8 },
    { type: 'flatten' },
    { type: 'dense', units, activation },
  ],
  loss,
});

describe('training the radiology models with TF.js', () => {
  it('resnet-small learns 64×64 images: the loss falls well below its start', { timeout: 120_000 }, async () => {
    // Arrange
    const spec = getModelSpec('resnet-small');
    const data = bands(48, 64, 2, 1);
    const trainer = await Trainer.create({ spec, inputDim: 64 * 64, logger });
    const w0 = initialWeights(spec, 64 * 64, 11);
    try {
      const before = trainer.evaluate(w0, data);
      // Act
      const fit = await trainer.fit(w0, data, cfg(6));
      // Assert
      expect(fit.weights.length).toBe(77_857);
      expect(fit.metrics.loss).toBeLessThan(before.loss * 0.8);
    } finally {
      trainer.dispose();
    }
  });

  it('a softmax head learns three classes and reports per-class AUC and balanced accuracy', { timeout: 60_000 }, async () => {
    const spec = bnSpec('categorical-crossentropy', 3, 'softmax');
    const train = bands(60, 16, 3, 2);
    const test = bands(30, 16, 3, 3);
    const trainer = await Trainer.create({ spec, inputDim: 256, logger });
    try {
      const fit = await trainer.fit(initialWeights(spec, 256, 4), train, cfg(12, 0.02));
      const ev = trainer.evaluate(fit.weights, test);
      expect(ev.perClassAuc).toHaveLength(3);
      expect(ev.auc).toBeGreaterThan(0.8);
      expect(ev.balancedAccuracy).toBeGreaterThan(0.6);
      expect(trainer.predict(fit.weights, test)).toHaveLength(30 * 3);
    } finally {
      trainer.dispose();
    }
  });

  it('a multi-label sigmoid head learns two independent findings', { timeout: 60_000 }, async () => {
    const spec = bnSpec('binary-crossentropy', 2, 'sigmoid');
    const trainer = await Trainer.create({ spec, inputDim: 256, logger });
    try {
      const fit = await trainer.fit(initialWeights(spec, 256, 4), bands(60, 16, 2, 5, { multiLabel: true }), cfg(12, 0.02));
      const ev = trainer.evaluate(fit.weights, bands(30, 16, 2, 6, { multiLabel: true }));
      expect(ev.perClassAuc).toHaveLength(2);
      expect(ev.auc).toBeGreaterThan(0.8);
      expect(ev.balancedAccuracy).toBeUndefined();
    } finally {
      trainer.dispose();
    }
  });

  it('FedBN: a site sends only the exchanged weights and predicts with its own normalisation statistics', { timeout: 60_000 }, async () => {
    // Arrange: two sites whose scanners differ in gain and offset (the feature shift FedBN targets).
    const spec = bnSpec('binary-crossentropy', 1, 'sigmoid');
    const layout = weightLayout(spec, 256);
    const global = initialExchangedWeights(spec, 256, 9, true);
    const siteA = await Trainer.create({ spec, inputDim: 256, logger, fedBn: true });
    const siteB = await Trainer.create({ spec, inputDim: 256, logger, fedBn: true });
    const plain = await Trainer.create({ spec, inputDim: 256, logger });
    const probe = bands(16, 16, 2, 8);
    try {
      // Act
      const a = await siteA.fit(global, bands(40, 16, 2, 10), cfg(3));
      await siteB.fit(global, bands(40, 16, 2, 11, { gain: 3, offset: 0.5 }), cfg(3));
      // Assert: the update is the exchanged vector, the length the coordinator aggregates.
      expect(siteA.numParams).toBe(totalParams(exchangedLayout(layout, true)));
      expect(a.weights.length).toBe(siteA.numParams);
      expect(siteA.numParams).toBeLessThan(totalParams(layout));
      expect(plain.numParams).toBe(totalParams(layout));
      // The same exchanged weights predict differently at the two sites: each uses its own BN statistics.
      const pa = siteA.predict(a.weights, probe);
      const pb = siteB.predict(a.weights, probe);
      expect(pa.some((v, i) => Math.abs(v - (pb[i] as number)) > 1e-4)).toBe(true);
      // And a site that has not trained yet predicts with the initial statistics, reproducibly.
      const fresh = await Trainer.create({ spec, inputDim: 256, logger, fedBn: true });
      expect(Array.from(fresh.predict(a.weights, probe))).toEqual(Array.from(fresh.predict(a.weights, probe)));
      fresh.dispose();
    } finally {
      siteA.dispose();
      siteB.dispose();
      plain.dispose();
    }
  });

  it('refuses DP-SGD for batch normalisation and softmax heads, naming the layer', async () => {
    const trainer = await Trainer.create({ spec: bnSpec('categorical-crossentropy', 3, 'softmax'), inputDim: 256, logger });
    const dp = { clipNorm: 1, noiseMultiplier: 1, samplingRate: 0.5, steps: 1 };
    try {
      await expect(trainer.fit(initialWeights(bnSpec('categorical-crossentropy', 3, 'softmax'), 256, 1), bands(8, 16, 3, 1), { ...cfg(1), dp })).rejects.toThrow(/DP-SGD/);
    } finally {
      trainer.dispose();
    }
  });
});
