import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addInto } from '../../../shared/src/secagg/mask.js';
import { WORD_ADD_CHUNK_BYTES, WordAdder } from '../../../shared/src/secagg/word-add.js';
import { ADD_WORDS_WASM_BASE64 } from '../../../shared/src/secagg/add-words-wasm.js';
import { compileAddWords, render } from '../../../scripts/gen-wasm.mjs';

function words(n: number): Uint32Array {
  return new Uint32Array(randomBytes(4 * n).buffer);
}

describe('SIMD word adder (add-words.wat)', () => {
  it('adds and subtracts mod 2^32 word for word like unsigned scalar arithmetic, at every tail length', () => {
    const adder = new WordAdder();
    for (const n of [1, 3, 4, 15, 16, 17, 63, 1000, WORD_ADD_CHUNK_BYTES / 4 - 1, WORD_ADD_CHUNK_BYTES / 4]) {
      const a = words(n);
      const b = words(n);
      const c = words(n);
      const out = new Uint32Array(n);
      const bytes = (v: Uint32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      adder.load(bytes(a));
      adder.accumulate(bytes(b), 1);
      adder.accumulate(bytes(c), -1);
      adder.store(bytes(out));
      for (let i = 0; i < n; i++) expect(out[i], `word ${i} of ${n}`).toBe(((a[i] as number) + (b[i] as number) - (c[i] as number)) >>> 0);
    }
  });

  it('wraps at 2^32 in both directions', () => {
    const adder = new WordAdder();
    const a = Uint32Array.of(0xffff_ffff, 0, 0x8000_0000, 5);
    const b = Uint32Array.of(1, 1, 0x8000_0000, 7);
    const out = new Uint32Array(4);
    adder.load(new Uint8Array(a.buffer));
    adder.accumulate(new Uint8Array(b.buffer), 1);
    adder.store(new Uint8Array(out.buffer));
    expect([...out]).toEqual([0, 1, 0, 12]);
    adder.load(new Uint8Array(a.buffer));
    adder.accumulate(new Uint8Array(b.buffer), -1);
    adder.store(new Uint8Array(out.buffer));
    expect([...out]).toEqual([0xffff_fffe, 0xffff_ffff, 0, 0xffff_fffe]);
  });

  it('addInto sums whole vectors across chunk boundaries and leaves the addend untouched', () => {
    const n = 3 * (WORD_ADD_CHUNK_BYTES / 4) + 5;
    const acc = words(n);
    const before = Uint32Array.from(acc);
    const v = words(n + 2);
    const vBefore = Uint32Array.from(v);
    addInto(acc, v);
    for (let i = 0; i < n; i++) expect(acc[i]).toBe(((before[i] as number) + (v[i] as number)) >>> 0);
    expect(Buffer.from(v.buffer).equals(Buffer.from(vBefore.buffer))).toBe(true);
    // views with an offset into a larger buffer
    const big = words(n + 10);
    const view = big.subarray(3, 3 + n);
    const viewBefore = Uint32Array.from(view);
    addInto(view, v);
    for (let i = 0; i < n; i++) expect(view[i]).toBe(((viewBefore[i] as number) + (v[i] as number)) >>> 0);
  });

  it('refuses a short addend and an operand over one chunk', () => {
    const adder = new WordAdder();
    expect(() => adder.addInto(new Uint32Array(10), new Uint32Array(9))).toThrow(/addend has 9 words, accumulator 10/);
    expect(() => adder.accumulate(new Uint8Array(WORD_ADD_CHUNK_BYTES + 4), 1)).toThrow(RangeError);
  });

  it('the embedded module is what scripts/gen-wasm.mjs compiles from add-words.wat', async () => {
    const base64 = await compileAddWords();
    expect(base64).toBe(ADD_WORDS_WASM_BASE64);
    expect(readFileSync(new URL('../../../shared/src/secagg/add-words-wasm.ts', import.meta.url), 'utf8')).toBe(render(base64));
  });
});
