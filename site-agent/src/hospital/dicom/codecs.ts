/**
 * Compressed pixel data codecs, each a maintained package that ships its code (WebAssembly or JS) in the
 * npm tarball, so nothing is fetched at install or run time:
 * - JPEG baseline and 8-bit extended: `@cornerstonejs/codec-libjpeg-turbo-8bit` (libjpeg-turbo, wasm);
 * - JPEG lossless (processes 14 and 14 SV1): `jpeg-lossless-decoder-js` (JS);
 * - JPEG-LS lossless and near-lossless: `@cornerstonejs/codec-charls` (CharLS, wasm);
 * - JPEG 2000 (lossless and lossy): `@cornerstonejs/codec-openjpeg` (OpenJPEG, wasm);
 * - High-Throughput JPEG 2000: `@cornerstonejs/codec-openjph` (OpenJPH, wasm);
 * - RLE lossless (PS3.5 Annex G) and Deflated Image Frame Compression: here, with node:zlib for the latter.
 * Each wasm module is instantiated once, on first use.
 */
import { createRequire } from 'node:module';
import { inflateRawSync } from 'node:zlib';

import { Decoder as LosslessDecoder } from 'jpeg-lossless-decoder-js';

/** What a codec returns: samples of one frame, interleaved, little endian (8 or 16 bits per sample). */
export interface CodecFrame {
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly components: number;
  readonly data: Uint8Array;
}

interface EmscriptenDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  delete(): void;
}
type EmscriptenFactory = (options: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<Record<string, new () => EmscriptenDecoder>>;

const require = createRequire(import.meta.url);
const modules = new Map<string, Promise<Record<string, new () => EmscriptenDecoder>>>();

function loadModule(specifier: string): Promise<Record<string, new () => EmscriptenDecoder>> {
  let m = modules.get(specifier);
  if (m === undefined) {
    const factory = require(specifier) as EmscriptenFactory;
    // OpenJPEG prints progress to stdout; codecs never write to the site's logs.
    m = factory({ print: () => undefined, printErr: () => undefined });
    modules.set(specifier, m);
  }
  return m;
}

async function emscriptenDecode(specifier: string, className: string, data: Uint8Array): Promise<CodecFrame> {
  const mod = await loadModule(specifier);
  const Ctor = mod[className];
  if (Ctor === undefined) throw new Error(`codec module ${specifier} has no ${className}`);
  const decoder = new Ctor();
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    decoder.decode();
    const info = decoder.getFrameInfo();
    return {
      width: info.width,
      height: info.height,
      bitsPerSample: info.bitsPerSample,
      components: info.componentCount,
      data: Uint8Array.from(decoder.getDecodedBuffer()), // copy out of the wasm heap
    };
  } finally {
    decoder.delete();
  }
}

/** JPEG baseline / 8-bit extended (libjpeg-turbo). Colour comes back as RGB. */
export function decodeJpegBaseline(data: Uint8Array): Promise<CodecFrame> {
  return emscriptenDecode('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder', data);
}

/** JPEG-LS (CharLS). */
export function decodeJpegLs(data: Uint8Array): Promise<CodecFrame> {
  return emscriptenDecode('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', data);
}

/** JPEG 2000 (OpenJPEG). */
export function decodeJpeg2000(data: Uint8Array): Promise<CodecFrame> {
  return emscriptenDecode('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder', data);
}

/** High-Throughput JPEG 2000 (OpenJPH). Colour comes back interleaved. */
export function decodeHtj2k(data: Uint8Array): Promise<CodecFrame> {
  return emscriptenDecode('@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KDecoder', data);
}

/** JPEG lossless, processes 14 and 14 SV1 (jpeg-lossless-decoder-js). */
export function decodeJpegLossless(data: Uint8Array, bytesPerSample: number): CodecFrame {
  const decoder = new LosslessDecoder();
  const out = decoder.decode(data.buffer as ArrayBuffer, data.byteOffset, data.length, bytesPerSample);
  return {
    width: decoder.xDim,
    height: decoder.yDim,
    bitsPerSample: bytesPerSample * 8,
    components: decoder.numComp,
    data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
  };
}

/** Deflated Image Frame Compression (1.2.840.10008.1.2.8.1): raw deflate of the native frame. */
export function inflateFrame(data: Uint8Array): Uint8Array {
  return inflateRawSync(data);
}

/**
 * RLE lossless (PS3.5 Annex G): a 64-byte header (segment count, up to 15 offsets), then one PackBits
 * segment per byte plane, most significant byte first, sample by sample. Returns native little-endian
 * interleaved samples.
 */
export function decodeRle(data: Uint8Array, width: number, height: number, samples: number, bytesPerSample: number): Uint8Array {
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  if (data.length < 64) throw new Error('RLE frame shorter than its 64-byte header');
  const segments = view.getUint32(0, true);
  if (segments !== samples * bytesPerSample) throw new Error(`RLE frame has ${segments} segments, ${samples * bytesPerSample} expected`);
  const pixels = width * height;
  const out = new Uint8Array(pixels * samples * bytesPerSample);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + s * 4, true);
    const end = s + 1 < segments ? view.getUint32(8 + s * 4, true) : data.length;
    if (start < 64 || start > data.length || end > data.length || end < start) throw new Error(`RLE segment ${s} offsets out of range`);
    const sample = Math.floor(s / bytesPerSample);
    // Segment 0 of a sample is its most significant byte; output is little endian.
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const stride = samples * bytesPerSample;
    let o = sample * bytesPerSample + byteInSample;
    let n = 0;
    let i = start;
    while (i < end && n < pixels) {
      const control = (data[i++] as number) << 24 >> 24;
      if (control >= 0) {
        for (let k = 0; k <= control && i < end && n < pixels; k++, n++, o += stride) out[o] = data[i++] as number;
      } else if (control !== -128) {
        const v = data[i++] as number;
        for (let k = 0; k < 1 - control && n < pixels; k++, n++, o += stride) out[o] = v;
      }
    }
    if (n < pixels) throw new Error(`RLE segment ${s} decodes to ${n} of ${pixels} pixels`);
  }
  return out;
}
