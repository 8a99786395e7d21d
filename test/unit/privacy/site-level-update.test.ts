import { describe, expect, it } from 'vitest';
import { epsilonFor } from '../../../shared/src/dp/accountant.js';
import { encodeSiteLevelInput } from '../../../shared/src/dp/site-level.js';
import { resolveStudyPrivacy } from '../../../shared/src/dp/study-privacy.js';
import { validateConfig } from '../../../shared/src/config/validate.js';
import { StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import { privatizeUpdate } from '../../../site-agent/src/privacy/site-level-update.js';

describe('site-level DP-FedAvg at the site (privatizeUpdate)', () => {
  it('uploads global + clipped update + its noise share: unbiased, with the per-site variance, nothing else', () => {
    const dim = 6;
    const global = Float32Array.from({ length: dim }, (_, i) => i / 10);
    // Raw update of norm 5 (3, 4, 0, …), clipped to 1 → (0.6, 0.8, 0, …).
    const local = Float32Array.from(global, (g, i) => g + (i === 0 ? 3 : i === 1 ? 4 : 0));
    const dp = { clipNorm: 1, noiseMultiplier: 2, noiseShares: 4, quantizationScale: 1024 };
    const runs = 3000;
    const sum = new Float64Array(dim);
    const sq = new Float64Array(dim);
    let sigma = 0;
    for (let r = 0; r < runs; r++) {
      const out = privatizeUpdate(global, local, dp);
      expect(out.norm).toBeCloseTo(5, 5);
      expect(out.unclipped).toBe(0);
      sigma = out.sigmaPerSite;
      out.weights.forEach((w, i) => {
        const d = w - (global[i] as number);
        sum[i] = (sum[i] as number) + d;
        sq[i] = (sq[i] as number) + d * d;
      });
    }
    // σ per site in integer units: z·(C·scale + √d)/√shares.
    expect(sigma).toBeCloseTo((2 * (1024 + Math.sqrt(dim))) / 2, 9);
    const std = sigma / 1024; // in update units
    const expected = [0.6, 0.8, 0, 0, 0, 0];
    for (let i = 0; i < dim; i++) {
      const mean = (sum[i] as number) / runs;
      const variance = (sq[i] as number) / runs - mean * mean;
      expect(Math.abs(mean - (expected[i] as number)), `coordinate ${i}`).toBeLessThan((6 * std) / Math.sqrt(runs));
      expect(Math.abs(variance / (std * std) - 1)).toBeLessThan(6 * Math.sqrt(2 / runs));
    }
  });

  it('the coordinator calibrates site-level σ so that each site share alone reaches the target without secure aggregation', () => {
    const spec = resolveStudyPrivacy(
      validateConfig(StudySpecSchema, {
        id: 's', name: 's', dataset: 'heart-disease', model: 'logreg', inputDim: 13, rounds: 20, strategy: 'fedavg', minSites: 4, secureAggregation: false,
        privacy: { mode: 'site', epsilon: 2, delta: 1e-5 },
      }, 'study'),
    );
    const z = spec.privacy?.noiseMultiplier as number;
    const perSite = epsilonFor('pld', { q: 1, sigma: z / 2, steps: 20 }, 1e-5);
    expect(perSite).toBeLessThanOrEqual(2);
    expect(perSite).toBeGreaterThan(1.99);
  });
});

describe('one site-level DP core for the plaintext and the secure-aggregation paths', () => {
  // A seeded edge (fakes only at the edge: the random source), the same stream fed to both paths.
  function seeded(seed: number): { uniform01: () => number; uniformBig: (m: bigint) => bigint } {
    let s = seed >>> 0;
    const next = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    return { uniform01: next, uniformBig: (m: bigint) => BigInt(Math.floor(next() * Number(m))) % m };
  }

  it('privatizeUpdate uploads global + (the integers encodeSiteLevelInput sends) / scale, coordinate for coordinate', () => {
    const d = 257;
    const global = Float32Array.from({ length: d }, (_, i) => Math.sin(i) / 10);
    const local = Float32Array.from({ length: d }, (_, i) => (global[i] as number) + Math.cos(i * 1.7) * 0.3);
    const dp = { clipNorm: 1, noiseMultiplier: 1.1, noiseShares: 3, quantizationScale: 4096 };
    const a = seeded(7);
    const plain = privatizeUpdate(global, local, dp, { uniform: a.uniform01, gaussian: () => undefined }, a.uniformBig);
    const b = seeded(7);
    const delta = Float32Array.from(local, (v, i) => v - (global[i] as number));
    const ints = new Int32Array(d);
    const secure = encodeSiteLevelInput(delta, { clip: 1, noiseMultiplier: 1.1, noiseShares: 3, scale: 4096, cohortSize: 3 }, ints, b.uniform01, b.uniformBig);
    expect(plain.norm).toBe(secure.norm);
    expect(plain.unclipped).toBe(secure.unclipped);
    expect(plain.sigmaPerSite).toBe(secure.sigmaPerSite);
    for (let i = 0; i < d; i++) expect(plain.weights[i]).toBe(Math.fround((global[i] as number) + (ints[i] as number) / 4096));
  });
});
