/**
 * FedBN across the wire's two ends without the network: the coordinator publishes the exchanged round-0
 * vector and aggregates with its real FedAvg; two site trainers merge it with their own batch-normalisation
 * weights, train, and send back vectors of the published length; a second round starts from the aggregate.
 * The study option reaches the site in the task (`training.fedBn`), which sizes the model it accepts.
 */
import { describe, expect, it } from 'vitest';

import { FedAvg } from '../../../coordinator/src/strategies/fedavg.js';
import { createLogger } from '../../../shared/src/logging.js';
import { exchangedLayout, initialExchangedWeights, totalParams, weightLayout, type ModelSpec } from '../../../shared/src/ml/index.js';
import { StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import { validateConfig } from '../../../shared/src/config/validate.js';
import { createRng } from '../../../shared/src/rng.js';
import { Trainer, type TrainingData } from '../../../site-agent/src/training/index.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const spec: ModelSpec = {
  name: 'fedbn-round',
  description: 'test',
  inputShape: [8, 8, 1],
  layers: [
    { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'linear' },
    { type: 'batchNormalization' },
    { type: 'activation', activation: 'relu' },
    { type: 'globalAveragePooling2d' },
    { type: 'dense', units: 1, activation: 'sigmoid' },
  ],
  loss: 'binary-crossentropy',
};

function data(seed: number, gain: number): TrainingData {
  const rng = createRng(seed);
  const n = 24;
  const x = Float32Array.from({ length: n * 64 }, () => rng.next() * gain);
  return { x, y: Float32Array.from({ length: n }, (_, i) => i % 2), n, d: 64 };
}

describe('a FedBN round end to end (coordinator FedAvg and two site trainers)', () => {
  it('keeps one exchanged layout on both sides for two rounds', async () => {
    // Arrange
    const published = initialExchangedWeights(spec, 64, 1, true);
    const layout = weightLayout(spec, 64);
    expect(published.length).toBe(totalParams(exchangedLayout(layout, true)));
    const sites = [await Trainer.create({ spec, inputDim: 64, logger, fedBn: true }), await Trainer.create({ spec, inputDim: 64, logger, fedBn: true })];
    const cfg = { epochs: 2, batchSize: 8, learningRate: 0.01, optimizer: 'adam' as const, proximalMu: 0, seed: 1 };
    try {
      let global = published;
      for (let round = 1; round <= 2; round++) {
        // Act
        const updates = await Promise.all(sites.map(async (t, i) => ({ siteId: `site-${i}`, weights: (await t.fit(global, data(round * 10 + i, i === 0 ? 1 : 4), cfg)).weights, numExamples: 24 })));
        // Assert: every update has the published length and the real FedAvg takes them.
        for (const u of updates) expect(u.weights.length).toBe(published.length);
        global = new FedAvg().aggregate(global, updates);
        expect(global.length).toBe(published.length);
      }
    } finally {
      for (const t of sites) t.dispose();
    }
  });

  it('is a study option (training.fedBn), off by default', () => {
    const base = { id: 'study-1', name: 'CT', strategy: 'fedavg', model: 'resnet-small', dataset: 'ct', inputDim: 128 * 128, rounds: 1 };
    expect(validateConfig(StudySpecSchema, base, 'study').training.fedBn).toBeUndefined();
    expect(validateConfig(StudySpecSchema, { ...base, training: { fedBn: true } }, 'study').training.fedBn).toBe(true);
    expect(() => validateConfig(StudySpecSchema, { ...base, training: { fedBn: 'yes' } }, 'study')).toThrow(/fedBn/);
  });
});
