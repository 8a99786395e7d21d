import { epsilonFor, type AccountantName } from './accountant.js';
import { discreteGaussianSampler, type UniformBigInt, cryptoUniformBigInt } from './discrete-gaussian.js';

/**
 * Site-level DP-FedAvg building blocks (McMahan et al. 2018; adaptive clipping of Andrew et al. 2021;
 * distributed discrete Gaussian of Kairouz, Liu & Steinke 2021): each site clips its model update to
 * an L2 bound, quantises it to integers, and adds its *share* of discrete Gaussian noise, so that only
 * the (secure) sum of all sites carries the full noise. A site's whole dataset is the protected unit.
 *
 * Status: the primitives and their accounting; wiring them into the round workflow and the
 * secure-aggregation integer hook (between `secagg/quantize` and `SecAggSiteSession.maskInput`) is
 * not done yet (see docs/explanation/differential-privacy.md, "Limits").
 */

/** Result of {@link clipUpdate}. */
export interface ClippedUpdate {
  /** The update scaled to L2 norm ≤ `clip` (a new array). */
  update: Float32Array;
  /** Its L2 norm before clipping. */
  norm: number;
  /** 1 when the update was already within the bound (the bit adaptive clipping counts), else 0. */
  unclipped: 0 | 1;
}

/** Scales `delta` to L2 norm at most `clip` (fixed clipping). */
export function clipUpdate(delta: Float32Array, clip: number): ClippedUpdate {
  if (!(clip > 0)) throw new RangeError(`clip must be > 0, got ${clip}`);
  let sq = 0;
  for (const v of delta) sq += v * v;
  const norm = Math.sqrt(sq);
  const factor = norm > clip ? clip / norm : 1;
  const update = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) update[i] = (delta[i] as number) * factor;
  return { update, norm, unclipped: norm <= clip ? 1 : 0 };
}

/** Adaptive clipping settings (Andrew et al. 2021). */
export interface AdaptiveClipping {
  /** Target fraction γ of sites whose update is within the bound (e.g. 0.5 = the median norm). */
  targetQuantile: number;
  /** Geometric step η_C. @default 0.2 */
  learningRate: number;
  /** σ_b: noise std on the count of unclipped sites (sensitivity 1). */
  countNoise: number;
}

/**
 * The next clipping bound from the noisy fraction of unclipped sites:
 * C ← C · exp(−η_C · (b̃ − γ)), with b̃ = (Σ bᵢ + N(0, σ_b²)) / n (Andrew et al. 2021, geometric update).
 */
export function nextClipNorm(clip: number, noisyUnclippedSum: number, expectedSites: number, a: AdaptiveClipping): number {
  const fraction = noisyUnclippedSum / expectedSites;
  return clip * Math.exp(-a.learningRate * (fraction - a.targetQuantile));
}

/**
 * The update noise multiplier z_Δ that keeps the total noise multiplier at `z` once the count also
 * costs privacy: z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) (Andrew et al. 2021, Thm. 1).
 * @throws RangeError when σ_b is too small for the target (2σ_b ≤ z).
 */
export function updateNoiseMultiplier(z: number, countNoise: number): number {
  const rest = z ** -2 - (2 * countNoise) ** -2;
  if (!(rest > 0)) throw new RangeError(`count noise ${countNoise} is too small for total noise multiplier ${z} (needs 2σ_b > z)`);
  return rest ** -0.5;
}

/** Integer-domain settings of the distributed discrete Gaussian. */
export interface DistributedNoiseParams {
  /** Total noise multiplier of the sum (noise std / L2 sensitivity). */
  noiseMultiplier: number;
  /** L2 clipping bound of one site's update (float units). */
  clip: number;
  /** Integer units per float unit (the quantisation scale). */
  scale: number;
  /** Coordinates of the update. */
  dim: number;
  /** Sites whose noise shares make up the sum (the smallest cohort that still decodes). */
  sites: number;
}

/**
 * Per-site discrete Gaussian σ (integer units) and the integer-domain L2 sensitivity. Stochastic
 * rounding moves each coordinate by < 1, so a clipped update's integer norm is at most
 * `clip·scale + √dim` (a conservative bound; Kairouz et al. 2021 use conditional rounding for a
 * tighter one). Each of the `sites` sites adds N_Z(0, σ_site²) with σ_site = z·Δ / √sites, so the sum
 * carries variance z²Δ².
 */
export function distributedNoise(p: DistributedNoiseParams): { sensitivity: number; sigmaPerSite: number; tau: number } {
  const sensitivity = p.clip * p.scale + Math.sqrt(p.dim);
  const sigmaPerSite = (p.noiseMultiplier * sensitivity) / Math.sqrt(p.sites);
  // Kairouz et al. 2021, Thm. 1: the sum of n iid N_Z(0, σ²) is within τ of N_Z(0, nσ²),
  // τ = 10 Σ_{k=1}^{n−1} exp(−2π²σ² k/(k+1)).
  let tau = 0;
  for (let k = 1; k < p.sites; k++) tau += 10 * Math.exp((-2 * Math.PI * Math.PI * sigmaPerSite * sigmaPerSite * k) / (k + 1));
  return { sensitivity, sigmaPerSite, tau };
}

/**
 * Adds this site's share of discrete Gaussian noise N_Z(0, σ²) to each integer coordinate, in place.
 * Meant for the secure-aggregation hook: after quantisation, before masking. The caller must leave
 * headroom so the noisy sum does not wrap (about 6σ·√sites per coordinate).
 */
export function addDiscreteGaussianNoise(values: Int32Array, sigma: number, u: UniformBigInt = cryptoUniformBigInt()): Int32Array {
  const sample = discreteGaussianSampler(sigma, u);
  for (let i = 0; i < values.length; i++) values[i] = ((values[i] as number) + Number(sample())) | 0;
  return values;
}

/** What a site-level DP-FedAvg study spends. */
export interface SiteLevelAccounting {
  /** Total noise multiplier of the sum (update and, with adaptive clipping, count combined). */
  noiseMultiplier: number;
  /** Sites sampled per round / sites in the federation (1 when every site joins every round). */
  samplingRate: number;
  rounds: number;
  delta: number;
  accountant: AccountantName;
  /** τ from {@link distributedNoise}: added per round to δ as a total-variation allowance. */
  tau?: number;
}

/**
 * ε of site-level DP-FedAvg: `rounds` compositions of the (sub)sampled Gaussian mechanism with the
 * total noise multiplier (the distributed discrete Gaussian is accounted as the continuous Gaussian of
 * the same variance; the gap is the τ allowance, charged conservatively as rounds·τ·(1 + e^ε) of δ).
 */
export function siteLevelEpsilon(a: SiteLevelAccounting): { epsilon: number; delta: number } {
  const eps = epsilonFor(a.accountant, { q: a.samplingRate, sigma: a.noiseMultiplier, steps: a.rounds }, a.delta);
  const extra = (a.tau ?? 0) * a.rounds * (1 + Math.exp(eps));
  return { epsilon: eps, delta: a.delta + extra };
}
