import { pldAccountantEpsilon } from './pld.js';
import { rdpEpsilon, type SubsampledGaussian } from './rdp.js';

/** The accountants Tessera offers. `pld` is tighter; `rdp` is cheaper and the classic reference. */
export const ACCOUNTANT_NAMES = ['pld', 'rdp'] as const;
export type AccountantName = (typeof ACCOUNTANT_NAMES)[number];

/**
 * ε at `delta` after `event` (a Poisson-subsampled Gaussian run of `steps` steps) under the named
 * accountant. Both are upper bounds on the true ε; `pld` is within ~1e−9 of Google's dp_accounting
 * PLD accountant at the same interval, `rdp` agrees with its RDP accountant (see the reference test).
 */
export function epsilonFor(accountant: AccountantName, event: SubsampledGaussian, delta: number): number {
  if (event.steps === 0) return 0;
  return accountant === 'pld' ? pldAccountantEpsilon(event, delta) : rdpEpsilon([event], delta).epsilon;
}

/** What {@link calibrateNoiseMultiplier} needs: the run's shape and the target guarantee. */
export interface CalibrationTarget {
  epsilon: number;
  delta: number;
  /** Poisson sampling rate per step, in (0, 1]. */
  q: number;
  /** Steps over the whole study. */
  steps: number;
  accountant: AccountantName;
  /** Absolute tolerance on σ. @default 1e-7 */
  tolerance?: number;
}

/**
 * The smallest noise multiplier σ (to within `tolerance`, on the safe side) for which `steps`
 * Poisson-subsampled Gaussian steps at rate `q` are (ε, δ)-DP under the accountant. Bracket search
 * from [0, 1], doubling the upper end, then bisection — as `dp_accounting.calibrate_dp_mechanism`; for
 * `pld` the bracket starts from the (cheap, looser) RDP answer.
 * @throws RangeError for a target out of range or one no σ ≤ 2^40 reaches.
 */
export function calibrateNoiseMultiplier(t: CalibrationTarget): number {
  if (!(t.epsilon > 0) || !Number.isFinite(t.epsilon)) throw new RangeError(`target epsilon must be a finite number > 0, got ${t.epsilon}`);
  if (!(t.delta > 0 && t.delta < 1)) throw new RangeError(`target delta must be in (0, 1), got ${t.delta}`);
  if (!Number.isSafeInteger(t.steps) || t.steps < 1) throw new RangeError(`steps must be an integer ≥ 1, got ${t.steps}`);
  const tol = t.tolerance ?? 1e-7;
  const ok = (sigma: number): boolean => epsilonFor(t.accountant, { q: t.q, sigma, steps: t.steps }, t.delta) <= t.epsilon;
  let lo = 0;
  let hi = 1;
  if (t.accountant === 'pld') {
    // RDP is cheap and never tighter than PLD: its σ is an upper end of the bracket.
    hi = calibrateNoiseMultiplier({ ...t, accountant: 'rdp', tolerance: tol });
    lo = hi / 2;
    while (lo > tol && ok(lo)) {
      hi = lo;
      lo /= 2;
    }
  }
  while (!ok(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > 2 ** 40) throw new RangeError('no noise multiplier reaches the target epsilon');
  }
  while (hi - lo > tol) {
    const mid = (lo + hi) / 2;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
