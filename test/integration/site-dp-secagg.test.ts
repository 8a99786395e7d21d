import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeStrategyState } from '../../coordinator/src/rounds/strategy-state.js';
import type { CoordinatorEvent } from '../../coordinator/src/rounds/events.js';
import { epsilonFor } from '../../shared/src/dp/accountant.js';
import { COUNT_UNITS, decodeSiteLevelSum, distributedNoise, nextClipNorm, perSiteLimit, siteLevelScale, updateNoiseMultiplier } from '../../shared/src/dp/site-level.js';
import { decodeWeights } from '../../shared/src/ml/weights.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';

const SITES = ['site-1', 'site-2', 'site-3'];
const ROUNDS = 3;
const CLIP = 0.5;
const COUNT_NOISE = 2;
const ADAPTIVE = { targetQuantile: 0.5, learningRate: 0.2, countNoise: COUNT_NOISE };

describe('site-level DP-FedAvg under secure aggregation (3 agents over mTLS, adaptive clipping)', () => {
  let fed: Federation;

  beforeAll(async () => {
    fed = await startFederation({
      sites: 3,
      agent: (siteId, dir) => {
        const policy = path.join(dir, `${siteId}-privacy-policy.json`);
        writeFileSync(policy, JSON.stringify({ maxEpsilonPerStudy: 8, maxDeltaPerStudy: 1e-5, maxEpsilonTotal: 8, maxDeltaTotal: 1e-4, minNoiseMultiplier: 0.1, allowedModels: ['logreg'] }));
        return { config: { privacy: { policy, ledger: path.join(dir, `${siteId}-ledger.sqlite`) } }, secaggAuditDir: path.join(dir, 'audit', siteId) };
      },
    });
    for (let i = 0; i < 3; i++) await fed.startAgent(i);
  });

  afterAll(async () => {
    await fed?.close();
  });

  it('sums the sites’ noisy integer inputs bit-exactly, accounts the noise of the sum, and moves the clipping bound from the noisy count', async () => {
    // Arrange: ε = 8 over 3 rounds, the noise split over the study's 3 sites.
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const study = await fed.coordinator.createStudy(
      makeStudy({ id: 'site-dp', inputDim, rounds: ROUNDS, minSites: 3, privacy: { mode: 'site', epsilon: 8, delta: 1e-5, accountant: 'pld', clipNorm: CLIP, samplingRate: 1, stepsPerRound: 1, adaptiveClipping: ADAPTIVE } }),
    );
    const z = study.spec.privacy?.noiseMultiplier as number;

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert: completed under secure aggregation.
    expect(done.status).toBe('completed');
    expect(done.spec.secureAggregation).toBe(true);
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed').sort((a, b) => a.round - b.round);
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);

    // Replay every round from what the sites actually contributed (their local audit copies of the unmasked input).
    const zDelta = updateNoiseMultiplier(z, COUNT_NOISE);
    let clip = CLIP;
    let residualSq = 0;
    let residualExpected = 0;
    for (const r of rounds) {
      const globalBytes = await fed.coordinator.models.get(r.modelIn);
      const global = decodeWeights(globalBytes, globalBytes.byteLength / 4);
      const d = global.length;
      const scale = siteLevelScale({ clip, noiseMultiplier: zDelta, noiseShares: 3, cohortSize: 3, dim: d });
      const { sigmaPerSite } = distributedNoise({ noiseMultiplier: zDelta, clip, scale, dim: d, sites: 3 });
      const sum = new Uint32Array(d + 2);
      for (const site of SITES) {
        const base = path.join(fed.dir, 'audit', site, `${study.id}_r${r.round}_a${r.attempt}`);
        const input = new Int32Array(new Uint8Array(readFileSync(`${base}.quantized.u32`)).buffer);
        const trained = decodeWeights(readFileSync(`${base}.weights.f32`), d);
        // Layout: d noisy update coordinates, the noisy centred count, the weight 1.
        expect(input).toHaveLength(d + 2);
        expect(input[d + 1]).toBe(1);
        for (const v of input.subarray(0, d + 1)) expect(Math.abs(v)).toBeLessThanOrEqual(perSiteLimit(3));
        // What the site added beyond its clipped, scaled update: its discrete Gaussian share (± rounding).
        let norm = 0;
        for (let i = 0; i < d; i++) norm += ((trained[i] as number) - (global[i] as number)) ** 2;
        const factor = Math.min(1, clip / Math.sqrt(norm));
        for (let i = 0; i < d; i++) residualSq += ((input[i] as number) - ((trained[i] as number) - (global[i] as number)) * factor * scale) ** 2;
        residualExpected += d * (sigmaPerSite ** 2 + 1 / 6);
        for (let i = 0; i < sum.length; i++) sum[i] = ((sum[i] as number) + (input[i] as number)) >>> 0;
      }
      // The committed model is the decoded secure sum, bit for bit.
      const { meanDelta, noisyUnclipped } = decodeSiteLevelSum(new Int32Array(sum.buffer), d, scale, 3, true);
      const outBytes = await fed.coordinator.models.get(r.modelOut ?? '');
      const out = decodeWeights(outBytes, d);
      const expected = Float32Array.from(global, (g, i) => g + (meanDelta[i] as number));
      expect(Array.from(out)).toEqual(Array.from(expected));
      // The count is noisy (σ_b·U per sum) but centred on a count of 0..3 sites.
      expect(Math.abs((noisyUnclipped as number) - 1.5)).toBeLessThan(1.5 + 12 * COUNT_NOISE);
      expect(Number.isInteger((noisyUnclipped as number) * COUNT_UNITS * 2)).toBe(true);
      clip = nextClipNorm(clip, noisyUnclipped as number, 3, ADAPTIVE);
    }
    // Noise really was added, with the per-site variance the accounting assumes (pooled over sites and rounds).
    const ratio = residualSq / residualExpected;
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(1.6);
    // Adaptive clipping: the bound the coordinator committed for the next round is the one the noisy counts give.
    const state = decodeStrategyState((await fed.coordinator.store.getStrategyState(study.id)) as Buffer);
    expect(state.clipNorm).toBeCloseTo(clip, 12);
    expect(state.clipNorm).not.toBe(CLIP);

    // Each site's own ledger charges the noise of the secure sum (z), not its share alone (z/√3).
    const spent = fed.events.filter((e): e is Extract<CoordinatorEvent, { type: 'site-privacy' }> => e.type === 'site-privacy');
    expect(new Set(spent.map((e) => e.siteId))).toEqual(new Set(SITES));
    const last = spent.filter((e) => e.round === ROUNDS);
    const expectedEps = epsilonFor('pld', { q: 1, sigma: z, steps: ROUNDS }, 1e-5);
    for (const e of last) expect(e.epsilon).toBeCloseTo(expectedEps, 3);
    expect(expectedEps).toBeLessThanOrEqual(8);
    expect(expectedEps).toBeGreaterThan(7.9);
    // Nothing of the audit folder is ever sent: the coordinator holds no per-site update for these rounds.
    for (const r of rounds) {
      const outcomes = await fed.coordinator.store.listRoundSites(study.id, r.round, r.attempt);
      expect(outcomes.filter((o) => o.phase === 'fit').map((o) => [o.outcome, o.updateSha256, o.numExamples])).toEqual(SITES.map(() => ['ok', null, 0]));
    }
    expect(readdirSync(path.join(fed.dir, 'audit', 'site-1')).length).toBe(ROUNDS * 2);
  });
});
