import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ADD_WORDS_WASM_BASE64 } from './add-words-wasm.js';
import { KEY_BYTES } from './keys.js';
import { nativeMaskFile, packMasks } from './native-mask.js';

/**
 * Applies masks on several threads. AES-256-CTR can start at any 16-byte block, so the vector is split into
 * ranges (multiples of four 32-bit words) and every worker expands every seed's keystream for its own range
 * only, adding or subtracting it with the SIMD word adder (add-words.wat, as in word-add.ts) and storing the
 * range back in shared memory: the same result as `applyMasks`, word for word.
 *
 * The worker is an inline script using node:crypto, the embedded WebAssembly module and (where it loads) the
 * native kernel only, so it runs the same from compiled JS and from the TypeScript sources the tests load.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const CHUNK = 64 * 1024;
const ZERO = Buffer.alloc(CHUNK);
// The SIMD word adder of word-add.ts (add-words.wat): accumulator at 0, operand at CHUNK.
const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(workerData.wasm, 'base64'))).exports;
const mem = new Uint8Array(wasm.memory.buffer);
// The native kernel (native-mask.ts) where it was built and loads; else the WebAssembly path below.
let native;
try { native = workerData.native ? require(workerData.native) : undefined; } catch { native = undefined; }
parentPort.on('message', (m) => {
  if (native) {
    native.maskRange(new Uint32Array(m.buffer, m.byteOffset, m.length), m.lo, m.hi, m.seeds, m.signs);
    parentPort.postMessage('done');
    return;
  }
  const target = new Uint8Array(m.buffer, m.byteOffset, m.length * 4);
  const lo = m.lo * 4;
  const hi = m.hi * 4;
  const ciphers = Array.from(m.signs, (sign, s) => {
    const iv = Buffer.alloc(16);
    // counter = first block of this range (big-endian 128-bit; ranges stay far below 2^53 blocks)
    let block = m.lo / 4;
    for (let b = 15; b >= 8 && block > 0; b--) { iv[b] = block % 256; block = Math.floor(block / 256); }
    return { c: createCipheriv('aes-256-ctr', m.seeds.subarray(32 * s, 32 * s + 32), iv), add: sign === 1 };
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

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class MaskWorkerPool {
  /** Per worker, the jobs posted and not yet answered, oldest first (a worker answers in posting order). */
  private readonly pending: Pending[][];
  private failure: Error | undefined;

  private constructor(private readonly workers: Worker[]) {
    this.pending = workers.map(() => []);
    workers.forEach((w, i) => {
      const queue = this.pending[i] as Pending[];
      w.on('message', () => {
        queue.shift()?.resolve();
        // An idle pool never keeps the process alive; a busy one does (see applyMasks).
        if (queue.length === 0) w.unref();
      });
      const fail = (err: Error): void => {
        this.failure ??= err;
        for (const p of this.pending.flatMap((q) => q.splice(0))) p.reject(err);
      };
      w.on('error', fail);
      w.on('exit', (code) => {
        if (queue.length > 0) fail(new Error(`mask worker exited with code ${code} with ${queue.length} job(s) pending`));
      });
      // A 'message' listener on a Worker refs its port: unref again, or the process would never exit.
      w.unref();
    });
  }

  /** @param threads @default min(4, available parallelism) */
  static create(threads = Math.min(4, os.availableParallelism()), kernel: 'native' | 'wasm' = 'native'): MaskWorkerPool {
    const native = kernel === 'native' ? (nativeMaskFile() ?? null) : null;
    const workers = Array.from({ length: Math.max(1, threads) }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: { wasm: ADD_WORDS_WASM_BASE64, native } }));
    return new MaskWorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Like `applyMasks`, split over the pool. `target` MUST live on a SharedArrayBuffer. Calls may overlap:
   * each worker runs its jobs in the order they were posted, so two calls on the same target apply in
   * call order, range by range, and calls on different targets (concurrent studies) never mix.
   */
  async applyMasks(target: Uint32Array, masks: readonly { seed: Uint8Array; sign: 1 | -1 }[]): Promise<void> {
    if (!(target.buffer instanceof SharedArrayBuffer)) throw new TypeError('target must be backed by a SharedArrayBuffer');
    for (const m of masks) if (m.seed.byteLength !== KEY_BYTES) throw new RangeError(`mask seed must be ${KEY_BYTES} bytes`);
    if (this.failure) throw this.failure;
    if (masks.length === 0) return;
    const n = this.workers.length;
    const per = Math.ceil(target.length / n / 4) * 4;
    // One form for both kernels: seeds packed 32 bytes each, signs as an Int8Array.
    const { seeds, signs } = packMasks(masks);
    await Promise.all(
      this.workers.map((w, i) => {
        const lo = Math.min(target.length, i * per);
        const hi = Math.min(target.length, lo + per);
        if (lo >= hi) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          (this.pending[i] as Pending[]).push({ resolve, reject });
          w.ref();
          w.postMessage({ buffer: target.buffer, byteOffset: target.byteOffset, length: target.length, lo, hi, seeds, signs });
        });
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
