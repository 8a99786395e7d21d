import { epsilonFor, type AccountantName } from './accountant.js';
import { discreteGaussianSampler, type UniformBigInt, cryptoUniformBigInt } from './discrete-gaussian.js';

/**
 * Site-level DP-FedAvg building blocks (McMahan et al. 2018; adaptive clipping of Andrew et al. 2021;
 * distributed discrete Gaussian of Kairouz, Liu & Steinke 2021): each site clips its model update to
 * an L2 bound, quantises it to integers, and adds its *share* of discrete Gaussian noise, so that only
 * the (secure) sum of all sites carries the full noise. A site's whole dataset is the protected unit.
 *
 * Under secure aggregation the site's noisy integers are the secure-aggregation input itself
 * ({@link encodeSiteLevelInput}): the noise never leaves the integer domain, and only the sum of at
 * least `minSites` sites (each with its share) is ever decoded. Without secure aggregation the site
 * uploads global + Δ̃ as floats and must carry the whole noise alone (see
 * docs/explanation/differential-privacy.md).
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

/**
 * Tail bound, in per-site standard deviations, that one site's noisy coordinate is checked against
 * before masking. P(|N_Z(0, σ²)| > 12σ) < 4e-33 per coordinate: the modular sum cannot wrap unless such
 * an event happens, and then the site refuses to send (it drops out) rather than clamp its noise.
 */
export const NOISE_TAIL_SIGMAS = 12;

/** Integer units of the adaptive-clipping count: each site adds (b − ½)·COUNT_UNITS plus its noise share. */
export const COUNT_UNITS = 1 << 16;

/** What fixes the integer encoding of site-level DP under secure aggregation. */
export interface SiteLevelScaleParams {
  /** L2 clipping bound of a site's update. */
  clip: number;
  /** Noise multiplier of the update part of the sum (z, or z_Δ with adaptive clipping). */
  noiseMultiplier: number;
  /** Sites whose shares make up the noise (the study's minSites). */
  noiseShares: number;
  /** Sites in the secure-aggregation cohort (the most values summed). */
  cohortSize: number;
  dim: number;
}

/** The per-site bound of every secure-aggregation coordinate: the sum of `cohortSize` of them stays within int32. */
export function perSiteLimit(cohortSize: number): number {
  return Math.floor((2 ** 31 - 1) / cohortSize);
}

/**
 * The largest integer scale (units per unit of update, an integer number of units per clipping bound)
 * for which a site's clipped, rounded and noised coordinate stays within {@link perSiteLimit} up to
 * {@link NOISE_TAIL_SIGMAS} σ: C·s + 1 + 12·z·(C·s + √d)/√n ≤ ⌊(2^31 − 1)/cohort⌋.
 * @throws RangeError when no scale gives at least 2^10 units per clipping bound (too many sites or too
 *   much noise for 32-bit sums).
 */
export function siteLevelScale(p: SiteLevelScaleParams): number {
  const k = (NOISE_TAIL_SIGMAS * p.noiseMultiplier) / Math.sqrt(p.noiseShares);
  const units = Math.floor((perSiteLimit(p.cohortSize) - 1 - k * Math.sqrt(p.dim)) / (1 + k));
  if (!(units >= 1024)) {
    throw new RangeError(`site-level DP under secure aggregation: ${p.cohortSize} sites with noise multiplier ${p.noiseMultiplier} over ${p.noiseShares} shares leave fewer than 2^10 integer units per clipping bound`);
  }
  return units / p.clip;
}

/** The adaptive-clipping part of one site's input (Andrew et al. 2021). */
export interface CountEncoding {
  /** σ_b: noise std of the count of unclipped sites (its sensitivity is ½ with the centred bit). */
  countNoise: number;
}

/** Settings of {@link encodeSiteLevelInput}. */
export interface SiteLevelEncoding {
  clip: number;
  /** Total noise multiplier z of the study (update and count together). */
  noiseMultiplier: number;
  noiseShares: number;
  /** Integer units per unit of update (from {@link siteLevelScale}). */
  scale: number;
  cohortSize: number;
  /** Present with adaptive clipping: one more coordinate, the centred unclipped bit. */
  count?: CountEncoding;
}

/** What {@link encodeSiteLevelInput} did (no update values: safe to log). */
export interface SiteLevelEncoded {
  /** L2 norm of the raw update. */
  norm: number;
  unclipped: 0 | 1;
  /** Noise multiplier of the update part (z, or z_Δ with adaptive clipping). */
  updateNoiseMultiplier: number;
  /** Per-site discrete Gaussian σ of the update coordinates, integer units. */
  sigmaPerSite: number;
  /** Per-site σ of the count coordinate, integer units (0 without adaptive clipping). */
  countSigmaPerSite: number;
}

/** Noise multiplier of the update part: z, or z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) when the count also costs privacy. */
export function updatePartNoiseMultiplier(noiseMultiplier: number, count?: CountEncoding): number {
  return count ? updateNoiseMultiplier(noiseMultiplier, count.countNoise) : noiseMultiplier;
}

/** Settings of {@link noisyQuantizedUpdate}. */
export interface NoisyQuantization {
  clip: number;
  /** Noise multiplier of the sum over `noiseShares` sites. */
  noiseMultiplier: number;
  noiseShares: number;
  /** Integer units per unit of update. */
  scale: number;
}

/**
 * The core of site-level DP-FedAvg at a site, shared by the plaintext and the secure-aggregation paths:
 * clips Δ to L2 ≤ C, scales it, rounds each coordinate stochastically (unbiased, `uniform01` from a
 * CSPRNG) and adds this site's share N_Z(0, σ²) of the distributed discrete Gaussian (exact sampler,
 * σ = z·(C·scale + √d)/√shares). Hands every integer coordinate to `emit`, in order.
 */
export function noisyQuantizedUpdate(
  delta: Float32Array,
  q: NoisyQuantization,
  uniform01: () => number,
  u: UniformBigInt,
  emit: (index: number, value: number) => void,
): { norm: number; unclipped: 0 | 1; sigmaPerSite: number } {
  const { sigmaPerSite } = distributedNoise({ noiseMultiplier: q.noiseMultiplier, clip: q.clip, scale: q.scale, dim: delta.length, sites: q.noiseShares });
  const clipped = clipUpdate(delta, q.clip);
  const sample = discreteGaussianSampler(sigmaPerSite, u);
  for (let i = 0; i < delta.length; i++) emit(i, Math.floor((clipped.update[i] as number) * q.scale + uniform01()) + Number(sample()));
  return { norm: clipped.norm, unclipped: clipped.unclipped, sigmaPerSite };
}

/**
 * Site-level DP-FedAvg input for secure aggregation, entirely in the integer domain: clips Δ to
 * L2 ≤ C, scales by `scale`, rounds stochastically (unbiased, `uniform01` from a CSPRNG), adds this
 * site's share N_Z(0, σ²) of the distributed discrete Gaussian (exact sampler), and — with adaptive
 * clipping — appends (b − ½)·COUNT_UNITS plus its share of N_Z(0, (σ_b·COUNT_UNITS)²/n), b = 1 when Δ
 * was within the bound. Writes `out[0..d)` (and `out[d]` with a count); checks every value against the
 * per-site bound so the modular sum cannot wrap.
 * @throws RangeError when a value (with its noise) falls outside the bound: the site must not send.
 */
export function encodeSiteLevelInput(
  delta: Float32Array,
  e: SiteLevelEncoding,
  out: Int32Array,
  uniform01: () => number,
  u: UniformBigInt = cryptoUniformBigInt(),
): SiteLevelEncoded {
  const d = delta.length;
  if (out.length < d + (e.count ? 1 : 0)) throw new RangeError(`output has ${out.length} values, needs ${d + (e.count ? 1 : 0)}`);
  const zUpdate = updatePartNoiseMultiplier(e.noiseMultiplier, e.count);
  const limit = perSiteLimit(e.cohortSize);
  const clipped = noisyQuantizedUpdate(delta, { clip: e.clip, noiseMultiplier: zUpdate, noiseShares: e.noiseShares, scale: e.scale }, uniform01, u, (i, v) => {
    if (v > limit || v < -limit) throw new RangeError(`noisy coordinate outside the ±${limit} bound of a ${e.cohortSize}-site sum`);
    out[i] = v;
  });
  const { sigmaPerSite } = clipped;
  let countSigmaPerSite = 0;
  if (e.count) {
    // Centred bit: adding or removing one site moves the count by ½ (Andrew et al. 2021, §3).
    countSigmaPerSite = (e.count.countNoise * COUNT_UNITS) / Math.sqrt(e.noiseShares);
    const v = (clipped.unclipped === 1 ? COUNT_UNITS / 2 : -COUNT_UNITS / 2) + Number(discreteGaussianSampler(countSigmaPerSite, u)());
    if (v > limit || v < -limit) throw new RangeError(`noisy count outside the ±${limit} bound of a ${e.cohortSize}-site sum`);
    out[d] = v;
  }
  return { norm: clipped.norm, unclipped: clipped.unclipped, updateNoiseMultiplier: zUpdate, sigmaPerSite, countSigmaPerSite };
}

/**
 * The coordinator's decoding of a site-level secure sum: the mean clipped update Σq / (scale·m) over the
 * m contributors (unweighted: a site's example count would scale it past the bound the noise is for),
 * and with adaptive clipping the noisy number of unclipped sites Σ(b − ½)·U/U + m/2.
 */
export function decodeSiteLevelSum(sum: Int32Array, dim: number, scale: number, contributors: number, withCount: boolean): { meanDelta: Float32Array; noisyUnclipped?: number } {
  if (!(contributors > 0)) throw new RangeError('no contributors in the secure sum');
  const k = 1 / (scale * contributors);
  const meanDelta = new Float32Array(dim);
  for (let i = 0; i < dim; i++) meanDelta[i] = (sum[i] as number) * k;
  if (!withCount) return { meanDelta };
  return { meanDelta, noisyUnclipped: (sum[dim] as number) / COUNT_UNITS + contributors / 2 };
}
