import { randomBytes } from 'node:crypto';

/**
 * Randomness for differential privacy, from the operating system's CSPRNG (`node:crypto`), never
 * `Math.random` or the seeded {@link ../rng.ts} generator: DP noise and Poisson sampling are only
 * private if nobody can predict or replay them.
 */
export interface SecureRandom {
  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number;
  /** Fills `out` with independent N(0, std²) samples. */
  gaussian(out: Float32Array | Float64Array, std: number): void;
}

const POOL_BYTES = 64 * 1024;
const TWO_POW_53 = 2 ** 53;

/** A {@link SecureRandom} drawing from `node:crypto` in 64 KiB refills. */
export function createSecureRandom(): SecureRandom {
  let pool = randomBytes(POOL_BYTES);
  let pos = 0;
  const uniform = (): number => {
    if (pos + 8 > pool.length) {
      pool = randomBytes(POOL_BYTES);
      pos = 0;
    }
    // 21 high bits of one word and 32 of the next: a uniform 53-bit integer.
    const hi = pool.readUInt32LE(pos) >>> 11;
    const lo = pool.readUInt32LE(pos + 4);
    pos += 8;
    return (hi * 4294967296 + lo) / TWO_POW_53;
  };
  return {
    uniform,
    gaussian(out, std) {
      // Box–Muller: two uniforms give two independent standard normals.
      for (let i = 0; i < out.length; i += 2) {
        let u = 0;
        while (u === 0) u = uniform();
        const v = uniform();
        const r = Math.sqrt(-2 * Math.log(u)) * std;
        out[i] = r * Math.cos(2 * Math.PI * v);
        if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
      }
    },
  };
}

/**
 * Poisson sampling: each of the `n` rows is in the batch independently with probability `q`
 * (the sampling the accountants assume). Returns the chosen row indices in ascending order.
 */
export function poissonSample(n: number, q: number, random: SecureRandom): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (random.uniform() < q) out.push(i);
  return out;
}
