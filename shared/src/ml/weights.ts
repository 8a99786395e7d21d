import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { ConfigError, InputError } from '../errors.js';
import { createRng } from '../rng.js';
import { layerShapes, type ModelSpec } from './model-spec.js';

/**
 * Flat weight vectors, pure TypeScript (no TF.js), shared by sites and coordinator. A model's weights
 * travel and are aggregated as one `Float32Array` whose order is given by {@link weightLayout}: the
 * order in which tfjs-layers lists `model.getWeights()`.
 */

/** One weight tensor in the flat vector. */
export interface WeightEntry {
  /** `<layerType>_<layerIndex>/<kernel|bias>`, e.g. `dense_0/kernel`; the layer index counts all spec layers. */
  name: string;
  /** Tensor shape: kernel `[in, out]`, bias `[out]`. */
  shape: number[];
  /** Number of elements (product of `shape`). */
  size: number;
}

/** Largest input dimension accepted when building a layout. */
export const MAX_INPUT_DIM = 1 << 20;

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/**
 * The flat layout of a spec's weights for a given input dimension, in layer order (tfjs-layers
 * order): per dense layer, kernel `[in, out]` then bias `[out]`; per conv2d layer, kernel
 * `[k, k, inChannels, filters]` then bias `[filters]`. Dropout, pooling and flatten layers hold none.
 * @throws ConfigError when `inputDim` is not an integer in 1..{@link MAX_INPUT_DIM}, differs from the
 * product of the spec's `inputShape`, or a layer does not fit its input.
 */
export function weightLayout(spec: ModelSpec, inputDim: number): WeightEntry[] {
  if (!Number.isInteger(inputDim) || inputDim < 1 || inputDim > MAX_INPUT_DIM) {
    throw new ConfigError(`'inputDim' must be an integer in 1..${MAX_INPUT_DIM}`, { field: 'inputDim' });
  }
  if (spec.inputShape !== undefined) {
    const pixels = spec.inputShape.reduce((a, b) => a * b, 1);
    if (pixels !== inputDim) {
      throw new ConfigError(`'inputDim' must be ${pixels} (inputShape ${spec.inputShape.join('×')}) for model '${spec.name}'`, {
        field: 'inputDim',
      });
    }
  }
  const shapes = layerShapes(spec, inputDim);
  const layout: WeightEntry[] = [];
  let shape: readonly number[] = spec.inputShape ?? [inputDim];
  spec.layers.forEach((layer, i) => {
    const next = shapes[i];
    if (next === null || next === undefined) {
      throw new ConfigError(`'layers[${i}]' does not fit its input shape ${shape.join('×')}`, { field: `layers[${i}]` });
    }
    switch (layer.type) {
      case 'dense': {
        const width = shape[0] ?? 1;
        layout.push({ name: `dense_${i}/kernel`, shape: [width, layer.units], size: width * layer.units });
        layout.push({ name: `dense_${i}/bias`, shape: [layer.units], size: layer.units });
        break;
      }
      case 'conv2d': {
        const k = layer.kernelSize;
        const inC = shape[2] ?? 1;
        layout.push({ name: `conv2d_${i}/kernel`, shape: [k, k, inC, layer.filters], size: k * k * inC * layer.filters });
        layout.push({ name: `conv2d_${i}/bias`, shape: [layer.filters], size: layer.filters });
        break;
      }
      case 'dropout':
      case 'maxPooling2d':
      case 'averagePooling2d':
      case 'flatten':
      case 'globalAveragePooling2d':
        break;
    }
    shape = next;
  });
  return layout;
}

/** Glorot fans of a kernel: dense `[in, out]`; conv `[kh, kw, in, out]` counts the receptive field. */
function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 4) {
    const [kh = 1, kw = 1, inC = 1, outC = 1] = shape;
    return [kh * kw * inC, kh * kw * outC];
  }
  return [shape[0] ?? 1, shape[1] ?? 1];
}

/** Total number of parameters in a layout. */
export function totalParams(layout: readonly WeightEntry[]): number {
  let n = 0;
  for (const entry of layout) n += entry.size;
  return n;
}

/**
 * Deterministic initial weights: Glorot-uniform kernels (`U(±√(6 / (fanIn + fanOut)))`, the Keras
 * default; conv fans include the kernel area) drawn from `createRng(seed)`, zero biases. The same `(spec, inputDim, seed)` gives the same
 * bytes on every machine, so the coordinator can publish round 0 by seed and hash.
 */
export function initialWeights(spec: ModelSpec, inputDim: number, seed: number): Float32Array {
  const layout = weightLayout(spec, inputDim);
  const out = new Float32Array(totalParams(layout));
  const rng = createRng(seed);
  let offset = 0;
  for (const entry of layout) {
    if (entry.name.endsWith('/kernel')) {
      const [fanIn, fanOut] = fans(entry.shape);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < entry.size; i++) out[offset + i] = (rng.next() * 2 - 1) * limit;
    }
    offset += entry.size;
  }
  return out;
}

/**
 * Throws unless every element is finite.
 * @param what Names the vector in the error (e.g. `update from site-a`); never the values.
 * @throws InputError `TESSERA_INPUT_WEIGHTS_NONFINITE` with the index of the first NaN/±Infinity.
 */
export function assertFinite(weights: Float32Array, what: string): void {
  const n = weights.length;
  for (let i = 0; i < n; i++) {
    const x = weights[i] as number;
    // x - x is 0 for finite x and NaN for NaN and ±Infinity: one subtraction, no call.
    if (x - x !== 0) {
      throw new InputError('TESSERA_INPUT_WEIGHTS_NONFINITE', `${what}: non-finite value at index ${i}`, {
        what,
        index: i,
      });
    }
  }
}

/** Serialises weights as little-endian float32 bytes (the wire and `weights.bin` format). */
export function encodeWeights(weights: Float32Array): Buffer {
  const buf = Buffer.allocUnsafe(weights.length * 4);
  if (LITTLE_ENDIAN_HOST) {
    buf.set(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
  } else {
    for (let i = 0; i < weights.length; i++) buf.writeFloatLE(weights[i] as number, i * 4);
  }
  return buf;
}

/**
 * Parses little-endian float32 bytes into a fresh (aligned) `Float32Array`.
 * @throws InputError `TESSERA_INPUT_WEIGHTS_SHAPE` when the byte length is not `expectedParams · 4`.
 * @throws InputError `TESSERA_INPUT_WEIGHTS_NONFINITE` on NaN/±Infinity (message gives the index only).
 */
export function decodeWeights(buf: Uint8Array, expectedParams: number): Float32Array {
  if (buf.byteLength !== expectedParams * 4) {
    throw new InputError(
      'TESSERA_INPUT_WEIGHTS_SHAPE',
      `weights have ${buf.byteLength} bytes, expected ${expectedParams * 4} (${expectedParams} float32)`,
      { bytes: buf.byteLength, expectedParams },
    );
  }
  const out = new Float32Array(expectedParams);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(buf);
  } else {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < expectedParams; i++) out[i] = view.getFloat32(i * 4, true);
  }
  assertFinite(out, 'decoded weights');
  return out;
}

/** SHA-256 (lowercase hex) of the weights' little-endian float32 bytes. */
export function weightsSha256(weights: Float32Array): string {
  return createHash('sha256').update(encodeWeights(weights)).digest('hex');
}
