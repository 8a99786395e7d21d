/**
 * The frame policy for multi-frame instances: which frames to decode, and how decoded frames become
 * tensors (each its own, or one maximum-intensity projection).
 */
import type { FramePolicy } from './options.js';

/** Frame indices to decode for `policy` out of `frames`. */
export function framesToDecode(policy: FramePolicy, frames: number): number[] {
  switch (policy) {
    case 'first':
      return [0];
    case 'middle':
      return [Math.floor((frames - 1) / 2)];
    case 'all':
    case 'max-intensity':
      return Array.from({ length: frames }, (_, i) => i);
  }
}

/** Element-wise maximum of equally sized frames (a maximum-intensity projection along the frame axis). */
export function maxIntensity(frames: readonly Float32Array[]): Float32Array {
  const first = frames[0];
  if (first === undefined) throw new RangeError('maxIntensity needs at least one frame');
  const out = Float32Array.from(first);
  for (const f of frames.slice(1)) {
    for (let i = 0; i < out.length; i++) {
      const v = f[i] as number;
      if (v > (out[i] as number)) out[i] = v;
    }
  }
  return out;
}
