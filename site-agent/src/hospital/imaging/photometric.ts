/**
 * Steps 4 and 5: photometric interpretation and channels. MONOCHROME1 (minimum is white) is inverted so
 * that 1 is always bright; YBR_FULL becomes RGB (PS3.3 C.7.6.3.1.2, full range, 8-bit offsets scaled to
 * the sample depth); colour samples are scaled to [0, 1]; grey ↔ three channels.
 */

/** Inverts display values in place (MONOCHROME1 → MONOCHROME2 sense). */
export function invertMonochrome1(values: Float32Array): Float32Array {
  for (let i = 0; i < values.length; i++) values[i] = 1 - (values[i] as number);
  return values;
}

/**
 * Interleaved colour samples → RGB in [0, 1]. `ybr` converts YBR_FULL first (offset 2^(bits−1) on the
 * chroma samples); results are clipped to [0, 1].
 */
export function colourToUnit(values: Int32Array | Float32Array, bitsStored: number, ybr: boolean): Float32Array {
  const max = 2 ** bitsStored - 1;
  const half = 2 ** (bitsStored - 1);
  const n = values.length / 3;
  const out = new Float32Array(values.length);
  const clip = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
  for (let i = 0; i < n; i++) {
    const a = values[i * 3] as number;
    const b = values[i * 3 + 1] as number;
    const c = values[i * 3 + 2] as number;
    if (ybr) {
      const cb = b - half;
      const cr = c - half;
      out[i * 3] = clip((a + 1.402 * cr) / max);
      out[i * 3 + 1] = clip((a - 0.344136 * cb - 0.714136 * cr) / max);
      out[i * 3 + 2] = clip((a + 1.772 * cb) / max);
    } else {
      out[i * 3] = clip(a / max);
      out[i * 3 + 1] = clip(b / max);
      out[i * 3 + 2] = clip(c / max);
    }
  }
  return out;
}

/** RGB (interleaved) → grey by Rec. 601 luma weights. */
export function rgbToGrey(rgb: Float32Array): Float32Array {
  const n = rgb.length / 3;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.299 * (rgb[i * 3] as number) + 0.587 * (rgb[i * 3 + 1] as number) + 0.114 * (rgb[i * 3 + 2] as number);
  return out;
}

/** Grey → three identical channels (interleaved), for models pretrained on colour input. */
export function greyToRgb(grey: Float32Array): Float32Array {
  const out = new Float32Array(grey.length * 3);
  for (let i = 0; i < grey.length; i++) {
    const v = grey[i] as number;
    out[i * 3] = v;
    out[i * 3 + 1] = v;
    out[i * 3 + 2] = v;
  }
  return out;
}

/** Converts `values` (`from` channels, interleaved) to `to` channels. */
export function toChannels(values: Float32Array, from: 1 | 3, to: 1 | 3): Float32Array {
  if (from === to) return values;
  return to === 3 ? greyToRgb(values) : rgbToGrey(values);
}
