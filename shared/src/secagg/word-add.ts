import { ADD_WORDS_WASM_BASE64 } from './add-words-wasm.js';

/**
 * 32-bit word addition mod 2^32 with WebAssembly SIMD (i32x4.add / i32x4.sub, add-words.wat): the inner
 * loop of masking, about 4× the scalar JavaScript loop. The module owns a small linear memory with two
 * work areas of {@link WORD_ADD_CHUNK_BYTES}: the accumulator at 0 and the operand after it; callers
 * copy a chunk in, add any number of operands to it, and copy it out.
 */
export const WORD_ADD_CHUNK_BYTES = 64 * 1024;
const ACC = 0;
const SRC = WORD_ADD_CHUNK_BYTES;

/** The slice of the WebAssembly JS API used here (the project's `lib` is ES2023 without DOM, which declares it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface AddWordsExports {
  memory: { buffer: ArrayBuffer };
  add: (dst: number, src: number, bytes: number) => void;
  sub: (dst: number, src: number, bytes: number) => void;
}

let compiled: object | undefined;

function wasmModule(): object {
  compiled ??= new wasmApi.Module(Buffer.from(ADD_WORDS_WASM_BASE64, 'base64'));
  return compiled;
}

/** The module loops over 64-byte blocks: round a length up (the work areas are whole blocks long). */
function blocks(bytes: number): number {
  return (bytes + 63) & ~63;
}

export class WordAdder {
  private readonly mem: Uint8Array;
  private readonly fns: AddWordsExports;

  constructor() {
    this.fns = new wasmApi.Instance(wasmModule()).exports as AddWordsExports;
    this.mem = new Uint8Array(this.fns.memory.buffer);
  }

  /** Copies `bytes` (≤ one chunk) into the accumulator. */
  load(bytes: Uint8Array): void {
    if (bytes.byteLength > WORD_ADD_CHUNK_BYTES) throw new RangeError(`at most ${WORD_ADD_CHUNK_BYTES} bytes per chunk`);
    this.mem.set(bytes, ACC);
  }

  /** acc ± operand over the first `operand.byteLength` bytes (a multiple of 4, ≤ one chunk). */
  accumulate(operand: Uint8Array, sign: 1 | -1): void {
    if (operand.byteLength > WORD_ADD_CHUNK_BYTES) throw new RangeError(`at most ${WORD_ADD_CHUNK_BYTES} bytes per chunk`);
    this.mem.set(operand, SRC);
    (sign === 1 ? this.fns.add : this.fns.sub)(ACC, SRC, blocks(operand.byteLength));
  }

  /** Copies the accumulator's first `out.byteLength` bytes into `out`. */
  store(out: Uint8Array): void {
    out.set(this.mem.subarray(ACC, ACC + out.byteLength));
  }

  /** `acc[i] += v[i]` mod 2^32 for every word of `acc` (`v` at least as long), chunk by chunk. */
  addInto(acc: Uint32Array, v: Uint32Array): void {
    if (v.length < acc.length) throw new RangeError(`addend has ${v.length} words, accumulator ${acc.length}`);
    const a = new Uint8Array(acc.buffer, acc.byteOffset, acc.byteLength);
    const b = new Uint8Array(v.buffer, v.byteOffset, acc.byteLength);
    for (let start = 0; start < a.byteLength; start += WORD_ADD_CHUNK_BYTES) {
      const end = Math.min(a.byteLength, start + WORD_ADD_CHUNK_BYTES);
      const chunk = a.subarray(start, end);
      this.load(chunk);
      this.accumulate(b.subarray(start, end), 1);
      this.store(chunk);
    }
  }
}

let shared: WordAdder | undefined;

/** One adder per thread (it is synchronous and holds no state between calls). */
export function wordAdder(): WordAdder {
  shared ??= new WordAdder();
  return shared;
}
