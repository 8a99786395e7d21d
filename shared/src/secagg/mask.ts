import { createCipheriv } from 'node:crypto';
import { KEY_BYTES } from './keys.js';
import { wordAdder } from './word-add.js';

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
  wordAdder().addInto(acc, v);
}

/**
 * Applies many masks at once, chunk by chunk: each 64 KiB slice of `target` is loaded once into the SIMD
 * adder (word-add.ts), every seed's keystream for that slice is added or subtracted there, and the slice
 * is stored back, instead of streaming the whole vector through memory once per seed. Same result as
 * calling {@link applyMask} for each entry.
 */
export function applyMasks(target: Uint32Array, masks: readonly { seed: Uint8Array; sign: 1 | -1 }[]): void {
  const ciphers = masks.map((m) => {
    if (m.seed.byteLength !== KEY_BYTES) throw new RangeError(`mask seed must be ${KEY_BYTES} bytes`);
    return { c: createCipheriv('aes-256-ctr', m.seed, IV), sign: m.sign };
  });
  const adder = wordAdder();
  const bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  for (let start = 0; start < bytes.byteLength; start += KEYSTREAM_CHUNK_BYTES) {
    const n = Math.min(KEYSTREAM_CHUNK_BYTES, bytes.byteLength - start);
    const zero = n === KEYSTREAM_CHUNK_BYTES ? ZERO : ZERO.subarray(0, n);
    const slice = bytes.subarray(start, start + n);
    adder.load(slice);
    // The cipher's output goes straight into the adder's operand area: one copy, no per-word JavaScript.
    for (const { c, sign } of ciphers) adder.accumulate(c.update(zero), sign);
    adder.store(slice);
  }
}
