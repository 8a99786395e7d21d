import { InputError } from '../../../shared/src/errors.js';

/**
 * Weighted mean of equal-length float32 vectors: `Σ wᵢ·xᵢ / Σ wᵢ`, the kernel under every strategy.
 *
 * Performance (why it is lazy): aggregation of N sites × P params is bound by per-element work, not
 * by memory, in V8. Accumulating eagerly (`acc[i] += w·x[i]` per `add`) reads and writes the
 * accumulator N times; instead `add` only records the vector, and {@link mean} walks up to four inputs
 * per pass in one fused loop, summing in float64 registers and rounding to float32 once. For 4 sites
 * that is a single pass with one store per element (> 1e9 params/s on one core).
 *
 * Vectors passed to `add` are held by reference until `mean` returns: callers MUST NOT mutate them
 * in between (received updates are immutable, so the coordinator never needs to copy).
 */
export class WeightedAccumulator {
  readonly #length: number;
  readonly #vectors: Float32Array[] = [];
  readonly #weights: number[] = [];
  #total = 0;

  /** @param length Number of parameters every added vector must have. */
  constructor(length: number) {
    if (!Number.isInteger(length) || length < 0) throw new RangeError('length must be a non-negative integer');
    this.#length = length;
  }

  /** Number of vectors added so far. */
  get count(): number {
    return this.#vectors.length;
  }

  /** Sum of the weights added so far. */
  get totalWeight(): number {
    return this.#total;
  }

  /**
   * Adds a vector with a weight (e.g. its number of training examples).
   * @throws InputError `TESSERA_INPUT_WEIGHTS_SHAPE` on a length mismatch.
   * @throws RangeError when `weight` is not a finite number > 0.
   */
  add(vector: Float32Array, weight: number): void {
    if (vector.length !== this.#length) {
      throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `vector has ${vector.length} values, expected ${this.#length}`, {
        values: vector.length,
        expectedParams: this.#length,
      });
    }
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError('weight must be a finite number > 0');
    this.#vectors.push(vector);
    this.#weights.push(weight);
    this.#total += weight;
  }

  /**
   * The weighted mean of everything added, as a fresh `Float32Array`.
   * @throws RangeError when nothing was added.
   */
  mean(): Float32Array {
    const k = this.#vectors.length;
    if (k === 0) throw new RangeError('mean of zero vectors');
    const n = this.#length;
    const out = new Float32Array(n);
    // With ≤ 4 inputs one fused pass writes the result directly; beyond that, partial sums live in
    // a float64 scratch vector so rounding to float32 still happens once.
    const dst: Float32Array | Float64Array = k <= 4 ? out : new Float64Array(n);
    for (let start = 0; start < k; start += 4) {
      const group = this.#vectors.slice(start, start + 4);
      const p = this.#weights.slice(start, start + 4).map((w) => w / this.#total);
      fusedPass(dst, group, p, start > 0);
    }
    if (dst !== out) out.set(dst);
    return out;
  }
}

/** `dst = (accumulate ? dst : 0) + Σ p[j]·xs[j]` for 1–4 inputs, unrolled so V8 keeps it monomorphic. */
function fusedPass(dst: Float32Array | Float64Array, xs: Float32Array[], p: number[], accumulate: boolean): void {
  const n = dst.length;
  const a = xs[0] as Float32Array;
  const b = xs[1] ?? a;
  const c = xs[2] ?? a;
  const d = xs[3] ?? a;
  const pa = p[0] ?? 0;
  const pb = p[1] ?? 0;
  const pc = p[2] ?? 0;
  const pd = p[3] ?? 0;
  switch (xs.length) {
    case 1:
      if (accumulate) for (let i = 0; i < n; i++) dst[i] = (dst[i] as number) + pa * (a[i] as number);
      else for (let i = 0; i < n; i++) dst[i] = pa * (a[i] as number);
      return;
    case 2:
      if (accumulate) {
        for (let i = 0; i < n; i++) dst[i] = (dst[i] as number) + pa * (a[i] as number) + pb * (b[i] as number);
      } else {
        for (let i = 0; i < n; i++) dst[i] = pa * (a[i] as number) + pb * (b[i] as number);
      }
      return;
    case 3:
      if (accumulate) {
        for (let i = 0; i < n; i++) {
          dst[i] = (dst[i] as number) + pa * (a[i] as number) + pb * (b[i] as number) + pc * (c[i] as number);
        }
      } else {
        for (let i = 0; i < n; i++) dst[i] = pa * (a[i] as number) + pb * (b[i] as number) + pc * (c[i] as number);
      }
      return;
    default:
      if (accumulate) {
        for (let i = 0; i < n; i++) {
          dst[i] =
            (dst[i] as number) +
            pa * (a[i] as number) +
            pb * (b[i] as number) +
            pc * (c[i] as number) +
            pd * (d[i] as number);
        }
      } else {
        for (let i = 0; i < n; i++) {
          dst[i] = pa * (a[i] as number) + pb * (b[i] as number) + pc * (c[i] as number) + pd * (d[i] as number);
        }
      }
  }
}
