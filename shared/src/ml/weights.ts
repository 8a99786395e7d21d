import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { ConfigError, InputError } from '../errors.js';
import { createRng } from '../rng.js';
import { featureCount, layerShapes, resolveInputShape, type ModelSpec } from './model-spec.js';

/**
 * Flat weight vectors, pure TypeScript (no TF.js), shared by sites and coordinator. A model's weights
 * travel and are aggregated as one `Float32Array` whose order is given by {@link weightLayout}: the
 * order in which tfjs-layers lists `model.getWeights()`.
 */

/** What a weight tensor is. */
export type WeightRole = 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';

/** One weight tensor in the flat vector. */
export interface WeightEntry {
  /**
   * The TF.js variable name: `<layer>/<role>`, the layer `<layerType>_<layerIndex>` (the index counts all spec
   * layers) or `residualBlock_<i>_<part>` inside a residual block; e.g. `dense_0/kernel`, `batchNormalization_3/gamma`.
   */
  name: string;
  /** Tensor shape: kernel `[in, out]` or `[kh, kw, in, out]`, the others `[channels]`. */
  shape: number[];
  /** Number of elements (product of `shape`). */
  size: number;
  role: WeightRole;
  /** Trained by gradient descent (kernels, biases, gamma, beta); the moving statistics are not. */
  trainable: boolean;
  /** A batch-normalisation weight (gamma, beta, moving statistics): what FedBN keeps local to each site. */
  normalization: boolean;
}

function entry(name: string, shape: number[], role: WeightRole): WeightEntry {
  const normalization = role !== 'kernel' && role !== 'bias';
  return { name: `${name}/${role}`, shape, size: shape.reduce((a, b) => a * b, 1), role, trainable: role !== 'moving_mean' && role !== 'moving_variance', normalization };
}

/** The four weights of a batch normalisation over `c` channels. */
function batchNormEntries(name: string, c: number): WeightEntry[] {
  return [entry(name, [c], 'gamma'), entry(name, [c], 'beta'), entry(name, [c], 'moving_mean'), entry(name, [c], 'moving_variance')];
}

/** Largest input dimension accepted when building a layout. */
export const MAX_INPUT_DIM = 1 << 20;

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/**
 * The flat layout of a spec's weights for a given input dimension: every trainable weight in layer order,
 * then every moving statistic in layer order (tfjs-layers' `model.weights` order): per dense layer, kernel
 * `[in, out]` then bias `[out]`; per conv2d layer, kernel `[k, k, inChannels, filters]` then bias
 * `[filters]`; per batch normalisation, gamma and beta (and, at the end, moving mean and variance); per
 * residual block, conv_a kernel, bn_a, conv_b kernel, bn_b, and proj kernel and proj_bn when the shape
 * changes. Dropout, pooling, activation and flatten layers hold none. An `imageInput` spec is resolved for
 * `inputDim` first (see `resolveInputShape`).
 * @throws ConfigError when `inputDim` is not an integer in 1..{@link MAX_INPUT_DIM}, differs from the
 * product of the spec's `inputShape`, or a layer does not fit its input.
 */
export function weightLayout(input: ModelSpec, inputDim: number): WeightEntry[] {
  if (!Number.isInteger(inputDim) || inputDim < 1 || inputDim > MAX_INPUT_DIM) {
    throw new ConfigError(`'inputDim' must be an integer in 1..${MAX_INPUT_DIM}`, { field: 'inputDim' });
  }
  const spec = resolveInputShape(input, inputDim);
  // With a feature input the rest of the row is features (resolveInputShape checked their number).
  if (spec.inputShape !== undefined && spec.featureInput === undefined) {
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
  const features = featureCount(spec, inputDim);
  spec.layers.forEach((layer, i) => {
    // The feature input joins here: the layer sees the image path's vector and the feature columns.
    if (features > 0 && i === spec.featureInput?.joinAt) shape = [(shape[0] ?? 0) + features];
    const next = shapes[i];
    if (next === null || next === undefined) {
      throw new ConfigError(`'layers[${i}]' does not fit its input shape ${shape.join('×')}`, { field: `layers[${i}]` });
    }
    switch (layer.type) {
      case 'dense': {
        const width = shape[0] ?? 1;
        layout.push(entry(`dense_${i}`, [width, layer.units], 'kernel'), entry(`dense_${i}`, [layer.units], 'bias'));
        break;
      }
      case 'conv2d': {
        const k = layer.kernelSize;
        const inC = shape[2] ?? 1;
        layout.push(entry(`conv2d_${i}`, [k, k, inC, layer.filters], 'kernel'), entry(`conv2d_${i}`, [layer.filters], 'bias'));
        break;
      }
      case 'batchNormalization':
        layout.push(...batchNormEntries(`batchNormalization_${i}`, shape[shape.length - 1] ?? 1));
        break;
      case 'residualBlock': {
        const inC = shape[2] ?? 1;
        const f = layer.filters;
        const b = `residualBlock_${i}`;
        layout.push(entry(`${b}_conv_a`, [3, 3, inC, f], 'kernel'), ...batchNormEntries(`${b}_bn_a`, f));
        layout.push(entry(`${b}_conv_b`, [3, 3, f, f], 'kernel'), ...batchNormEntries(`${b}_bn_b`, f));
        if (needsProjection(inC, layer)) layout.push(entry(`${b}_proj`, [1, 1, inC, f], 'kernel'), ...batchNormEntries(`${b}_proj_bn`, f));
        break;
      }
      case 'dropout':
      case 'maxPooling2d':
      case 'averagePooling2d':
      case 'flatten':
      case 'globalAveragePooling2d':
      case 'activation':
        break;
    }
    shape = next;
  });
  // tfjs-layers lists trainable weights first, then the non-trainable (moving statistics), each in layer order.
  return [...layout.filter((e) => e.trainable), ...layout.filter((e) => !e.trainable)];
}

/** Whether a residual block needs a 1×1 projection on its shortcut (channels or resolution change). */
export function needsProjection(inChannels: number, block: { filters: number; strides?: 1 | 2 }): boolean {
  return inChannels !== block.filters || (block.strides ?? 1) !== 1;
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
  for (const e of layout) {
    if (e.role === 'kernel') {
      const [fanIn, fanOut] = fans(e.shape);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < e.size; i++) out[offset + i] = (rng.next() * 2 - 1) * limit;
    } else if (e.role === 'gamma' || e.role === 'moving_variance') {
      out.fill(1, offset, offset + e.size);
    }
    offset += e.size;
  }
  return out;
}

/**
 * The entries that travel between sites and coordinator and are aggregated: all of them, or with FedBN
 * (Li et al. 2021) all but the batch-normalisation weights, which each site keeps for itself. Both sides
 * MUST derive the exchanged vector with this function so secure aggregation and DP see one layout.
 */
export function exchangedLayout(layout: readonly WeightEntry[], fedBn: boolean): WeightEntry[] {
  return fedBn ? layout.filter((e) => !e.normalization) : [...layout];
}

/** A full weight vector split into what is exchanged and what a FedBN site keeps (both in layout order). */
export interface SplitWeights {
  exchanged: Float32Array;
  local: Float32Array;
}

/** Splits a full vector (layout order) into its exchanged and local parts. */
export function splitExchanged(full: Float32Array, layout: readonly WeightEntry[], fedBn: boolean): SplitWeights {
  const total = totalParams(layout);
  if (full.length !== total) throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `weights have ${full.length} values, the layout has ${total}`, { values: full.length, expectedParams: total });
  const localSize = fedBn ? totalParams(layout.filter((e) => e.normalization)) : 0;
  const exchanged = new Float32Array(total - localSize);
  const local = new Float32Array(localSize);
  let at = 0;
  let x = 0;
  let l = 0;
  for (const e of layout) {
    const part = full.subarray(at, at + e.size);
    if (fedBn && e.normalization) {
      local.set(part, l);
      l += e.size;
    } else {
      exchanged.set(part, x);
      x += e.size;
    }
    at += e.size;
  }
  return { exchanged, local };
}

/**
 * The inverse of {@link splitExchanged}: the full vector from the exchanged part and the site's local part.
 * @throws InputError `TESSERA_INPUT_WEIGHTS_SHAPE` when either part has the wrong length.
 */
export function mergeExchanged(exchanged: Float32Array, local: Float32Array, layout: readonly WeightEntry[], fedBn: boolean): Float32Array {
  const localSize = fedBn ? totalParams(layout.filter((e) => e.normalization)) : 0;
  const total = totalParams(layout);
  if (exchanged.length !== total - localSize || local.length !== localSize) {
    throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `weights have ${exchanged.length} exchanged and ${local.length} local values, the layout has ${total - localSize} and ${localSize}`, {
      values: exchanged.length,
      expectedParams: total - localSize,
    });
  }
  const full = new Float32Array(total);
  let at = 0;
  let x = 0;
  let l = 0;
  for (const e of layout) {
    if (fedBn && e.normalization) {
      full.set(local.subarray(l, l + e.size), at);
      l += e.size;
    } else {
      full.set(exchanged.subarray(x, x + e.size), at);
      x += e.size;
    }
    at += e.size;
  }
  return full;
}

/**
 * The round-0 model the coordinator publishes: {@link initialWeights}, less the normalisation weights
 * under FedBN (each site starts those from the same deterministic values: gamma 1, beta 0, mean 0, variance 1).
 */
export function initialExchangedWeights(spec: ModelSpec, inputDim: number, seed: number, fedBn: boolean): Float32Array {
  return splitExchanged(initialWeights(spec, inputDim, seed), weightLayout(spec, inputDim), fedBn).exchanged;
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
