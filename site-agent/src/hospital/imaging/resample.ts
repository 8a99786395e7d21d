/**
 * Step 6: resampling to the model's input size. The image keeps its physical aspect ratio (pixel spacing
 * included) and is centred on a padded canvas (letterbox), or is stretched to fill it when the study says
 * so. Each axis is resampled separately: area averaging (exact box overlap) when it shrinks, bilinear
 * (half-pixel centres) when it grows. Weights are computed once per axis, then applied to every row.
 */
import { ConfigError } from '../../../../shared/src/errors.js';

/** How the image fits the model input. */
export type FitMode = 'letterbox' | 'stretch';

/** The taps of one output sample along an axis: `count` source indices from `start` with their weights. */
interface AxisTaps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array;
  readonly stride: number;
}

/** Per-output-sample source ranges and weights for resampling `from` samples to `to`. */
export function axisTaps(from: number, to: number): AxisTaps {
  const scale = from / to;
  const stride = scale > 1 ? Math.ceil(scale) + 1 : 2;
  const start = new Int32Array(to);
  const count = new Int32Array(to);
  const weights = new Float32Array(to * stride);
  for (let o = 0; o < to; o++) {
    if (scale > 1) {
      const x0 = o * scale;
      const x1 = x0 + scale;
      const first = Math.floor(x0);
      const last = Math.min(Math.ceil(x1), from);
      start[o] = first;
      count[o] = last - first;
      for (let x = first; x < last; x++) weights[o * stride + (x - first)] = (Math.min(x + 1, x1) - Math.max(x, x0)) / scale;
    } else {
      const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), from - 1);
      const xi = Math.floor(x);
      const f = x - xi;
      start[o] = xi;
      count[o] = xi + 1 < from ? 2 : 1;
      weights[o * stride] = count[o] === 2 ? 1 - f : 1;
      weights[o * stride + 1] = count[o] === 2 ? f : 0;
    }
  }
  return { start, count, weights, stride };
}

/**
 * Resamples an interleaved `rows × cols × channels` image to `outRows × outCols × channels`
 * (area average when shrinking an axis, bilinear when growing it).
 */
export function resampleImage(src: Float32Array, rows: number, cols: number, channels: number, outRows: number, outCols: number): Float32Array {
  if (rows === outRows && cols === outCols) return src;
  const tx = axisTaps(cols, outCols);
  const ty = axisTaps(rows, outRows);
  // Horizontal pass: rows × outCols × channels.
  const mid = new Float32Array(rows * outCols * channels);
  for (let r = 0; r < rows; r++) {
    const rowBase = r * cols * channels;
    const outBase = r * outCols * channels;
    for (let o = 0; o < outCols; o++) {
      const s = tx.start[o] as number;
      const k = tx.count[o] as number;
      const wBase = o * tx.stride;
      for (let ch = 0; ch < channels; ch++) {
        let sum = 0;
        for (let j = 0; j < k; j++) sum += (tx.weights[wBase + j] as number) * (src[rowBase + (s + j) * channels + ch] as number);
        mid[outBase + o * channels + ch] = sum;
      }
    }
  }
  // Vertical pass: outRows × outCols × channels, whole rows at a time.
  const rowLen = outCols * channels;
  const out = new Float32Array(outRows * rowLen);
  for (let o = 0; o < outRows; o++) {
    const s = ty.start[o] as number;
    const k = ty.count[o] as number;
    const wBase = o * ty.stride;
    const outBase = o * rowLen;
    for (let j = 0; j < k; j++) {
      const w = ty.weights[wBase + j] as number;
      const inBase = (s + j) * rowLen;
      for (let i = 0; i < rowLen; i++) out[outBase + i] = (out[outBase + i] as number) + w * (mid[inBase + i] as number);
    }
  }
  return out;
}

/** Where the resampled image sits on the output canvas. */
export interface Placement {
  readonly contentRows: number;
  readonly contentCols: number;
  readonly top: number;
  readonly left: number;
}

/**
 * The content size and offset for `fit`: letterbox keeps `rows · rowSpacing : cols · colSpacing`, rounds
 * to whole pixels (at least 1) and centres; stretch fills the canvas.
 */
export function placement(rows: number, cols: number, outRows: number, outCols: number, fit: FitMode, spacing: readonly [number, number] = [1, 1]): Placement {
  if (!Number.isInteger(outRows) || !Number.isInteger(outCols) || outRows < 1 || outCols < 1) {
    throw new ConfigError('model input size must be positive integers', { outRows, outCols });
  }
  if (fit === 'stretch') return { contentRows: outRows, contentCols: outCols, top: 0, left: 0 };
  const height = rows * spacing[0];
  const width = cols * spacing[1];
  const s = Math.min(outRows / height, outCols / width);
  const contentRows = Math.min(outRows, Math.max(1, Math.round(height * s)));
  const contentCols = Math.min(outCols, Math.max(1, Math.round(width * s)));
  return { contentRows, contentCols, top: Math.floor((outRows - contentRows) / 2), left: Math.floor((outCols - contentCols) / 2) };
}

/** Resamples into the placement and pads the rest of the canvas with `pad`. */
export function fitImage(src: Float32Array, rows: number, cols: number, channels: number, outRows: number, outCols: number, p: Placement, pad: number): Float32Array {
  const content = resampleImage(src, rows, cols, channels, p.contentRows, p.contentCols);
  if (p.contentRows === outRows && p.contentCols === outCols) return content;
  const out = new Float32Array(outRows * outCols * channels).fill(pad);
  const rowLen = p.contentCols * channels;
  for (let r = 0; r < p.contentRows; r++) out.set(content.subarray(r * rowLen, (r + 1) * rowLen), ((p.top + r) * outCols + p.left) * channels);
  return out;
}
