import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyMasks } from '../../../shared/src/secagg/mask.js';
import { MaskWorkerPool } from '../../../shared/src/secagg/mask-pool.js';
import { maskKernel, nativeMask, packMasks } from '../../../shared/src/secagg/native-mask.js';

type Mask = { seed: Uint8Array; sign: 1 | -1 };
const masksOf = (n: number): Mask[] => Array.from({ length: n }, (_, i) => ({ seed: randomBytes(32), sign: i % 3 === 0 ? -1 : 1 }));
const same = (a: Uint32Array, b: Uint32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('native mask kernel (native/mask.c: OpenSSL AES-256-CTR, C adds)', () => {
  it('is built by npm install and loads here (the WebAssembly path is the fallback elsewhere)', () => {
    expect(maskKernel()).toBe('native');
  });

  it('gives the words of the WebAssembly path, at every length and across 64 KiB chunks', () => {
    for (const len of [1, 3, 4, 5, 16_383, 16_384, 16_385, 70_001]) {
      const masks = masksOf(5);
      const base = new Uint32Array(randomBytes(len * 4).buffer);
      const viaNative = Uint32Array.from(base);
      const viaWasm = Uint32Array.from(base);
      applyMasks(viaNative, masks, 'native');
      applyMasks(viaWasm, masks, 'wasm');
      expect(same(viaNative, viaWasm), `length ${len}`).toBe(true);
    }
  });

  it('is the raw AES-256-CTR keystream added mod 2^32, and a range starts at its own counter block', () => {
    const len = 40_004;
    const seed = randomBytes(32);
    const ks = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(len * 4));
    const kernel = nativeMask();
    if (!kernel) throw new Error('native kernel not loaded');
    const { seeds, signs } = packMasks([{ seed, sign: 1 }]);
    const t = new Uint32Array(len);
    kernel.maskRange(t, 0, 20_000, seeds, signs);
    kernel.maskRange(t, 20_000, len, seeds, signs);
    for (let i = 0; i < len; i += 997) expect(t[i]).toBe(ks.readUInt32LE(i * 4));
    expect(t[len - 1]).toBe(ks.readUInt32LE((len - 1) * 4));
  });

  it('refuses a bad range or mismatched seeds, naming the problem', () => {
    const kernel = nativeMask();
    if (!kernel) throw new Error('native kernel not loaded');
    const { seeds, signs } = packMasks(masksOf(2));
    const t = new Uint32Array(100);
    expect(() => kernel.maskRange(t, 2, 100, seeds, signs)).toThrow(/lo not a multiple of 4/);
    expect(() => kernel.maskRange(t, 0, 101, seeds, signs)).toThrow(/range out of bounds/);
    expect(() => kernel.maskRange(t, 0, 100, seeds.subarray(0, 40), signs)).toThrow(/32 bytes per sign/);
    expect(() => kernel.maskRange(new Float32Array(4) as unknown as Uint32Array, 0, 4, seeds, signs)).toThrow(/must be a Uint32Array/);
  });

  it('the worker pool gives the same words with either kernel', async () => {
    const len = 90_001;
    const masks = masksOf(7);
    const out: Uint32Array[] = [];
    for (const kernel of ['native', 'wasm'] as const) {
      const pool = MaskWorkerPool.create(2, kernel);
      try {
        const t = new Uint32Array(new SharedArrayBuffer(len * 4));
        await pool.applyMasks(t, masks);
        out.push(t);
      } finally {
        await pool.close();
      }
    }
    const single = new Uint32Array(len);
    applyMasks(single, masks, 'wasm');
    expect(same(out[0] as Uint32Array, single)).toBe(true);
    expect(same(out[1] as Uint32Array, single)).toBe(true);
  });
});
