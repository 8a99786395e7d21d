import { cryptoUniformBigInt, type UniformBigInt } from '../../../shared/src/dp/discrete-gaussian.js';
import { createSecureRandom, type SecureRandom } from '../../../shared/src/dp/noise.js';
import { noisyQuantizedUpdate } from '../../../shared/src/dp/site-level.js';

/** Site-level DP settings of one round (from the task's `DpConfig`, mode `site`). */
export interface SiteLevelDp {
  clipNorm: number;
  /** Noise multiplier of the *sum* over `noiseShares` sites. */
  noiseMultiplier: number;
  noiseShares: number;
  /** Integer units per unit of the update. */
  quantizationScale: number;
}

/** What {@link privatizeUpdate} did, for logs and tests (no update values). */
export interface PrivatizedUpdate {
  weights: Float32Array;
  /** L2 norm of the raw update before clipping. */
  norm: number;
  unclipped: 0 | 1;
  /** Discrete Gaussian σ this site added, in integer units. */
  sigmaPerSite: number;
}

/**
 * DP-FedAvg at the site: clips the model update Δ = local − global to `clipNorm`, quantises it with
 * unbiased stochastic rounding (CSPRNG), adds this site's share N_Z(0, σ²) of the distributed
 * discrete Gaussian (σ = z·(C·scale + √d)/√shares, exact sampler), and returns global + Δ̃ for upload.
 * The coordinator's (secure or plain) mean of these carries the full noise z on the sum.
 */
export function privatizeUpdate(
  global: Float32Array,
  local: Float32Array,
  dp: SiteLevelDp,
  random: SecureRandom = createSecureRandom(),
  uniform: UniformBigInt = cryptoUniformBigInt(),
): PrivatizedUpdate {
  const delta = new Float32Array(local.length);
  for (let i = 0; i < local.length; i++) delta[i] = (local[i] as number) - (global[i] as number);
  const weights = new Float32Array(local.length);
  const q = { clip: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, noiseShares: dp.noiseShares, scale: dp.quantizationScale };
  const r = noisyQuantizedUpdate(delta, q, () => random.uniform(), uniform, (i, v) => {
    weights[i] = (global[i] as number) + v / dp.quantizationScale;
  });
  return { weights, norm: r.norm, unclipped: r.unclipped, sigmaPerSite: r.sigmaPerSite };
}
