/**
 * Step 1 of the image pipeline: checks an instance's pixel data before any work (zero size, a transfer
 * syntax with no bundled decoder, native Pixel Data whose length disagrees with the header) and decodes the
 * frames a frame policy asks for to stored values. The decoding itself is `dicom/pixels.ts` (every bundled
 * codec; bits allocated/stored, high bit, signed pixels, planar configuration); native YBR_FULL_422, whose
 * chroma is subsampled in the cell layout, is unpacked here.
 */
import { InputError } from '../../../../shared/src/errors.js';
import { getNumber, getString, getUint16 } from '../dicom/dataset.js';
import { Tags, TransferSyntax } from '../dicom/dictionary.js';
import type { ParsedDicom } from '../dicom/parse.js';
import { decodeStoredFrame, pixelDescription, type PixelDescription } from '../dicom/pixels.js';
import { ImagePipelineError } from './errors.js';

/** Transfer syntaxes whose pixel data are native (uncompressed) once the data set is read. */
export const NATIVE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
]);

/** Encapsulated transfer syntaxes a bundled codec decodes (see `dicom/codecs.ts`). */
export const CODEC_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  TransferSyntax.Rle,
  '1.2.840.10008.1.2.8.1', // Deflated Image Frame Compression
  TransferSyntax.JpegBaseline,
  TransferSyntax.JpegExtended, // 8-bit only: 12-bit process 4 has no bundled decoder
  TransferSyntax.JpegLosslessProcess14,
  TransferSyntax.JpegLosslessSV1,
  TransferSyntax.JpegLsLossless,
  TransferSyntax.JpegLsNearLossless,
  TransferSyntax.Jpeg2000Lossless,
  TransferSyntax.Jpeg2000,
  '1.2.840.10008.1.2.4.201', // HTJ2K lossless
  '1.2.840.10008.1.2.4.202', // HTJ2K lossless RPCL
  '1.2.840.10008.1.2.4.203', // HTJ2K
]);

/** Codecs that hand back RGB whatever YBR the header names (libjpeg-turbo; OpenJPEG and OpenJPH undo ICT/RCT). */
const RGB_FROM_CODEC: ReadonlySet<string> = new Set([
  TransferSyntax.JpegBaseline,
  TransferSyntax.JpegExtended,
  TransferSyntax.Jpeg2000Lossless,
  TransferSyntax.Jpeg2000,
  '1.2.840.10008.1.2.4.201',
  '1.2.840.10008.1.2.4.202',
  '1.2.840.10008.1.2.4.203',
]);

/** Photometric interpretations the pipeline turns into grey or RGB. */
const PHOTOMETRICS: ReadonlySet<string> = new Set(['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR', 'RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT']);

/** The colour space of decoded samples (which may differ from the header: JPEG codecs return RGB). */
export type DecodedColour = 'MONOCHROME1' | 'MONOCHROME2' | 'PALETTE COLOR' | 'RGB' | 'YBR_FULL';

/** What {@link checkPixelData} found. */
export interface PixelCheck {
  readonly description: PixelDescription;
  readonly transferSyntaxUid: string;
  /** Whether Pixel Data is native (uncompressed). */
  readonly native: boolean;
  /** The colour space the decoded samples will be in. */
  readonly colour: DecodedColour;
}

/**
 * Checks that the instance holds an image the pipeline can decode, before decoding anything.
 * @throws ImagePipelineError `zero-size` (no Pixel Data, or zero rows, columns or frames),
 * `unsupported-transfer-syntax`, `unsupported-pixels` (bits, samples, photometric interpretation) or
 * `pixel-length` (native Pixel Data shorter than the header says, or longer by more than its padding byte).
 */
export function checkPixelData(parsed: ParsedDicom, source: string): PixelCheck {
  const ds = parsed.dataset;
  const rows = getUint16(ds, Tags.Rows);
  const columns = getUint16(ds, Tags.Columns);
  const frameCount = getNumber(ds, Tags.NumberOfFrames) ?? 1;
  const pixels = ds.get(Tags.PixelData);
  if (pixels === undefined || rows === undefined || columns === undefined || rows === 0 || columns === 0 || frameCount === 0) {
    throw new ImagePipelineError('zero-size', source, `no image: Pixel Data ${pixels === undefined ? 'absent' : 'present'}, ${rows ?? 0} rows × ${columns ?? 0} columns × ${frameCount} frames`);
  }
  const ts = parsed.transferSyntaxUid;
  const native = pixels.encapsulated === undefined;
  if (native ? !NATIVE_TRANSFER_SYNTAXES.has(ts) && !CODEC_TRANSFER_SYNTAXES.has(ts) : !CODEC_TRANSFER_SYNTAXES.has(ts)) {
    throw new ImagePipelineError('unsupported-transfer-syntax', source, `transfer syntax ${ts} has no bundled decoder`, { transferSyntax: ts });
  }
  let description: PixelDescription;
  try {
    description = pixelDescription(ds, source);
  } catch (err) {
    throw new ImagePipelineError('unsupported-pixels', source, err instanceof Error ? err.message : 'unsupported pixel description', {}, { cause: err });
  }
  const photometric = description.photometric;
  if (!PHOTOMETRICS.has(photometric)) {
    throw new ImagePipelineError('unsupported-pixels', source, `photometric interpretation ${photometric.slice(0, 16)} is not handled (grey, RGB and YBR_FULL/YBR_FULL_422 are)`);
  }
  if ((description.samplesPerPixel === 1) !== (photometric.startsWith('MONOCHROME') || photometric === 'PALETTE COLOR')) {
    throw new ImagePipelineError('unsupported-pixels', source, `${photometric} with ${description.samplesPerPixel} samples per pixel`);
  }
  if (ts === TransferSyntax.JpegExtended && description.bitsStored > 8) {
    throw new ImagePipelineError('unsupported-transfer-syntax', source, '12-bit JPEG extended (process 4) has no bundled decoder', { transferSyntax: ts });
  }
  if (native) {
    const value = pixels.value ?? new Uint8Array(0);
    const expected = nativeByteLength(description);
    if (value.length < expected || value.length > expected + 1) {
      throw new ImagePipelineError('pixel-length', source, `native Pixel Data has ${value.length} bytes, rows × columns × frames × samples × bits allocated gives ${expected}`, {
        bytes: value.length,
        expected,
      });
    }
  }
  return { description, transferSyntaxUid: ts, native, colour: decodedColour(description, ts, native) };
}

/** Bytes of native Pixel Data the description implies (YBR_FULL_422 stores two samples per pixel). */
export function nativeByteLength(d: PixelDescription): number {
  const samples = d.photometric === 'YBR_FULL_422' ? 2 : d.samplesPerPixel;
  return Math.ceil((d.rows * d.columns * d.frames * samples * d.bitsAllocated) / 8);
}

function decodedColour(d: PixelDescription, ts: string, native: boolean): DecodedColour {
  if (d.samplesPerPixel === 1) return d.photometric === 'MONOCHROME1' ? 'MONOCHROME1' : d.photometric === 'PALETTE COLOR' ? 'PALETTE COLOR' : 'MONOCHROME2';
  if (d.photometric === 'RGB' || (!native && RGB_FROM_CODEC.has(ts))) return 'RGB';
  // YBR_ICT / YBR_RCT only occur in JPEG 2000, whose codec returns RGB (above).
  return d.photometric.startsWith('YBR') ? 'YBR_FULL' : 'RGB';
}

/**
 * Decodes frame `index` to stored values (`samplesPerPixel` interleaved per pixel, masked to Bits Stored,
 * shifted by High Bit, sign-extended). Native YBR_FULL_422 comes back as full-resolution YBR_FULL.
 * @throws ImagePipelineError `decode-failed` when a codec rejects the frame.
 */
export async function decodeFrame(parsed: ParsedDicom, check: PixelCheck, index: number, source: string): Promise<Int32Array> {
  const d = check.description;
  if (check.native && d.photometric === 'YBR_FULL_422') return unpackYbr422(parsed, d, index);
  try {
    return (await decodeStoredFrame(parsed, index, source)).values;
  } catch (err) {
    if (err instanceof InputError) throw new ImagePipelineError('decode-failed', source, err.message.replace(`${source}: `, ''), { frame: index }, { cause: err });
    throw err;
  }
}

/** Native YBR_FULL_422 (PS3.3 C.7.6.3.1.2): Y1 Y2 Cb Cr per horizontal pair → Y Cb Cr per pixel. */
function unpackYbr422(parsed: ParsedDicom, d: PixelDescription, index: number): Int32Array {
  const value = parsed.dataset.get(Tags.PixelData)?.value ?? new Uint8Array(0);
  const bytesPerSample = d.bitsAllocated / 8;
  const frameSamples = d.rows * d.columns * 2;
  const out = new Int32Array(d.rows * d.columns * 3);
  const view = new DataView(value.buffer, value.byteOffset, value.length);
  const at = (i: number): number => (bytesPerSample === 1 ? (value[index * frameSamples + i] as number) : view.getUint16((index * frameSamples + i) * 2, true));
  for (let r = 0; r < d.rows; r++) {
    for (let c = 0; c < d.columns; c += 2) {
      const base = (r * d.columns + c) * 2;
      const cb = at(base + 2);
      const cr = at(base + 3);
      const o = (r * d.columns + c) * 3;
      out[o] = at(base);
      out[o + 1] = cb;
      out[o + 2] = cr;
      if (c + 1 < d.columns) {
        out[o + 3] = at(base + 1);
        out[o + 4] = cb;
        out[o + 5] = cr;
      }
    }
  }
  return out;
}

/** The Modality (0008,0060) of an instance, upper-case, or '' when absent. */
export function modalityOf(parsed: ParsedDicom): string {
  return (getString(parsed.dataset, Tags.Modality) ?? '').toUpperCase();
}
