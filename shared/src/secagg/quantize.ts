import { randomFillSync } from 'node:crypto';
import { SecAggError } from '../errors.js';

/**
 * Fixed-point encoding of a site's (weighted) update for summation mod 2^32.
 *
 * Each coordinate is clipped to [−clip, clip], multiplied by `weight / maxWeight` (≤ 1), scaled by
 * `scale = B / clip` with `B = ⌊(2^31 − 1) / cohortSize⌋`, and rounded stochastically (unbiased:
 * ⌊v·scale + u⌋, u uniform from the CSPRNG). Every encoded value lies in [−B, B], so the sum of up to
 * `cohortSize` of them lies in [−(2^31 − 1), 2^31 − 1]: read as a signed 32-bit integer the modular sum
 * is the true integer sum, it never wraps. The headroom costs log2(cohortSize) bits of precision.
 */
export interface QuantizationParams {
  /** Per-coordinate clipping bound of the update delta. */
  clip: number;
  /** Most sites whose values are summed (the cohort). */
  cohortSize: number;
  /** Largest weight a site may contribute (bucketed example count); weights are capped here. */
  maxWeight: number;
}

export function quantizationScale(p: QuantizationParams): number {
  if (!(p.clip > 0) || !Number.isFinite(p.clip)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `clip must be a positive number, got ${p.clip}`);
  if (!Number.isInteger(p.cohortSize) || p.cohortSize < 1) throw new SecAggError('TESSERA_SECAGG_PARAMS', `cohort size must be a positive integer, got ${p.cohortSize}`);
  if (!Number.isInteger(p.maxWeight) || p.maxWeight < 1 || p.maxWeight * p.cohortSize >= 2 ** 32) {
    throw new SecAggError('TESSERA_SECAGG_PARAMS', `maxWeight × cohort size must stay below 2^32, got ${p.maxWeight} × ${p.cohortSize}`);
  }
  return Math.floor((2 ** 31 - 1) / p.cohortSize) / p.clip;
}

/** Bucketed example count: rounded to a multiple of `bucket` (at least one bucket), capped at `maxWeight`. */
export function bucketWeight(numExamples: number, bucket: number, maxWeight: number): number {
  const b = Math.max(1, Math.round(numExamples / bucket)) * bucket;
  return Math.min(maxWeight, b);
}

/**
 * Encodes `delta × weight/maxWeight` into `out[0..delta.length)` as two's-complement int32 (viewed as uint32).
 * @returns the scale used, so the caller can decode or hand it to the DP noise hook.
 */
export function quantize(delta: Float32Array, weight: number, p: QuantizationParams, out: Int32Array): number {
  const scale = quantizationScale(p);
  const factor = (Math.min(weight, p.maxWeight) / p.maxWeight) * scale;
  const limit = Math.floor((2 ** 31 - 1) / p.cohortSize);
  const noise = new Uint32Array(Math.min(delta.length, 1 << 16));
  for (let start = 0; start < delta.length; start += noise.length) {
    randomFillSync(noise);
    const n = Math.min(noise.length, delta.length - start);
    for (let j = 0; j < n; j++) {
      const i = start + j;
      let x = delta[i] as number;
      if (x > p.clip) x = p.clip;
      else if (x < -p.clip) x = -p.clip;
      else if (x !== x) x = 0; // NaN never reaches here after validation; stay in range regardless
      let q = Math.floor(x * factor + (noise[j] as number) / 4294967296);
      if (q > limit) q = limit;
      else if (q < -limit) q = -limit;
      out[i] = q;
    }
  }
  return scale;
}

/**
 * Decodes a secure sum: `sum` holds Σ encoded values (read as int32) and `weightSum` Σ weights.
 * Returns the weighted mean delta Σ wᵢ·δᵢ / Σ wᵢ.
 */
export function dequantizeMean(sum: Int32Array, weightSum: number, p: QuantizationParams): Float32Array {
  if (!(weightSum > 0)) throw new SecAggError('TESSERA_SECAGG_PARAMS', 'the securely summed weight is zero');
  const k = p.maxWeight / (quantizationScale(p) * weightSum);
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i] as number) * k;
  return out;
}
