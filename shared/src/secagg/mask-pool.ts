import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { KEY_BYTES } from './keys.js';

/**
 * Applies masks on several threads. AES-256-CTR can start at any 16-byte block, so the vector is split into
 * ranges (multiples of four 32-bit words) and every worker expands every seed's keystream for its own range
 * only, adding or subtracting it in place in shared memory: the same result as `applyMasks`, word for word.
 *
 * The worker is an inline script using node:crypto only, so it runs the same from compiled JS and from the
 * TypeScript sources the tests load.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const CHUNK = 64 * 1024;
const ZERO = Buffer.alloc(CHUNK);
parentPort.on('message', (m) => {
  // Signed view: (a + b) | 0 stays in int32 arithmetic (same bits as the unsigned sum mod 2^32).
  const target = new Int32Array(m.buffer, m.byteOffset, m.length);
  for (let s = 0; s < m.seeds.length; s++) {
    const iv = Buffer.alloc(16);
    // counter = first block of this range (big-endian 128-bit; ranges stay far below 2^53 blocks)
    let block = m.lo / 4;
    for (let b = 15; b >= 8 && block > 0; b--) { iv[b] = block % 256; block = Math.floor(block / 256); }
    const c = createCipheriv('aes-256-ctr', m.seeds[s], iv);
    const sign = m.signs[s];
    const words = CHUNK / 4;
    for (let start = m.lo; start < m.hi; start += words) {
      const n = Math.min(words, m.hi - start);
      const ks = c.update(n === words ? ZERO : ZERO.subarray(0, n * 4));
      const k = new Int32Array(ks.buffer, ks.byteOffset, n);
      const t = target.subarray(start, start + n);
      if (sign === 1) { for (let i = 0; i < n; i++) t[i] = (t[i] + k[i]) | 0; }
      else { for (let i = 0; i < n; i++) t[i] = (t[i] - k[i]) | 0; }
    }
  }
  parentPort.postMessage('done');
});
`;

export class MaskWorkerPool {
  private constructor(private readonly workers: Worker[]) {}

  /** @param threads @default min(4, available parallelism) */
  static create(threads = Math.min(4, os.availableParallelism())): MaskWorkerPool {
    const workers = Array.from({ length: Math.max(1, threads) }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true });
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
