import { describe, expect, it } from 'vitest';
import { epsilonFor } from '../../../shared/src/dp/accountant.js';
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
