import { logAdd, logErfc, logSub } from './special.js';

/**
 * Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (Mironov, Talwar & Zhang 2019,
 * "Rényi Differential Privacy of the Sampled Gaussian Mechanism"), with the add-or-remove-one
 * neighbouring relation, integer and fractional orders, and the conversion to (ε, δ) of Canonne,
 * Kamath & Steinke 2020 (Proposition 12 of arXiv:2004.00010 v4), as Google's `dp_accounting` does.
 *
 * One difference from `dp_accounting` 0.6: its series for a fractional order stops after 1000 terms
 * and drops the order when the series has not converged by then; this one sums to convergence (up to
 * {@link MAX_SERIES_TERMS}), so for a few settings with small σ and q = 0.1 it finds a smaller, still
 * valid, ε (see the reference test's documented exceptions).
 */

/** The orders `dp_accounting.rdp.RdpAccountant` uses by default: 1.1…10.9, 11…63, 128, 256, 512, 1024. */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => Math.round((1.1 + i * 0.1) * 10) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);

/** Most terms of the fractional-order series before the order is given up (RDP = ∞). */
export const MAX_SERIES_TERMS = 100_000;

/** log A_α for integer α (Mironov et al. 2019, §3.3), as an exact finite binomial sum. */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  let logBinom = 0;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log(alpha - i + 1) - Math.log(i);
    const s = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/** log A_α for fractional α (Mironov et al. 2019, §3.3), summed until the terms drop below e^−30. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let logAbsCoef = 0;
  let coefPositive = true;
  for (let i = 0; i < MAX_SERIES_TERMS; i++) {
    if (i > 0) {
      const factor = (alpha - i + 1) / i;
      logAbsCoef += Math.log(Math.abs(factor));
      if (factor < 0) coefPositive = !coefPositive;
    }
    const j = alpha - i;
    const logT0 = logAbsCoef + i * logQ + j * log1mQ;
    const logT1 = logAbsCoef + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (coefPositive) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      // A negative term larger than the running sum means the series is numerically unusable here.
      if (logS0 > logA0 || logS1 > logA1) return Infinity;
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) return logAdd(logA0, logA1);
  }
  return Infinity;
}

/**
 * RDP ε(α) of one step of the Poisson-subsampled Gaussian with sampling rate `q`, noise multiplier
 * `sigma` (noise std / L2 sensitivity). `q = 1` is the plain Gaussian: α / (2σ²).
 */
export function subsampledGaussianRdp(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`sampling rate must be in [0, 1], got ${q}`);
  if (!(sigma >= 0)) throw new RangeError(`noise multiplier must be ≥ 0, got ${sigma}`);
  if (!(alpha > 1)) throw new RangeError(`RDP order must be > 1, got ${alpha}`);
  if (q === 0) return 0;
  if (sigma === 0 || alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/**
 * The smallest ε over the orders for which (ε, δ)-DP follows from RDP curve `rdp` (Canonne, Kamath &
 * Steinke 2020, Prop. 12: ε = r + log(1 − 1/α) − log(δ·α)/(α − 1), used for α > 1.01; ε = 0 when
 * δ² + expm1(−r) > 0).
 */
export function rdpToEpsilon(orders: readonly number[], rdp: readonly number[], delta: number): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  let best = Infinity;
  let bestOrder = orders[0] ?? Number.NaN;
  orders.forEach((a, k) => {
    const r = rdp[k] ?? Infinity;
    let eps: number;
    if (delta * delta + Math.expm1(-r) > 0) eps = 0;
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else eps = Infinity;
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  });
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/** A Poisson-subsampled Gaussian mechanism applied `steps` times (one DP-SGD run, or several). */
export interface SubsampledGaussian {
  /** Poisson sampling rate in (0, 1]; 1 means every record every step. */
  q: number;
  /** Noise standard deviation divided by the clipping norm (L2 sensitivity). */
  sigma: number;
  /** Number of compositions, integer ≥ 0. */
  steps: number;
}

/** RDP accountant: ε at `delta` after a sequence of subsampled-Gaussian runs (composition adds RDP). */
export function rdpEpsilon(events: readonly SubsampledGaussian[], delta: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): { epsilon: number; order: number } {
  const total = orders.map(() => 0);
  for (const e of events) {
    if (e.steps === 0) continue;
    orders.forEach((a, k) => {
      total[k] = (total[k] as number) + e.steps * subsampledGaussianRdp(e.q, e.sigma, a);
    });
  }
  return rdpToEpsilon(orders, total, delta);
}
