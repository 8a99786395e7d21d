/**
 * The demo hospitals' detector and PACS, pixel by pixel: a 28 px source upsampled to the site's size, with
 * detector noise, mapped onto its stored range and photometric interpretation, and encoded in its transfer
 * syntax. Pure functions of their inputs, so they run the same in a worker thread.
 */
import { createRng } from '../../../../shared/src/rng.js';
import { TransferSyntax } from '../../../../site-agent/src/hospital/dicom/dictionary.js';
import { encodeJpeg2000Lossless, encodeJpegBaseline, encodeJpegLsLossless } from './encoders.js';
import type { PacsExportProfile } from './hospitals.js';

/** Bilinear upsampling of one 8-bit grey image to `size` × `size`, pixel centres aligned, as floats in [0, 255]. */
export function upsample(src: Uint8Array, srcSize: number, size: number): Float32Array {
  const out = new Float32Array(size * size);
  const scale = srcSize / size;
  for (let y = 0; y < size; y++) {
    const sy = Math.min(srcSize - 1, Math.max(0, (y + 0.5) * scale - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(srcSize - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(srcSize - 1, Math.max(0, (x + 0.5) * scale - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(srcSize - 1, x0 + 1);
      const fx = sx - x0;
      const a = (src[y0 * srcSize + x0] as number) * (1 - fx) + (src[y0 * srcSize + x1] as number) * fx;
      const b = (src[y1 * srcSize + x0] as number) * (1 - fx) + (src[y1 * srcSize + x1] as number) * fx;
      out[y * size + x] = a * (1 - fy) + b * fy;
    }
  }
  return out;
}

/** A fixed table of standard normal draws; detector noise walks it from a random offset (cheap and seeded). */
export const NOISE_LENGTH = 1 << 16;
const NOISE = ((): Float32Array => {
  const r = createRng(0x5eed);
  return Float32Array.from({ length: NOISE_LENGTH }, () => r.normal());
})();

/**
 * One source image as the site's detector and PACS would store it: upsampled, with Gaussian noise of
 * `noise` source grey levels (default 0.3), mapped linearly onto the profile's stored range and
 * inverted for MONOCHROME1.
 */
export function storedSamples(src: Uint8Array, srcSize: number, p: PacsExportProfile, noiseOffset: number, noise = 0.3): Uint8Array | Uint16Array {
  const grey = upsample(src, srcSize, p.size);
  const [lo, hi] = p.range;
  const max = 2 ** p.bitsStored - 1;
  const out = p.bitsAllocated === 8 ? new Uint8Array(grey.length) : new Uint16Array(grey.length);
  const scale = (hi - lo) / 255;
  const invert = p.photometric === 'MONOCHROME1';
  let k = noiseOffset & (NOISE_LENGTH - 1);
  for (let i = 0; i < grey.length; i++) {
    k = (k + 40_503) & (NOISE_LENGTH - 1);
    const g = Math.min(255, Math.max(0, (grey[i] as number) + noise * (NOISE[k] as number)));
    const v = lo + (invert ? 255 - g : g) * scale;
    out[i] = Math.min(max, Math.max(0, Math.round(v)));
  }
  return out;
}

export const TRANSFER_SYNTAX_UID: Record<PacsExportProfile['transferSyntax'], string> = {
  'jpeg-ls-lossless': TransferSyntax.JpegLsLossless,
  'jpeg2000-lossless': TransferSyntax.Jpeg2000Lossless,
  'jpeg-baseline': TransferSyntax.JpegBaseline,
};

/** What one image job needs: the 28 px source, the site's export profile and where its noise starts. */
export interface EncodeJob {
  src: Uint8Array;
  srcSize: number;
  profile: PacsExportProfile;
  noiseOffset: number;
}

/** The encapsulated frame (even length) of one source image as the site's PACS exports it. */
export async function encodeImage(job: EncodeJob): Promise<Uint8Array> {
  return encodeFrame(job.profile, storedSamples(job.src, job.srcSize, job.profile, job.noiseOffset));
}

async function encodeFrame(p: PacsExportProfile, samples: Uint8Array | Uint16Array): Promise<Uint8Array> {
  const frame = { width: p.size, height: p.size, bitsStored: p.bitsStored, samples };
  const bytes =
    p.transferSyntax === 'jpeg-ls-lossless' ? await encodeJpegLsLossless(frame) : p.transferSyntax === 'jpeg2000-lossless' ? await encodeJpeg2000Lossless(frame) : await encodeJpegBaseline(frame, 92);
  if (bytes.length % 2 === 0) return bytes;
  // Fragments have even length (PS3.5 A.4); a trailing zero after EOI / EOC is ignored by decoders.
  const even = new Uint8Array(bytes.length + 1);
  even.set(bytes);
  return even;
}
