/**
 * Pixel decoding for training: one frame of a parsed DICOM image → stored values (native, RLE, JPEG
 * baseline/8-bit extended/lossless, JPEG-LS, JPEG 2000, HTJ2K, deflated frames) → modality values (rescale slope
 * and intercept) → display values in [0, 1] (VOI window from the file, or the frame's range), MONOCHROME1
 * inverted → resampled to the model's input size (area average when shrinking, bilinear when growing).
 */
import { ConfigError, InputError } from '../../../../shared/src/errors.js';
import { decodeHtj2k, decodeJpeg2000, decodeJpegBaseline, decodeJpegLossless, decodeJpegLs, decodeRle, inflateFrame, type CodecFrame } from './codecs.js';
import { getNumber, getString, getUint16, type DicomDataset } from './dataset.js';
import { Tags, TransferSyntax } from './dictionary.js';
import type { ParsedDicom } from './parse.js';

/** The image pixel description (PS3.3 C.7.6.3) of a data set. */
export interface PixelDescription {
  readonly rows: number;
  readonly columns: number;
  readonly frames: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  /** Most significant bit of a stored value within its cell (PS3.5 §8.1.1); usually `bitsStored − 1`. */
  readonly highBit: number;
  readonly pixelRepresentation: 0 | 1;
  readonly photometric: string;
  readonly planarConfiguration: 0 | 1;
}

/** Stored values of one frame: `samplesPerPixel` interleaved samples per pixel, masked to Bits Stored and sign-extended. */
export interface StoredFrame {
  readonly description: PixelDescription;
  readonly values: Int32Array;
}

const DEFLATED_FRAMES = '1.2.840.10008.1.2.8.1';

/** Reads the pixel description; throws {@link InputError} `TESSERA_INPUT_DICOM_PIXELS` when absent or inconsistent. */
export function pixelDescription(ds: DicomDataset, source: string): PixelDescription {
  const rows = getUint16(ds, Tags.Rows);
  const columns = getUint16(ds, Tags.Columns);
  const bitsAllocated = getUint16(ds, Tags.BitsAllocated);
  if (!ds.has(Tags.PixelData) || rows === undefined || columns === undefined || bitsAllocated === undefined || rows === 0 || columns === 0) {
    throw new InputError('TESSERA_INPUT_DICOM_PIXELS', `${source}: no image (Pixel Data, Rows, Columns, Bits Allocated)`, { source });
  }
  const samplesPerPixel = getUint16(ds, Tags.SamplesPerPixel) ?? 1;
  const bitsStored = getUint16(ds, Tags.BitsStored) ?? bitsAllocated;
  const frames = getNumber(ds, Tags.NumberOfFrames) ?? 1;
  const highBit = getUint16(ds, Tags.HighBit) ?? bitsStored - 1;
  if (![1, 8, 16, 32].includes(bitsAllocated) || bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated || ![1, 3].includes(samplesPerPixel) || !Number.isInteger(frames) || frames < 1) {
    throw new InputError('TESSERA_INPUT_DICOM_PIXELS', `${source}: unsupported pixel description (bits ${bitsAllocated}/${bitsStored}, samples ${samplesPerPixel}, frames ${frames})`, { source });
  }
  return {
    rows,
    columns,
    frames,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation: getUint16(ds, Tags.PixelRepresentation) === 1 ? 1 : 0,
    photometric: (getString(ds, Tags.PhotometricInterpretation) ?? 'MONOCHROME2').toUpperCase(),
    planarConfiguration: getUint16(ds, Tags.PlanarConfiguration) === 1 ? 1 : 0,
  };
}

/** The compressed bytes of frame `index`: by offset table, one fragment per frame, or split at JPEG/J2K start markers. */
export function encapsulatedFrame(fragments: readonly Uint8Array[], offsetTable: Uint8Array, frames: number, index: number): Uint8Array {
  if (frames === 1) return fragments.length === 1 ? (fragments[0] as Uint8Array) : concat(fragments);
  if (offsetTable.length >= frames * 4) {
    const bot = new DataView(offsetTable.buffer, offsetTable.byteOffset, offsetTable.length);
    const start = bot.getUint32(index * 4, true);
    const end = index + 1 < frames ? bot.getUint32((index + 1) * 4, true) : Number.POSITIVE_INFINITY;
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const f of fragments) {
      if (at >= start && at < end) parts.push(f);
      at += 8 + f.length;
    }
    return concat(parts);
  }
  if (fragments.length === frames) return fragments[index] as Uint8Array;
  // No offset table, several fragments per frame: a frame starts at a fragment opening with SOI or SOC.
  const starts = fragments.map((f, i) => ((f[0] === 0xff && (f[1] === 0xd8 || f[1] === 0x4f)) ? i : -1)).filter((i) => i >= 0);
  if (starts.length !== frames) throw new Error(`cannot split ${fragments.length} fragments into ${frames} frames`);
  return concat(fragments.slice(starts[index], starts[index + 1]));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Native little-endian samples (8/16/32 bits, or 1-bit packed) → stored values: shifted down so High Bit
 * lands at bit `bitsStored − 1` (`lowBit`, 0 for codec output), masked to Bits Stored and sign-extended.
 */
function nativeValues(bytes: Uint8Array, d: PixelDescription, bits: number, lowBit = d.highBit + 1 - d.bitsStored): Int32Array {
  const count = d.rows * d.columns * d.samplesPerPixel;
  const out = new Int32Array(count);
  const shift = 32 - d.bitsStored;
  const signed = d.pixelRepresentation === 1;
  if (bits === 16 && lowBit === 0 && (bytes.byteOffset & 1) === 0 && LITTLE_ENDIAN_HOST) {
    // The common case (CT, MR, CR): read the cells through a typed view, no per-sample DataView call.
    const cells = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    if (signed) for (let i = 0; i < count; i++) out[i] = ((cells[i] as number) << shift) >> shift;
    else for (let i = 0; i < count; i++) out[i] = ((cells[i] as number) << shift) >>> shift;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < count; i++) {
    let v: number;
    if (bits === 1) v = ((bytes[i >> 3] as number) >> (i & 7)) & 1;
    else if (bits === 8) v = bytes[i] as number;
    else if (bits === 16) v = view.getUint16(i * 2, true);
    else v = view.getUint32(i * 4, true);
    if (lowBit > 0) v = v >>> lowBit;
    // Keep the low Bits Stored bits (overlays or garbage may sit above them), then sign-extend.
    out[i] = signed ? (v << shift) >> shift : bits === 32 && shift === 0 ? v >>> 0 : (v << shift) >>> shift;
  }
  return out;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fromCodec(frame: CodecFrame, d: PixelDescription, source: string): Int32Array {
  if (frame.width !== d.columns || frame.height !== d.rows || frame.components !== d.samplesPerPixel) {
    throw new InputError('TESSERA_INPUT_DICOM_PIXELS', `${source}: codec returned ${frame.width}×${frame.height}×${frame.components}, header says ${d.columns}×${d.rows}×${d.samplesPerPixel}`, { source });
  }
  return nativeValues(frame.data, d, frame.bitsPerSample <= 8 ? 8 : 16, 0);
}

/**
 * Decodes frame `index` to stored values. Throws {@link InputError} `TESSERA_INPUT_DICOM_PIXELS` for an
 * unsupported transfer syntax (12-bit JPEG extended, JPEG-XL, MPEG…) or data the codec rejects.
 */
export async function decodeStoredFrame(parsed: ParsedDicom, index: number, source: string): Promise<StoredFrame> {
  const ds = parsed.dataset;
  const d = pixelDescription(ds, source);
  if (!Number.isInteger(index) || index < 0 || index >= d.frames) throw new ConfigError(`frame ${index} out of range (0..${d.frames - 1})`);
  const pixels = ds.get(Tags.PixelData);
  const ts = parsed.transferSyntaxUid;
  try {
    if (pixels?.encapsulated === undefined) {
      const frameBytes = Math.ceil((d.rows * d.columns * d.samplesPerPixel * d.bitsAllocated) / 8);
      const value = pixels?.value ?? new Uint8Array(0);
      const start = d.bitsAllocated === 1 ? Math.floor((index * d.rows * d.columns * d.samplesPerPixel) / 8) : index * frameBytes;
      if (start + frameBytes > value.length) throw new Error(`native Pixel Data too short for frame ${index}`);
      return { description: d, values: planar(nativeValues(value.subarray(start, start + frameBytes), d, d.bitsAllocated), d) };
    }
    const data = encapsulatedFrame(pixels.encapsulated.fragments, pixels.encapsulated.offsetTable, d.frames, index);
    const bytesPerSample = d.bitsAllocated / 8;
    let values: Int32Array;
    switch (ts) {
      case TransferSyntax.Rle:
        values = planarFree(nativeValues(decodeRle(data, d.columns, d.rows, d.samplesPerPixel, bytesPerSample), d, d.bitsAllocated));
        break;
      case DEFLATED_FRAMES:
        values = planar(nativeValues(inflateFrame(data), d, d.bitsAllocated), d);
        break;
      case TransferSyntax.JpegBaseline:
      case TransferSyntax.JpegExtended:
        if (d.bitsStored > 8) throw new Error('12-bit JPEG extended (process 4) has no bundled decoder');
        values = fromCodec(await decodeJpegBaseline(data), d, source);
        break;
      case TransferSyntax.JpegLosslessProcess14:
      case TransferSyntax.JpegLosslessSV1:
        values = fromCodec(decodeJpegLossless(data, Math.max(1, bytesPerSample)), d, source);
        break;
      case TransferSyntax.JpegLsLossless:
      case TransferSyntax.JpegLsNearLossless:
        values = fromCodec(await decodeJpegLs(data), d, source);
        break;
      case TransferSyntax.Jpeg2000Lossless:
      case TransferSyntax.Jpeg2000:
        values = fromCodec(await decodeJpeg2000(data), d, source);
        break;
      case '1.2.840.10008.1.2.4.201': // HTJ2K lossless
      case '1.2.840.10008.1.2.4.202': // HTJ2K lossless RPCL
      case '1.2.840.10008.1.2.4.203': // HTJ2K
        values = fromCodec(await decodeHtj2k(data), d, source);
        break;
      default:
        throw new Error(`transfer syntax ${ts} has no bundled decoder`);
    }
    return { description: d, values };
  } catch (err) {
    if (err instanceof InputError || err instanceof ConfigError) throw err;
    const reason = err instanceof Error ? err.message : typeof err === 'string' ? err : 'codec failure';
    throw new InputError('TESSERA_INPUT_DICOM_PIXELS', `${source}: cannot decode frame ${index}: ${reason}`, { source, frame: index });
  }
}

/** Planar configuration 1 (RRR…GGG…BBB…) → interleaved. */
function planar(values: Int32Array, d: PixelDescription): Int32Array {
  if (d.samplesPerPixel === 1 || d.planarConfiguration === 0) return values;
  const n = d.rows * d.columns;
  const out = new Int32Array(values.length);
  for (let i = 0; i < n; i++) for (let s = 0; s < d.samplesPerPixel; s++) out[i * d.samplesPerPixel + s] = values[s * n + i] as number;
  return out;
}

/** RLE output is already interleaved whatever the planar configuration says (PS3.5 G.2). */
function planarFree(values: Int32Array): Int32Array {
  return values;
}

/** Options for {@link toModelInput}. */
export interface ModelInputOptions {
  /** Output height and width in pixels. */
  readonly size: readonly [number, number];
  /**
   * `file`: the first VOI window in the file (Window Center/Width), else the frame's range;
   * `range`: always the frame's min..max. @default 'file'
   */
  readonly window?: 'file' | 'range';
}

/**
 * @deprecated The image pipeline (`site-agent/src/hospital/imaging`, `preprocessInstance`) is the one place
 * instances become model inputs (VOI LUT functions and sequences, named windows, palettes, frame policy,
 * letterbox); this older, simpler path is kept for its callers until they move.
 *
 * Stored values → a grayscale model input in [0, 1], `size[0] × size[1]`, row-major: modality LUT (rescale),
 * VOI window, MONOCHROME1 inverted, colour (RGB, YBR after the codec) reduced to luminance, resampled.
 */
export function toModelInput(frame: StoredFrame, ds: DicomDataset, options: ModelInputOptions): Float32Array {
  const d = frame.description;
  const slope = getNumber(ds, Tags.RescaleSlope) ?? 1;
  const intercept = getNumber(ds, Tags.RescaleIntercept) ?? 0;
  const n = d.rows * d.columns;
  const gray = new Float32Array(n);
  const ybr = d.photometric.startsWith('YBR_FULL') && ds.get(Tags.PixelData)?.encapsulated === undefined;
  for (let i = 0; i < n; i++) {
    if (d.samplesPerPixel === 1) {
      gray[i] = (frame.values[i] as number) * slope + intercept;
    } else {
      const a = frame.values[i * 3] as number;
      const b = frame.values[i * 3 + 1] as number;
      const c = frame.values[i * 3 + 2] as number;
      // Luminance: Y itself for native YBR_FULL, else Rec. 601 weights of R, G, B.
      gray[i] = ybr ? a : 0.299 * a + 0.587 * b + 0.114 * c;
    }
  }
  let lo: number;
  let hi: number;
  const center = getNumber(ds, Tags.WindowCenter);
  const width = getNumber(ds, Tags.WindowWidth);
  if ((options.window ?? 'file') === 'file' && d.samplesPerPixel === 1 && center !== undefined && width !== undefined && width >= 1) {
    // PS3.3 C.11.2.1.2.1 linear window: center - 0.5 - (width - 1) / 2 .. center - 0.5 + (width - 1) / 2
    lo = center - 0.5 - (width - 1) / 2;
    hi = center - 0.5 + (width - 1) / 2;
  } else {
    lo = Number.POSITIVE_INFINITY;
    hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const v = gray[i] as number;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const span = hi - lo;
  const invert = d.photometric === 'MONOCHROME1';
  for (let i = 0; i < n; i++) {
    let v = span > 0 ? ((gray[i] as number) - lo) / span : 0;
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    gray[i] = invert ? 1 - v : v;
  }
  return resample(gray, d.rows, d.columns, options.size[0], options.size[1]);
}

/** Resamples a single-channel image: area average when shrinking an axis, bilinear when growing it. */
export function resample(src: Float32Array, rows: number, cols: number, outRows: number, outCols: number): Float32Array {
  if (!Number.isInteger(outRows) || !Number.isInteger(outCols) || outRows < 1 || outCols < 1) {
    throw new ConfigError('model input size must be positive integers', { outRows, outCols });
  }
  const tmp = resampleAxis(src, rows, cols, outCols);
  return resampleAxis(tmp, outCols, rows, outRows);
}

/** Resamples each row to `outCols` and writes the result transposed (outCols × rows). */
function resampleAxis(src: Float32Array, rows: number, cols: number, outCols: number): Float32Array {
  // Input is rows × cols, read row-major; output is written transposed (outCols × rows) so that two calls
  // resample both axes and restore the orientation.
  const out = new Float32Array(rows * outCols);
  const scale = cols / outCols;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let o = 0; o < outCols; o++) {
      let v: number;
      if (scale > 1) {
        const x0 = o * scale;
        const x1 = x0 + scale;
        let sum = 0;
        for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
          const w = Math.min(x + 1, x1) - Math.max(x, x0);
          sum += w * (src[base + Math.min(x, cols - 1)] as number);
        }
        v = sum / scale;
      } else {
        const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), cols - 1);
        const xi = Math.floor(x);
        const f = x - xi;
        v = (src[base + xi] as number) * (1 - f) + (src[base + Math.min(xi + 1, cols - 1)] as number) * f;
      }
      out[o * rows + r] = v;
    }
  }
  return out;
}

/**
 * @deprecated Use `preprocessInstance` (`site-agent/src/hospital/imaging`).
 *
 * Decodes frame `index` of a parsed image straight to a model input (see {@link toModelInput}).
 * Throws {@link InputError} `TESSERA_INPUT_DICOM_PIXELS` when the frame cannot be decoded.
 */
export async function decodeModelInput(parsed: ParsedDicom, source: string, options: ModelInputOptions & { readonly frame?: number }): Promise<Float32Array> {
  const frame = await decodeStoredFrame(parsed, options.frame ?? 0, source);
  return toModelInput(frame, parsed.dataset, options);
}
