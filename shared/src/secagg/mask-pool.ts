import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ADD_WORDS_WASM_BASE64 } from './add-words-wasm.js';
import { KEY_BYTES } from './keys.js';

/**
 * Applies masks on several threads. AES-256-CTR can start at any 16-byte block, so the vector is split into
 * ranges (multiples of four 32-bit words) and every worker expands every seed's keystream for its own range
 * only, adding or subtracting it with the SIMD word adder (add-words.wat, as in word-add.ts) and storing the
 * range back in shared memory: the same result as `applyMasks`, word for word.
 *
 * The worker is an inline script using node:crypto and the embedded WebAssembly module only, so it runs the same from compiled JS and from the
 * TypeScript sources the tests load.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const CHUNK = 64 * 1024;
const ZERO = Buffer.alloc(CHUNK);
// The SIMD word adder of word-add.ts (add-words.wat): accumulator at 0, operand at CHUNK.
const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(workerData.wasm, 'base64'))).exports;
const mem = new Uint8Array(wasm.memory.buffer);
parentPort.on('message', (m) => {
  const target = new Uint8Array(m.buffer, m.byteOffset, m.length * 4);
  const lo = m.lo * 4;
  const hi = m.hi * 4;
  const ciphers = m.seeds.map((seed, s) => {
    const iv = Buffer.alloc(16);
    // counter = first block of this range (big-endian 128-bit; ranges stay far below 2^53 blocks)
    let block = m.lo / 4;
    for (let b = 15; b >= 8 && block > 0; b--) { iv[b] = block % 256; block = Math.floor(block / 256); }
    return { c: createCipheriv('aes-256-ctr', seed, iv), add: m.signs[s] === 1 };
  });
  for (let start = lo; start < hi; start += CHUNK) {
    const n = Math.min(CHUNK, hi - start);
    const zero = n === CHUNK ? ZERO : ZERO.subarray(0, n);
    const padded = (n + 63) & ~63;
    const slice = target.subarray(start, start + n);
    mem.set(slice, 0);
    for (const { c, add } of ciphers) {
      mem.set(c.update(zero), CHUNK);
      (add ? wasm.add : wasm.sub)(0, CHUNK, padded);
    }
    slice.set(mem.subarray(0, n));
  }
  parentPort.postMessage('done');
});
`;

export class MaskWorkerPool {
  private constructor(private readonly workers: Worker[]) {}

  /** @param threads @default min(4, available parallelism) */
  static create(threads = Math.min(4, os.availableParallelism())): MaskWorkerPool {
    const workers = Array.from({ length: Math.max(1, threads) }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { wasm: ADD_WORDS_WASM_BASE64 } });
      w.unref();
      return w;
    });
    return new MaskWorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Like `applyMasks`, split over the pool. `target` MUST live on a SharedArrayBuffer. */
  async applyMasks(target: Uint32Array, masks: readonly { seed: Uint8Array; sign: 1 | -1 }[]): Promise<void> {
    if (!(target.buffer instanceof SharedArrayBuffer)) throw new TypeError('target must be backed by a SharedArrayBuffer');
    for (const m of masks) if (m.seed.byteLength !== KEY_BYTES) throw new RangeError(`mask seed must be ${KEY_BYTES} bytes`);
    const n = this.workers.length;
    const per = Math.ceil(target.length / n / 4) * 4;
    const seeds = masks.map((m) => Buffer.from(m.seed));
    const signs = masks.map((m) => m.sign);
    await Promise.all(
      this.workers.map((w, i) => {
        const lo = Math.min(target.length, i * per);
        const hi = Math.min(target.length, lo + per);
        if (lo >= hi) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const onError = (err: Error): void => reject(err);
          w.once('error', onError);
          w.once('message', () => {
            w.off('error', onError);
            resolve();
          });
          w.postMessage({ buffer: target.buffer, byteOffset: target.byteOffset, length: target.length, lo, hi, seeds, signs });
        });
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
