import { fft } from './fft.js';
import { logNormalSf, normalCdf, normalSf } from './special.js';
import type { SubsampledGaussian } from './rdp.js';

/**
 * Privacy-loss-distribution (PLD) accountant for the Poisson-subsampled Gaussian (Koskela et al. 2020;
 * Doroshenko et al. 2022, "Connect the Dots"), add-or-remove-one neighbours, as a pessimistic upper
 * bound like `dp_accounting.pld.PLDAccountant`:
 *
 * - one step's PLD is discretised on a grid of losses `i·h` by connect-the-dots: its hockey-stick
 *   curve δ(ε) is evaluated exactly at the grid points and the discrete PLD interpolates it linearly
 *   in e^ε, which lies above the true (convex) curve, so every ε it reports is an upper bound;
 * - losses beyond the grid (probability < e^−50 under the Gaussian) count as infinite loss;
 * - `steps` compositions are one FFT power; mass outside a Chernoff window (≤ 1e−15 per side) is
 *   dropped below and counted as infinite loss above;
 * - both neighbouring directions (remove and add) are composed and the larger ε is returned.
 *
 * For q = 1 the composed Gaussians merge analytically into one with σ/√steps, and ε is exact
 * (bisection on the analytic Gaussian δ(ε) of Balle & Wang 2018).
 */

/** Default grid of privacy losses, as in the reference (`value_discretization_interval`). */
export const DEFAULT_PLD_INTERVAL = 1e-4;
/** log of the Gaussian tail mass beyond which one step's losses are truncated (dp_accounting: −50). */
const LOG_TAIL_MASS = -50;
/** Tail mass the composition window may drop on each side. */
const COMPOSED_TAIL_MASS = 1e-15;
/** Largest FFT length before the grid is coarsened (memory: 2 × 8 bytes × this). */
const MAX_FFT = 1 << 23;

/** A discrete privacy loss distribution: mass `probs[k]` at loss `(offset + k)·h`, plus mass at +∞. */
interface DiscretePld {
  h: number;
  offset: number;
  probs: Float64Array;
  infinityMass: number;
}

/** Analytic δ(ε) of the Gaussian mechanism with sensitivity 1 and noise σ (Balle & Wang 2018). */
export function gaussianDelta(sigma: number, epsilon: number): number {
  const a = 1 / (2 * sigma);
  const d = normalCdf(a - epsilon * sigma) - Math.exp(epsilon) * normalCdf(-a - epsilon * sigma);
  return Math.max(0, d);
}

/** Smallest ε with `gaussianDelta(sigma, ε) ≤ delta` (bisection to relative 1e−12). */
export function gaussianEpsilon(sigma: number, delta: number): number {
  if (gaussianDelta(sigma, 0) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (gaussianDelta(sigma, hi) > delta) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (gaussianDelta(sigma, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

type Direction = 'remove' | 'add';

/**
 * One subsampled-Gaussian step: the loss L(x) as a function of the output x and the hockey-stick
 * δ(ε) = E_P[(1 − e^{ε − L})₊] in closed form (mixtures of Gaussian tails).
 * remove: P = (1−q)N(0,σ²) + qN(1,σ²), Q = N(0,σ²); add: P = N(0,σ²), Q = the mixture.
 */
function stepModel(q: number, sigma: number, dir: Direction): { lossRange: [number, number]; delta: (eps: number) => number } {
  const s2 = sigma * sigma;
  const log1mq = Math.log1p(-q);
  // log((1−q) + q·e^{(2x−1)/(2σ²)}), computed stably for large x.
  const logMix = (x: number): number => {
    const r = (2 * x - 1) / (2 * s2);
    return r > 0 ? r + Math.log(q + (1 - q) * Math.exp(-r)) : Math.log1p(q * Math.expm1(r));
  };
  // The Gaussian's range that holds all but e^−50 of its mass (both tails), widened by the shift of 1.
  let z = 1;
  while (logNormalSf(z) > LOG_TAIL_MASS) z += 0.25;
  const xLo = -z * sigma;
  const xHi = 1 + z * sigma;
  if (dir === 'remove') {
    return {
      lossRange: [logMix(xLo), logMix(xHi)],
      delta: (eps) => {
        if (eps <= log1mq) return -Math.expm1(eps);
        // L(x) > ε ⇔ x > x*
        const xs = s2 * Math.log((Math.exp(eps) - (1 - q)) / q) + 0.5;
        const d = (1 - q) * normalSf(xs / sigma) + q * normalSf((xs - 1) / sigma) - Math.exp(eps) * normalSf(xs / sigma);
        return Math.max(0, d);
      },
    };
  }
  return {
    lossRange: [-logMix(xHi), -logMix(xLo)],
    delta: (eps) => {
      if (eps >= -log1mq) return 0;
      // L(x) = −logMix(x) > ε ⇔ x < x'
      const xs = s2 * Math.log((Math.exp(-eps) - (1 - q)) / q) + 0.5;
      const d = normalCdf(xs / sigma) - Math.exp(eps) * ((1 - q) * normalCdf(xs / sigma) + q * normalCdf((xs - 1) / sigma));
      return Math.max(0, d);
    },
  };
}

/** Connect-the-dots discretisation of one step's PLD on the grid `i·h`. */
function connectTheDots(q: number, sigma: number, dir: Direction, h: number): DiscretePld {
  const { lossRange, delta } = stepModel(q, sigma, dir);
  const iLo = Math.floor(lossRange[0] / h);
  const iHi = Math.ceil(lossRange[1] / h);
  const n = iHi - iLo + 1;
  const deltas = new Float64Array(n);
  for (let k = 0; k < n; k++) deltas[k] = delta((iLo + k) * h);
  // δ as a function of x = e^ε is piecewise linear through the points; the mass at a point is e^ε times
  // the slope's increase there. Slopes are computed relative to e^{ε_k} to avoid overflow.
  const probs = new Float64Array(n);
  let rest = 0;
  for (let k = n - 1; k >= 1; k--) {
    // slope between k−1 and k, times e^{ε_k}: (δ_k − δ_{k−1}) / (1 − e^{−h})
    const slopeLeft = ((deltas[k] as number) - (deltas[k - 1] as number)) / -Math.expm1(-h);
    const slopeRight =
      k === n - 1 ? 0 : (((deltas[k + 1] as number) - (deltas[k] as number)) / -Math.expm1(-h)) * Math.exp(-h);
    const p = Math.max(0, slopeRight - slopeLeft);
    probs[k] = p;
    rest += p;
  }
  const infinityMass = deltas[n - 1] as number;
  probs[0] = Math.max(0, 1 - infinityMass - rest);
  return { h, offset: iLo, probs, infinityMass };
}

/** log E[e^{t·L}] over the finite part of a discrete PLD. */
function logMgf(pld: DiscretePld, t: number): number {
  let m = -Infinity;
  const { probs, offset, h } = pld;
  for (let k = 0; k < probs.length; k++) if ((probs[k] as number) > 0) m = Math.max(m, t * (offset + k) * h);
  let s = 0;
  for (let k = 0; k < probs.length; k++) {
    const p = probs[k] as number;
    if (p > 0) s += p * Math.exp(t * (offset + k) * h - m);
  }
  return m + Math.log(s);
}

/** The window of composed losses that holds all but {@link COMPOSED_TAIL_MASS} on each side (Chernoff). */
function compositionWindow(pld: DiscretePld, steps: number): [number, number] {
  const logTail = Math.log(COMPOSED_TAIL_MASS);
  let upper = Infinity;
  let lower = -Infinity;
  for (let e = -4; e <= 3; e += 0.125) {
    const t = 10 ** e;
    upper = Math.min(upper, (steps * logMgf(pld, t) - logTail) / t);
    lower = Math.max(lower, -(steps * logMgf(pld, -t) - logTail) / t);
  }
  const finiteMax = (pld.offset + pld.probs.length - 1) * pld.h * steps;
  const finiteMin = pld.offset * pld.h * steps;
  return [Math.max(lower, finiteMin), Math.min(upper, finiteMax)];
}

/** Self-composes `pld` `steps` times by one FFT power; returns the composed PLD on the same grid. */
function selfCompose(pld: DiscretePld, steps: number): DiscretePld {
  if (steps === 1) return pld;
  const [lo, hi] = compositionWindow(pld, steps);
  const h = pld.h;
  const aLo = Math.floor(lo / h);
  const aHi = Math.ceil(hi / h);
  const span = aHi - aLo + 1;
  let n = 1;
  while (n < span) n <<= 1;
  if (n > MAX_FFT) throw new RangeError(`PLD composition needs ${span} grid points; use a coarser interval`);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  // Position k holds index (offset + k) mod n: the circular sum of indices stays consistent.
  const base = steps * pld.offset;
  for (let k = 0; k < pld.probs.length; k++) re[k % n] = (re[k % n] as number) + (pld.probs[k] as number);
  fft(re, im);
  for (let k = 0; k < n; k++) {
    const r = Math.hypot(re[k] as number, im[k] as number);
    const th = Math.atan2(im[k] as number, re[k] as number);
    const rk = r === 0 ? 0 : Math.exp(steps * Math.log(r));
    re[k] = rk * Math.cos(steps * th);
    im[k] = rk * Math.sin(steps * th);
  }
  fft(re, im, true);
  const probs = new Float64Array(span);
  for (let a = aLo; a <= aHi; a++) {
    const pos = (((a - base) % n) + n) % n;
    const p = Math.max(0, re[pos] as number);
    probs[a - aLo] = p;
  }
  const finite = (1 - pld.infinityMass) ** steps;
  // Mass above the window is pessimistically counted as infinite loss.
  const infinityMass = 1 - finite + COMPOSED_TAIL_MASS;
  return { h, offset: aLo, probs, infinityMass: Math.min(1, infinityMass) };
}

/** Smallest ε with δ(ε) ≤ `delta` for a discrete PLD (exact for the discrete distribution). */
function pldEpsilon(pld: DiscretePld, delta: number): number {
  if (pld.infinityMass > delta) return Infinity;
  // δ(ε) = ∞-mass + Σ_{l > ε} p_l − e^ε Σ_{l > ε} p_l e^{−l}; walk the losses from the top.
  let massAbove = 0;
  let weightedAbove = 0; // Σ p_l e^{−(l − lTop)} kept relative to the top loss to avoid overflow
  const { probs, offset, h } = pld;
  let top = -1;
  for (let k = probs.length - 1; k >= 0; k--) if ((probs[k] as number) > 0) {
    top = k;
    break;
  }
  if (top < 0) return 0;
  const lTop = (offset + top) * h;
  for (let k = top; k >= 0; k--) {
    const p = probs[k] as number;
    if (p === 0) continue;
    const l = (offset + k) * h;
    // Is the answer in [l, previous loss)? δ(l) with losses strictly above l:
    const dAtL = pld.infinityMass + massAbove - Math.exp(l - lTop) * weightedAbove;
    if (dAtL > delta) {
      // Solve ∞ + A − e^{ε−lTop}·B = δ on (l, next): ε = lTop + log((∞ + A − δ)/B)
      const eps = lTop + Math.log((pld.infinityMass + massAbove - delta) / weightedAbove);
      return Math.max(0, eps);
    }
    massAbove += p;
    weightedAbove += p * Math.exp(lTop - l);
  }
  const eps = lTop + Math.log((pld.infinityMass + massAbove - delta) / weightedAbove);
  return Math.max(0, Number.isFinite(eps) ? eps : 0);
}

/** Options of {@link pldEpsilon}. */
export interface PldOptions {
  /** Grid of privacy losses. @default {@link DEFAULT_PLD_INTERVAL} */
  interval?: number;
}

/** A composed privacy loss distribution that answers ε for any δ. */
export interface ComposedPld {
  /** Smallest ε with δ(ε) ≤ `delta` (an upper bound on the true ε of the run). */
  epsilon(delta: number): number;
}

/**
 * PLD accountant for one subsampled-Gaussian run (`steps` compositions): composes once, then answers
 * ε for any δ.
 * @throws RangeError for parameters out of range or a composition too large for the grid.
 */
export function composeSubsampledGaussian(event: SubsampledGaussian, options: PldOptions = {}): ComposedPld {
  const { q, sigma, steps } = event;
  if (!(q > 0 && q <= 1)) throw new RangeError(`sampling rate must be in (0, 1], got ${q}`);
  if (!(sigma > 0)) throw new RangeError(`noise multiplier must be > 0, got ${sigma}`);
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`steps must be an integer ≥ 1, got ${steps}`);
  const checkDelta = (delta: number): void => {
    if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  };
  if (q === 1) {
    return {
      epsilon: (delta) => {
        checkDelta(delta);
        return gaussianEpsilon(sigma / Math.sqrt(steps), delta);
      },
    };
  }
  const h = options.interval ?? DEFAULT_PLD_INTERVAL;
  const composed = (['remove', 'add'] as const).map((dir) => selfCompose(connectTheDots(q, sigma, dir, h), steps));
  return {
    epsilon: (delta) => {
      checkDelta(delta);
      return Math.max(...composed.map((pld) => pldEpsilon(pld, delta)));
    },
  };
}

/** ε at `delta` for one subsampled-Gaussian run under the PLD accountant; see {@link composeSubsampledGaussian}. */
export function pldAccountantEpsilon(event: SubsampledGaussian, delta: number, options: PldOptions = {}): number {
  return composeSubsampledGaussian(event, options).epsilon(delta);
}
