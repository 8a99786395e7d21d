/**
 * FedBN end to end: a real coordinator and three agents over mTLS, secure aggregation on, a study with
 * `training.fedBn`: the published and aggregated model has no batch-normalisation weights, every site
 * accepts, trains, masks and sends that layout, and the study completes; then the same with site-level DP;
 * then an agent restarted between rounds carries on with the normalisation it saved in its state folder, and
 * `tessera export-model --site-state` exports that site's model (global weights + its own normalisation).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { exportModelCommand, type ExportModelReport } from '../../cli/src/commands/export-model.js';
import { getModelSpec } from '../../shared/src/ml/model-registry.js';
import { decodeWeights, encodeWeights, exchangedLayout, initialWeights, splitExchanged, totalParams, weightLayout } from '../../shared/src/ml/weights.js';
import { fedBnStateFile, readFedBnState } from '../../site-agent/src/training/fedbn-state.js';
import { captureLogger } from '../helpers/log-capture.js';
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

describe('FedBN site weights survive an agent restart between rounds (3 agents over mTLS, secure aggregation)', () => {
  let fed: Federation;

  beforeAll(async () => {
    fed = await startFederation({ sites: 3 });
    for (let i = 0; i < 3; i++) await fed.startAgent(i);
  });

  afterAll(async () => {
    await fed?.close();
  });

  async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('persists each site\'s normalisation per study (0600, atomic), restores it after a restart, and exports the site\'s own model', { timeout: 240_000 }, async () => {
    // Arrange: round 1, then pause (the round in flight commits first).
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const spec = getModelSpec('mlp-bn');
    const layout = weightLayout(spec, inputDim);
    const study = await fed.coordinator.createStudy(
      makeStudy({ id: 'fedbn-restart', model: 'mlp-bn', inputDim, rounds: 2, minSites: 3, training: { localEpochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'adam', fedBn: true } }),
    );
    await fed.coordinator.startStudy(study.id);
    await waitFor('round 1 to start', () => fed.events.some((e) => e.type === 'round-started' && e.studyId === study.id));
    await fed.coordinator.stopStudy(study.id, 'pause');
    await waitFor('the pause', async () => !fed.coordinator.isRunning(study.id) && (await fed.coordinator.store.getStudy(study.id))?.status === 'paused');
    expect((await fed.coordinator.store.getStudy(study.id))?.completedRounds).toBe(1);
    const stateDir = path.join(fed.pkiDir, 'sites', 'site-1', 'fedbn');
    const file = fedBnStateFile(stateDir, study.id);
    const saved = await readFedBnState(file, study.id);
    expect(saved).toMatchObject({ siteId: 'site-1', studyId: study.id, model: 'mlp-bn', inputDim, round: 1 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    const initialLocal = splitExchanged(initialWeights(spec, inputDim, 0), layout, true).local;
    expect(saved!.local).toHaveLength(initialLocal.length);
    // Training moved them off the initial values (gamma 1, beta 0, mean 0, variance 1): something worth keeping.
    expect(Buffer.from(encodeWeights(saved!.local)).equals(encodeWeights(initialLocal))).toBe(false);

    // Act: restart site-1's agent (a new process would read the same kit), then resume the study.
    fed.agents[0]!.stop();
    const log = captureLogger('site-1', 'info');
    await fed.startAgent(0, undefined, log.logger);
    await fed.coordinator.startStudy(study.id);
    await waitFor('the study to complete', async () => (await fed.coordinator.store.getStudy(study.id))?.status === 'completed');

    // Assert: the new agent started round 2 from the normalisation saved after round 1.
    const restored = log.find('FedBN normalisation weights restored');
    expect(restored).toHaveLength(1);
    expect(restored[0]).toMatchObject({ studyId: study.id, round: 1, sha256: createHash('sha256').update(encodeWeights(saved!.local)).digest('hex') });
    const after = await readFedBnState(file, study.id);
    expect(after?.round).toBe(2);
    const committed = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed').at(-1);
    expect(after?.global?.weights).toHaveLength(totalParams(exchangedLayout(layout, true)));

    // The export: a FedBN study's global model alone is refused; with a site's state it carries that site's normalisation.
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), now: () => new Date(0) };
    const dataDir = path.join(fed.dir, 'coordinator-data');
    expect(await exportModelCommand(['--data-dir', dataDir, '--study', study.id, '--out', path.join(fed.dir, 'x-global')], io)).toBe(2);
    expect(lines.join('\n')).toMatch(/uses FedBN: its global model has no batch normalisation/);
    lines.length = 0;
    const out1 = path.join(fed.dir, 'x-site-1');
    expect(await exportModelCommand(['--data-dir', dataDir, '--study', study.id, '--site-state', stateDir, '--out', out1, '--json'], io)).toBe(0);
    const report = JSON.parse(lines.join('\n')) as ExportModelReport;
    expect(report).toMatchObject({ studyId: study.id, modelVersion: committed?.modelOut, normalisation: { source: 'site', siteId: 'site-1', savedAfterRound: 2 } });
    const bin1 = readFileSync(path.join(out1, 'weights.bin'));
    expect(bin1.length).toBe(totalParams(layout) * 4);
    // mlp-bn has one batch-norm layer: its local vector is gamma, beta (trainable) then the moving mean and
    // variance; TF.js writes trainable weights first and the moving statistics last, so look for each half.
    const local = encodeWeights(after!.local);
    for (const half of [local.subarray(0, local.length / 2), local.subarray(local.length / 2)]) expect(bin1.includes(half), 'weights.bin carries site-1\'s normalisation').toBe(true);
    // The site on its own (no coordinator database): the last global model it received, and says whose normalisation.
    lines.length = 0;
    const own = path.join(fed.dir, 'x-own');
    expect(await exportModelCommand(['--site-state', stateDir, '--study', study.id, '--out', own], io)).toBe(0);
    expect(lines.join('\n')).toMatch(/batch normalisation: site site-1's own \(FedBN, saved after round 2\)/);
    // Another site's export differs only by its own normalisation.
    lines.length = 0;
    const out2 = path.join(fed.dir, 'x-site-2');
    expect(await exportModelCommand(['--data-dir', dataDir, '--study', study.id, '--site-state', path.join(fed.pkiDir, 'sites', 'site-2', 'fedbn'), '--out', out2], io)).toBe(0);
    expect(readFileSync(path.join(out2, 'weights.bin')).equals(bin1)).toBe(false);
  });
});

describe('FedBN with a state folder the agent cannot write (2 agents over mTLS, plaintext aggregation)', () => {
  let fed: Federation;
  const log = captureLogger('site-1', 'warn');

  beforeAll(async () => {
    fed = await startFederation({
      sites: 2,
      // A file where the folder should be: every save fails (as a read-only kit mount would).
      agent: (siteId, dir) => {
        const blocked = path.join(dir, `${siteId}-fedbn-blocked`);
        writeFileSync(blocked, 'not a folder');
        return { config: { fedBnState: blocked } };
      },
    });
    await fed.startAgent(0, undefined, log.logger);
    await fed.startAgent(1);
  });

  afterAll(async () => {
    await fed?.close();
  });

  it('trains on with the weights in memory and says, as an error, that they were not saved', { timeout: 120_000 }, async () => {
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const study = await fed.coordinator.createStudy(
      makeStudy({ id: 'fedbn-unsaved', model: 'mlp-bn', inputDim, rounds: 1, minSites: 2, secureAggregation: false, training: { localEpochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'adam', fedBn: true } }),
    );
    const done = await fed.coordinator.runStudy(study.id);
    expect(done.status).toBe('completed');
    const errors = log.find('FedBN state not saved');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.level).toBe(50);
  });
});
