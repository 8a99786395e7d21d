import { createCipheriv } from 'node:crypto';
import { KEY_BYTES } from './keys.js';

/** Keystream is produced and consumed in chunks of this size: big enough for AES-NI throughput, small enough for cache. */
export const KEYSTREAM_CHUNK_BYTES = 64 * 1024;
const ZERO = Buffer.alloc(KEYSTREAM_CHUNK_BYTES);
const IV = Buffer.alloc(16);

/**
 * Adds (`sign` = 1) or subtracts (`sign` = −1) the mask expanded from a 256-bit `seed` into `target`, mod 2^32.
 * The PRG is AES-256-CTR keyed by the seed with a zero IV (each seed is used for exactly one mask), so the
 * whole 256-bit seed is the PRG's key: nothing is folded into a smaller state.
 */
export function applyMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  applyMasks(target, [{ seed, sign }]);
}

/**
 * `t[i] += k[i]` (or `-=`) mod 2^32 over `n` words, on signed 32-bit views: `(a + b) | 0` keeps V8 in int32
 * arithmetic, where an unsigned view makes it add as doubles and convert back on every store (about 30 % of
 * the masking time at 1,000,000 parameters). Two's complement: the same bits as the unsigned sum.
 */
function addWords(t: Int32Array, k: Int32Array, n: number, sign: 1 | -1): void {
  if (sign === 1) {
    for (let i = 0; i < n; i++) t[i] = ((t[i] as number) + (k[i] as number)) | 0;
  } else {
    for (let i = 0; i < n; i++) t[i] = ((t[i] as number) - (k[i] as number)) | 0;
  }
}

/** Generates `bytes` of AES-256-CTR keystream in 64 KiB chunks and discards it: the benchmark's lower bound for masking. */
export function keystreamOnly(seed: Uint8Array, bytes: number): number {
  const cipher = createCipheriv('aes-256-ctr', seed, IV);
  let x = 0;
  for (let done = 0; done < bytes; done += KEYSTREAM_CHUNK_BYTES) {
    const ks = cipher.update(bytes - done >= KEYSTREAM_CHUNK_BYTES ? ZERO : ZERO.subarray(0, bytes - done));
    x ^= ks[0] ?? 0;
  }
  return x;
}

/** Element-wise `acc += v` mod 2^32 (`v` at least as long as `acc`). */
export function addInto(acc: Uint32Array, v: Uint32Array): void {
  addWords(new Int32Array(acc.buffer, acc.byteOffset, acc.length), new Int32Array(v.buffer, v.byteOffset, acc.length), acc.length, 1);
}

/**
 * Applies many masks at once, chunk by chunk: each 64 KiB slice of `target` stays in cache while every
 * seed's keystream for that slice is added or subtracted, instead of streaming the whole vector through
 * memory once per seed. Same result as calling {@link applyMask} for each entry.
 */
export function applyMasks(target: Uint32Array, masks: readonly { seed: Uint8Array; sign: 1 | -1 }[]): void {
  const ciphers = masks.map((m) => {
    if (m.seed.byteLength !== KEY_BYTES) throw new RangeError(`mask seed must be ${KEY_BYTES} bytes`);
    return { c: createCipheriv('aes-256-ctr', m.seed, IV), sign: m.sign };
  });
  const words = KEYSTREAM_CHUNK_BYTES / 4;
  const all = new Int32Array(target.buffer, target.byteOffset, target.length);
  for (let start = 0; start < target.length; start += words) {
    const n = Math.min(words, target.length - start);
    const zero = n === words ? ZERO : ZERO.subarray(0, n * 4);
    const t = all.subarray(start, start + n);
    for (const { c, sign } of ciphers) {
      // The cipher's output is used in place as the addend: one pass, no second copy of the keystream.
      const ks = c.update(zero);
      const k = ks.byteOffset % 4 === 0 ? new Int32Array(ks.buffer, ks.byteOffset, n) : new Int32Array(Uint8Array.from(ks).buffer);
      addWords(t, k, n, sign);
    }
  }
}
