import { describe, expect, it } from 'vitest';
import {
  addDiscreteGaussianNoise,
  clipUpdate,
  discreteGaussianSampler,
  distributedNoise,
  epsilonFor,
  nextClipNorm,
  siteLevelEpsilon,
  updateNoiseMultiplier,
} from '../../../shared/src/dp/index.js';
import { createRng } from '../../../shared/src/rng.js';

describe('discrete Gaussian sampler (CKS20, exact rationals, node:crypto)', () => {
  it('matches the N_Z(0, σ²) probability mass function (σ = 2.5, 60 000 samples)', () => {
    const sigma = 2.5;
    const n = 60_000;
    const sample = discreteGaussianSampler(sigma);
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const x = Number(sample());
      counts.set(x, (counts.get(x) ?? 0) + 1);
    }
    const weight = (x: number): number => Math.exp((-x * x) / (2 * sigma * sigma));
    let norm = 0;
    for (let x = -60; x <= 60; x++) norm += weight(x);
    // Every value within ±4σ: count within 6 standard errors of n·p(x).
    for (let x = -10; x <= 10; x++) {
      const expected = (n * weight(x)) / norm;
      const sd = Math.sqrt(expected * (1 - expected / n));
      expect(Math.abs((counts.get(x) ?? 0) - expected), `x = ${x}`).toBeLessThan(6 * sd);
    }
    // Symmetric, and the variance is that of N_Z(0, σ²) (slightly below σ² for small σ).
    let mean = 0;
    let second = 0;
    for (const [x, c] of counts) {
      mean += x * c;
      second += x * x * c;
    }
    mean /= n;
    let variance = 0;
    for (let x = -60; x <= 60; x++) variance += (x * x * weight(x)) / norm;
    expect(Math.abs(mean)).toBeLessThan((6 * sigma) / Math.sqrt(n));
    expect(Math.abs(second / n - variance) / variance).toBeLessThan(0.03);
  });

  it('adds noise in the integer domain in place, and per-site shares sum to the full variance', () => {
    const sites = 8;
    const p = distributedNoise({ noiseMultiplier: 1, clip: 1, scale: 100, dim: 400, sites });
    expect(p.sensitivity).toBeCloseTo(100 + 20, 10);
    expect(p.sigmaPerSite).toBeCloseTo(120 / Math.sqrt(8), 10);
    expect(p.tau).toBeLessThan(1e-100);
    const dim = 400;
    const sum = new Int32Array(dim);
    for (let s = 0; s < sites; s++) {
      const share = addDiscreteGaussianNoise(new Int32Array(dim).fill(5), p.sigmaPerSite);
      for (let i = 0; i < dim; i++) sum[i] = (sum[i] as number) + (share[i] as number);
    }
    const values = Array.from(sum, (v) => v - 5 * sites);
    const variance = values.reduce((a, v) => a + v * v, 0) / dim;
    // Sample variance of 400 draws: relative sd √(2/400) ≈ 7%; allow 5 sd.
    expect(Math.abs(variance / (p.sensitivity * p.sensitivity) - 1)).toBeLessThan(5 * Math.sqrt(2 / dim));
  });
});

describe('update clipping (fixed and adaptive)', () => {
  it('clips to the L2 bound and reports the unclipped bit', () => {
    const big = clipUpdate(Float32Array.from([3, 4]), 1);
    expect(big.norm).toBeCloseTo(5, 6);
    expect(Math.hypot(...big.update)).toBeCloseTo(1, 6);
    expect(big.unclipped).toBe(0);
    const small = clipUpdate(Float32Array.from([0.3, 0.4]), 1);
    expect(Array.from(small.update)).toEqual(Array.from(Float32Array.from([0.3, 0.4])));
    expect(small.unclipped).toBe(1);
  });

  it('adaptive clipping tracks the target quantile of update norms under a noisy count', () => {
    const rng = createRng(3);
    const a = { targetQuantile: 0.5, learningRate: 0.2, countNoise: 2 };
    const sites = 100;
    let clip = 0.1;
    for (let round = 0; round < 200; round++) {
      // Norms are log-normal with median e^0 = 1.
      let count = 0;
      for (let s = 0; s < sites; s++) if (Math.exp(0.5 * rng.normal()) <= clip) count++;
      clip = nextClipNorm(clip, count + a.countNoise * rng.normal(), sites, a);
    }
    expect(clip).toBeGreaterThan(0.8);
    expect(clip).toBeLessThan(1.25);
  });

  it('splits the noise between update and count as Andrew et al. (z⁻² = z_Δ⁻² + (2σ_b)⁻²)', () => {
    const zDelta = updateNoiseMultiplier(1, 5);
    expect(zDelta ** -2 + 10 ** -2).toBeCloseTo(1, 12);
    expect(() => updateNoiseMultiplier(1, 0.4)).toThrow(/too small/);
  });

  it('accounts site-level DP-FedAvg with the subsampled Gaussian over rounds, plus the τ allowance in δ', () => {
    const base = { noiseMultiplier: 1.2, samplingRate: 0.1, rounds: 200, delta: 1e-6, accountant: 'rdp' as const };
    const plain = siteLevelEpsilon(base);
    expect(plain.epsilon).toBe(epsilonFor('rdp', { q: 0.1, sigma: 1.2, steps: 200 }, 1e-6));
    expect(plain.delta).toBe(1e-6);
    const withTau = siteLevelEpsilon({ ...base, tau: 1e-12 });
    expect(withTau.delta).toBeCloseTo(1e-6 + 200 * 1e-12 * (1 + Math.exp(plain.epsilon)), 18);
  });
});
