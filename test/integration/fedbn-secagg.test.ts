/**
 * FedBN end to end: a real coordinator and three agents over mTLS, secure aggregation on, a study with
 * `training.fedBn`: the published and aggregated model has no batch-normalisation weights, every site
 * accepts, trains, masks and sends that layout, and the study completes; then the same with site-level DP.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
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

describe('FedBN with site-level DP under secure aggregation (3 agents over mTLS)', () => {
  let fed: Federation;

  beforeAll(async () => {
    fed = await startFederation({
      sites: 3,
      agent: (siteId, dir) => {
        const policy = path.join(dir, `${siteId}-privacy-policy.json`);
        writeFileSync(policy, JSON.stringify({ maxEpsilonPerStudy: 8, maxDeltaPerStudy: 1e-5, maxEpsilonTotal: 8, maxDeltaTotal: 1e-4, minNoiseMultiplier: 0.1, allowedModels: ['mlp-bn'] }));
        return { config: { privacy: { policy, ledger: path.join(dir, `${siteId}-ledger.sqlite`) } } };
      },
    });
    for (let i = 0; i < 3; i++) await fed.startAgent(i);
  });

  afterAll(async () => {
    await fed?.close();
  });

  it('clips, noises and aggregates the exchanged vector only', { timeout: 180_000 }, async () => {
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const exchanged = totalParams(exchangedLayout(weightLayout(getModelSpec('mlp-bn'), inputDim), true));
    const study = await fed.coordinator.createStudy(
      makeStudy({
        id: 'fedbn-dp',
        model: 'mlp-bn',
        inputDim,
        rounds: 2,
        minSites: 3,
        training: { localEpochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'adam', fedBn: true },
        privacy: { mode: 'site', epsilon: 8, delta: 1e-5, accountant: 'pld', clipNorm: 0.5, samplingRate: 1, stepsPerRound: 1 },
      }),
    );
    const done = await fed.coordinator.runStudy(study.id);
    expect(done.status).toBe('completed');
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds).toHaveLength(2);
    for (const r of rounds) {
      const bytes = await fed.coordinator.models.get(r.modelOut ?? r.modelIn);
      expect(decodeWeights(bytes, bytes.byteLength / 4)).toHaveLength(exchanged);
    }
  });
});
