import { describe, expect, it } from 'vitest';
import { decodeStrategyState, encodeStrategyState } from '../../../coordinator/src/rounds/strategy-state.js';
import {
  COUNT_UNITS,
  createSecureRandom,
  decodeSiteLevelSum,
  distributedNoise,
  encodeSiteLevelInput,
  epsilonFor,
  NOISE_TAIL_SIGMAS,
  perSiteLimit,
  resolveStudyPrivacy,
  siteLevelScale,
  updateNoiseMultiplier,
} from '../../../shared/src/dp/index.js';
import { dpStudy as study } from '../../helpers/dp-study.js';

describe('site-level DP in the integer domain of secure aggregation', () => {
  it('chooses the largest scale whose clipped, rounded, 12σ-noised coordinate fits a cohort’s 32-bit sum', () => {
    for (const [cohort, z, shares, dim] of [[3, 1.2, 3, 14], [100, 1, 50, 1_000_000], [4, 20, 4, 100]] as const) {
      const clip = 0.7;
      const scale = siteLevelScale({ clip, noiseMultiplier: z, noiseShares: shares, cohortSize: cohort, dim });
      const sigma = distributedNoise({ noiseMultiplier: z, clip, scale, dim, sites: shares }).sigmaPerSite;
      const worst = clip * scale + 1 + NOISE_TAIL_SIGMAS * sigma;
      expect(worst).toBeLessThanOrEqual(perSiteLimit(cohort));
      // …and one more unit per clipping bound would not fit.
      const bigger = (clip * scale + 1) / clip;
      const sigma2 = distributedNoise({ noiseMultiplier: z, clip, scale: bigger, dim, sites: shares }).sigmaPerSite;
      expect(clip * bigger + 1 + NOISE_TAIL_SIGMAS * sigma2).toBeGreaterThan(perSiteLimit(cohort));
    }
    expect(() => siteLevelScale({ clip: 1, noiseMultiplier: 50, noiseShares: 1, cohortSize: 5000, dim: 10 })).toThrow(/fewer than 2\^10 integer units/);
  });

  it('encodes clip(Δ)·s + N_Z(0, σ²) per site; the sum of n sites decodes to the mean clipped update with the full noise z', () => {
    const d = 400;
    const n = 4;
    const clip = 1;
    const z = 1.5;
    const scale = siteLevelScale({ clip, noiseMultiplier: z, noiseShares: n, cohortSize: n, dim: d });
    const random = createSecureRandom();
    const deltas = Array.from({ length: n }, (_, s) => Float32Array.from({ length: d }, (_, i) => (s === 0 ? 10 : 0.01) * Math.sin(i + s)));
    const sum = new Int32Array(d);
    let sigma = 0;
    const unclipped: number[] = [];
    for (const delta of deltas) {
      const out = new Int32Array(d);
      const enc = encodeSiteLevelInput(delta, { clip, noiseMultiplier: z, noiseShares: n, scale, cohortSize: n }, out, () => random.uniform());
      sigma = enc.sigmaPerSite;
      unclipped.push(enc.unclipped);
      for (let i = 0; i < d; i++) sum[i] = (sum[i] as number) + (out[i] as number);
    }
    expect(unclipped).toEqual([0, 1, 1, 1]);
    const { meanDelta, noisyUnclipped } = decodeSiteLevelSum(sum, d, scale, n, false);
    expect(noisyUnclipped).toBeUndefined();
    // Expected mean of the clipped updates; the residual is the summed noise, std z·(C·s + √d)/n in update units per mean.
    const norm0 = Math.hypot(...deltas[0]!);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      let mean = 0;
      deltas.forEach((dl, s) => (mean += (dl[i] as number) * (s === 0 ? clip / norm0 : 1)));
      mean /= n;
      sq += ((meanDelta[i] as number) - mean) ** 2;
    }
    const expectedStd = (Math.sqrt(n) * sigma) / (scale * n);
    expect(sigma).toBeCloseTo((z * (clip * scale + Math.sqrt(d))) / Math.sqrt(n), 6);
    const ratio = sq / d / expectedStd ** 2;
    expect(ratio).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1.3);
  });

  it('with adaptive clipping appends the centred unclipped bit with its count noise, and the update takes z_Δ', () => {
    const d = 8;
    const n = 3;
    const count = { countNoise: 0.001 }; // tiny count noise so the test reads the bits back exactly
    const z = 0.001;
    const scale = siteLevelScale({ clip: 1, noiseMultiplier: updateNoiseMultiplier(z, count.countNoise), noiseShares: n, cohortSize: n, dim: d });
    const sum = new Int32Array(d + 1);
    const random = createSecureRandom();
    for (const size of [0.1, 0.2, 5]) {
      const out = new Int32Array(d + 1);
      const enc = encodeSiteLevelInput(new Float32Array(d).fill(size), { clip: 1, noiseMultiplier: z, noiseShares: n, scale, cohortSize: n, count }, out, () => random.uniform());
      expect(enc.updateNoiseMultiplier).toBeCloseTo(updateNoiseMultiplier(z, count.countNoise), 12);
      expect(enc.countSigmaPerSite).toBeCloseTo((count.countNoise * COUNT_UNITS) / Math.sqrt(n), 9);
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (out[i] as number);
    }
    const { noisyUnclipped } = decodeSiteLevelSum(sum, d, scale, n, true);
    // Two of three updates (norms 0.28, 0.57) were within the bound 1; the third (14.1) was clipped.
    expect(noisyUnclipped).toBeCloseTo(2, 1);
  });

  it('refuses to send a value outside the per-site bound instead of clamping its noise', () => {
    const out = new Int32Array(4);
    const random = createSecureRandom();
    // A scale far beyond siteLevelScale: the clipped coordinate alone exceeds the bound of a 3-site sum
    // (noise tiny next to 2^30, so the first coordinate is over the bound on every draw).
    expect(() => encodeSiteLevelInput(Float32Array.of(1, 0, 0, 0), { clip: 1, noiseMultiplier: 1e-6, noiseShares: 3, scale: 2 ** 30, cohortSize: 3 }, out, () => random.uniform())).toThrow(
      /outside the ±715827882 bound of a 3-site sum/,
    );
  });

  it('calibrates σ for the secure sum (no √minSites share factor) and keeps the factor without secure aggregation', () => {
    const secure = resolveStudyPrivacy(study({ privacy: { mode: 'site', epsilon: 2, delta: 1e-5 } }));
    const plain = resolveStudyPrivacy(study({ secureAggregation: false, privacy: { mode: 'site', epsilon: 2, delta: 1e-5 } }));
    const zs = secure.privacy?.noiseMultiplier as number;
    const zp = plain.privacy?.noiseMultiplier as number;
    expect(epsilonFor('pld', { q: 1, sigma: zs, steps: 20 }, 1e-5)).toBeLessThanOrEqual(2);
    expect(epsilonFor('pld', { q: 1, sigma: zs, steps: 20 }, 1e-5)).toBeGreaterThan(1.99);
    expect(zp).toBeCloseTo(zs * 2, 3);
  });

  it('persists the adaptive clipping bound with the strategy state (and reads states written before it existed)', () => {
    const m = Float32Array.of(1, 2);
    const withClip = decodeStrategyState(encodeStrategyState({ t: 3, m, clipNorm: 0.8125 }));
    expect(withClip).toEqual({ t: 3, m, clipNorm: 0.8125 });
    expect(decodeStrategyState(encodeStrategyState({ t: 3, m }))).toEqual({ t: 3, m });
    const bad = encodeStrategyState({ t: 1, clipNorm: 1 });
    bad.writeDoubleLE(Number.NaN, bad.byteLength - 8);
    expect(() => decodeStrategyState(bad)).toThrow(/invalid clip norm/);
  });
});
