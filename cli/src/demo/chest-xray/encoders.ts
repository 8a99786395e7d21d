/**
 * Encoders for the demo's simulated PACS exports. The same maintained packages whose decoders the site
 * agent uses (site-agent/src/hospital/dicom/codecs.ts) ship full builds with an encoder beside the
 * decoder: CharLS (`JpegLSEncoder`), OpenJPEG (`J2KEncoder`) and libjpeg-turbo (`JPEGEncoder`). The demo
 * writes with them so that each hospital's files carry a real compressed transfer syntax, which the
 * site's pipeline must decode. Only the demo encodes; a site never does.
 */
import { createRequire } from 'node:module';

/** One grey frame to encode: row-major samples, 8 bits in a Uint8Array, 9–16 bits in a Uint16Array. */
export interface GreyFrame {
  readonly width: number;
  readonly height: number;
  /** Significant bits of each sample (8 for a Uint8Array, 9–16 for a Uint16Array). */
  readonly bitsStored: number;
  readonly samples: Uint8Array | Uint16Array;
}

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
  isUsingColorSpace: boolean;
}

interface EmscriptenEncoder {
  getDecodedBuffer(info: FrameInfo): Uint8Array;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
  setQuality?: (...args: (number | boolean)[]) => void;
}

type EncoderModule = Record<string, new () => EmscriptenEncoder>;
type EmscriptenFactory = (options: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<EncoderModule>;

const require = createRequire(import.meta.url);
const modules = new Map<string, Promise<EncoderModule>>();

function loadModule(specifier: string): Promise<EncoderModule> {
  let m = modules.get(specifier);
  if (m === undefined) {
    const factory = require(specifier) as EmscriptenFactory;
    m = factory({ print: () => undefined, printErr: () => undefined });
    modules.set(specifier, m);
  }
  return m;
}

function checkFrame(frame: GreyFrame): void {
  const { width, height, bitsStored, samples } = frame;
  if (samples.length !== width * height) throw new Error(`frame has ${samples.length} samples, ${width}×${height} expected`);
  if (samples instanceof Uint8Array ? bitsStored !== 8 : bitsStored < 9 || bitsStored > 16) {
    throw new Error(`${bitsStored} bits stored do not fit ${samples instanceof Uint8Array ? 'an 8' : 'a 16'}-bit sample array`);
  }
}

async function encodeWith(specifier: string, className: string, frame: GreyFrame, configure: (e: EmscriptenEncoder) => void): Promise<Uint8Array> {
  checkFrame(frame);
  const mod = await loadModule(specifier);
  const Ctor = mod[className];
  if (Ctor === undefined) throw new Error(`codec module ${specifier} has no ${className}`);
  const encoder = new Ctor();
  try {
    const input = encoder.getDecodedBuffer({
      width: frame.width,
      height: frame.height,
      bitsPerSample: frame.bitsStored,
      componentCount: 1,
      isSigned: false,
      isUsingColorSpace: false,
    });
    input.set(new Uint8Array(frame.samples.buffer, frame.samples.byteOffset, frame.samples.byteLength));
    configure(encoder);
    encoder.encode();
    return Uint8Array.from(encoder.getEncodedBuffer()); // copy out of the wasm heap
  } finally {
    encoder.delete();
  }
}

/** JPEG-LS lossless (transfer syntax 1.2.840.10008.1.2.4.80), CharLS. */
export function encodeJpegLsLossless(frame: GreyFrame): Promise<Uint8Array> {
  return encodeWith('@cornerstonejs/codec-charls/wasmjs', 'JpegLSEncoder', frame, () => undefined);
}

/** JPEG 2000 lossless, a raw codestream (transfer syntax 1.2.840.10008.1.2.4.90), OpenJPEG. */
export function encodeJpeg2000Lossless(frame: GreyFrame): Promise<Uint8Array> {
  return encodeWith('@cornerstonejs/codec-openjpeg/wasmjs', 'J2KEncoder', frame, (e) => e.setQuality?.(true, 0));
}

/** JPEG baseline, 8-bit Huffman (transfer syntax 1.2.840.10008.1.2.4.50), libjpeg-turbo at `quality` (1–100). */
export function encodeJpegBaseline(frame: GreyFrame, quality = 90): Promise<Uint8Array> {
  return encodeWith('@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs', 'JPEGEncoder', frame, (e) => e.setQuality?.(quality));
}
