/**
 * FedBN end to end: a real coordinator and three agents over mTLS, secure aggregation on, a study with
 * `training.fedBn`: the published and aggregated model has no batch-normalisation weights, every site
 * accepts, trains, masks and sends that layout, and the study completes with evaluations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { getModelSpec } from '../../shared/src/ml/model-registry.js';
import { decodeWeights, exchangedLayout, totalParams, weightLayout } from '../../shared/src/ml/weights.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';

describe('FedBN under secure aggregation (3 agents over mTLS)', () => {
  let fed: Federation;

  beforeAll(async () => {
    fed = await startFederation({ sites: 3 });
    for (let i = 0; i < 3; i++) await fed.startAgent(i);
  });

  afterAll(async () => {
    await fed?.close();
  });

  it('aggregates only the exchanged weights, round after round', { timeout: 180_000 }, async () => {
    // Arrange
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const layout = weightLayout(getModelSpec('mlp-bn'), inputDim);
    const exchanged = totalParams(exchangedLayout(layout, true));
    expect(exchanged).toBeLessThan(totalParams(layout));
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'fedbn', model: 'mlp-bn', inputDim, rounds: 2, minSites: 3, training: { localEpochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'adam', fedBn: true } }));

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert
    expect(done.status).toBe('completed');
    expect(done.spec.secureAggregation).toBe(true);
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds).toHaveLength(2);
    for (const r of rounds) {
      for (const version of [r.modelIn, r.modelOut]) {
        if (version === null) continue;
        const bytes = await fed.coordinator.models.get(version);
        expect(decodeWeights(bytes, bytes.byteLength / 4)).toHaveLength(exchanged);
      }
    }
  });
});
