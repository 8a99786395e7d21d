/**
 * Special functions the privacy accountants need, in double precision: `erfc` and its logarithm
 * (far into the tail without underflow), the standard normal tails, and log-space addition.
 *
 * `erfc` uses the Maclaurin series of `erf` for |x| < 2 (absolute error ~1e-16, so erfc's relative
 * error stays below ~1e-13 there) and the Laplace continued fraction (modified Lentz) beyond, whose
 * relative error is ~1e-15; `logErfc` evaluates the continued fraction in log space, so it is exact
 * to double precision for any x ≥ 2 (erfc(40) ≈ 1e-697 underflows, its log does not).
 * @internal
 */

const SQRT_PI = Math.sqrt(Math.PI);
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/** erf(x) by its Maclaurin series; accurate for |x| < 2. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / SQRT_PI) * sum;
}

/** The continued fraction K(x) with erfc(x) = exp(−x²)/√π · K(x), for x ≥ 2 (modified Lentz). */
function erfcFraction(x: number): number {
  // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / f;
}

/** Complementary error function. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) return 1 - erfSeries(x);
  if (x > 27.3) return 0;
  return (Math.exp(-x * x) / SQRT_PI) * erfcFraction(x);
}

/** log(erfc(x)), finite for every finite x. */
export function logErfc(x: number): number {
  if (x < 2) return Math.log(erfc(x));
  return -x * x - LOG_SQRT_PI + Math.log(erfcFraction(x));
}

/** P(Z > z) for a standard normal Z. */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** P(Z ≤ z) for a standard normal Z. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** log P(Z > z), finite far into the tail. */
export function logNormalSf(z: number): number {
  return Math.log(0.5) + logErfc(z / Math.SQRT2);
}

/** log(e^a + e^b) without overflow; −∞ is the identity. */
export function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * log(e^a − e^b) for a ≥ b; −∞ when they are equal.
 * @throws RangeError when b > a (the difference would be negative).
 */
export function logSub(a: number, b: number): number {
  if (b > a) throw new RangeError('logSub: the result would be negative');
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  const d = b - a;
  // log(1 − e^d), stable on both sides of d = −ln 2.
  return a + (d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d)));
}
