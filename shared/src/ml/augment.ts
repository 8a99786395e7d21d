import type { Rng } from '../rng.js';
import type { ImageAugmentSpec } from './model-spec.js';

/**
 * Applies {@link ImageAugmentSpec} in place to `m` rows of `height × width × channels` float pixels
 * (row-major HWC, consecutive in `x`, values in [0, 1]): per row, an optional random contrast and
 * brightness change (clipped to [0, 1]), a left–right mirror and a shift by `dy, dx ∈ [−maxShift,
 * maxShift]`, vacated pixels set to 0. Draws come from `rng`, so a seeded fit
 * augments identically on every run. Rows are `stride` values apart (default: the image's size); values
 * after the image in a row (a model's feature input) are left as they are.
 */
export function augmentImages(
  x: Float32Array,
  m: number,
  shape: readonly [number, number, number],
  augment: ImageAugmentSpec,
  rng: Rng,
  stride?: number,
): void {
  const [h, w, c] = shape;
  const size = h * w * c;
  const step = stride ?? size;
  const maxShift = augment.maxShift ?? 0;
  const jitter = augment.intensityJitter ?? 0;
  const src = new Float32Array(size);
  for (let r = 0; r < m; r++) {
    const flip = augment.flipHorizontal === true && rng.next() < 0.5;
    const dy = maxShift > 0 ? rng.int(2 * maxShift + 1) - maxShift : 0;
    const dx = maxShift > 0 ? rng.int(2 * maxShift + 1) - maxShift : 0;
    const row = x.subarray(r * step, r * step + size);
    if (jitter > 0) {
      const gain = 1 + (rng.next() * 2 - 1) * jitter;
      const offset = (rng.next() - 0.5) * jitter;
      for (let k = 0; k < size; k++) row[k] = Math.min(1, Math.max(0, (row[k] as number) * gain + offset));
    }
    if (!flip && dy === 0 && dx === 0) continue;
    src.set(row);
    for (let i = 0; i < h; i++) {
      const si = i - dy;
      for (let j = 0; j < w; j++) {
        const sj0 = j - dx;
        const sj = flip ? w - 1 - sj0 : sj0;
        const out = (i * w + j) * c;
        if (si < 0 || si >= h || sj0 < 0 || sj0 >= w) {
          for (let k = 0; k < c; k++) row[out + k] = 0;
        } else {
          const from = (si * w + sj) * c;
          for (let k = 0; k < c; k++) row[out + k] = src[from + k] as number;
        }
      }
    }
  }
}
