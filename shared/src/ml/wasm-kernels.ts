import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient kernels for CNN training on `@tensorflow/tfjs-backend-wasm` (4.22), built from kernels the
 * wasm backend has. Without `Conv2DBackpropFilter` every `conv2d` layer's kernel gradient throws
 * "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'". The other gradients of a small
 * CNN exist natively (Conv2DBackpropInput, MaxPoolGrad, AvgPoolGrad, Step for relu), but two are plain
 * scalar loops that dominated a training step (measured on cnn-breastmnist, batch 32): so stride-1
 * `Conv2DBackpropInput` is replaced by one XNNPACK convolution with the flipped filter, and
 * `MaxPoolGrad` by a single pass in JS over the heap; anything else falls back to the native kernel.
 *
 * Registration is idempotent. The missing kernel is only added where the installed wasm backend has
 * none, so a future release that ships its own native kernel wins.
 */

type KernelArgs = Parameters<tf.KernelFunc>[0];
/** What our kernels need of the wasm backend (a `KernelBackend`). */
type Backend = KernelArgs['backend'] & { disposeData(dataId: object): boolean };

/** Calls a registered wasm kernel directly (no engine, no tape): the building blocks of ours. */
function callWasm(kernelName: string, backend: Backend, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined) throw new Error(`wasm kernel '${kernelName}' is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${kernelName}' returned several tensors`);
  return out;
}

function transpose(backend: Backend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return callWasm('Transpose', backend, { x }, { perm });
}

/**
 * `dW[kh, kw, ci, co] = Σ_{b, oh, ow} x[b, oh·sh + kh − padTop, ow·sw + kw − padLeft, ci] · dy[b, oh, ow, co]`
 *
 * computed as one wasm (XNNPACK) convolution: the input transposed to `[ci, H, W, b]` (batch and
 * channel axes swapped) convolved with dy transposed to `[oh, ow, b, co]` as the filter, dilated by
 * the forward stride, stride 1, explicit padding `padTop`/`padLeft` of the forward pass. The bottom
 * and right padding are chosen so the output is exactly `[ci, fh, fw, co]`; where that would be
 * negative (VALID padding that never reads the last rows/columns), the input is cropped instead.
 * The result is transposed back to `[fh, fw, ci, co]`.
 */
function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const x = inputs['x'];
  const dy = inputs['dy'];
  if (x === undefined || dy === undefined) throw new Error('Conv2DBackpropFilter needs inputs x and dy');
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== 'channelsLast') throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const { inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  // Rows of (padded) input the gradient convolution reads: the last tap is (fh-1) + (oh-1)·sh.
  const padBottom = filterHeight - 1 + (outHeight - 1) * strideHeight + 1 - inHeight - padTop;
  const padRight = filterWidth - 1 + (outWidth - 1) * strideWidth + 1 - inWidth - padLeft;
  const temps: tf.TensorInfo[] = [];
  try {
    let xT = transpose(backend, x, [3, 1, 2, 0]);
    temps.push(xT);
    if (padBottom < 0 || padRight < 0) {
      const size = [inChannels, inHeight + Math.min(padBottom, 0), inWidth + Math.min(padRight, 0), info.batchSize];
      xT = callWasm('Slice', backend, { x: xT }, { begin: [0, 0, 0, 0], size });
      temps.push(xT);
    }
    const dyT = transpose(backend, dy, [1, 2, 0, 3]);
    temps.push(dyT);
    const conv = callWasm(
      'Conv2D',
      backend,
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        dilations: [strideHeight, strideWidth],
        pad: [
          [0, 0],
          [padTop, Math.max(padBottom, 0)],
          [padLeft, Math.max(padRight, 0)],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    );
    temps.push(conv);
    return transpose(backend, conv, [1, 2, 0, 3]);
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/**
 * `dx = conv2d(dy, w')` for stride 1, where `w'[a, b, co, ci] = w[fh−1−a, fw−1−b, ci, co]` (the filter
 * rotated 180° with its channel axes swapped) and the padding mirrored (`fh−1−padTop` above,
 * `fh−1−padBottom` below). Other strides go to the native kernel.
 */
function conv2DBackpropInputFast(args: KernelArgs, native: tf.KernelFunc): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const dy = inputs['dy'];
  const filter = inputs['filter'];
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  if (dy === undefined || filter === undefined || format !== 'channelsLast' || sh !== 1 || sw !== 1) {
    return native(args) as tf.TensorInfo;
  }
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const { filterHeight: fh, filterWidth: fw, padInfo } = info;
  const pads = [fh - 1 - padInfo.top, fh - 1 - padInfo.bottom, fw - 1 - padInfo.left, fw - 1 - padInfo.right];
  if (pads.some((p) => p < 0)) return native(args) as tf.TensorInfo;
  const temps: tf.TensorInfo[] = [];
  try {
    const flipped = callWasm('Reverse', backend, { x: filter }, { dims: [0, 1] });
    temps.push(flipped);
    const rotated = transpose(backend, flipped, [0, 1, 3, 2]);
    temps.push(rotated);
    return callWasm(
      'Conv2D',
      backend,
      { x: dy, filter: rotated },
      {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [
          [0, 0],
          [pads[0] as number, pads[1] as number],
          [pads[2] as number, pads[3] as number],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    );
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** What our JS kernels need to read and write tensors in the wasm heap. */
type HeapBackend = Backend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
};

/**
 * Max-pool gradient: each output cell's gradient goes to the first maximum of its window (the cpu
 * backend's rule), summed where windows overlap. One pass in JS over the wasm heap.
 */
function maxPoolGradFast(args: KernelArgs, native: tf.KernelFunc): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as HeapBackend;
  const dy = inputs['dy'];
  const input = inputs['input'];
  if (dy === undefined || input === undefined || input.dtype !== 'float32' || typeof backend.typedArrayFromHeap !== 'function') {
    return native(args) as tf.TensorInfo;
  }
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const out = backend.makeOutput([...input.shape], 'float32');
  // Views after makeOutput: allocating can grow (and detach) the heap.
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * C;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        const gBase = ((b * outHeight + oh) * outWidth + ow) * C;
        for (let c = 0; c < C; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let fh = 0; fh < filterHeight; fh++) {
            const h = h0 + fh;
            if (h < 0 || h >= inHeight) continue;
            for (let fw = 0; fw < filterWidth; fw++) {
              const w = w0 + fw;
              if (w < 0 || w >= inWidth) continue;
              const idx = xb + (h * inWidth + w) * C + c;
              const v = x[idx] as number;
              if (v > best) {
                best = v;
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] = (dx[at] as number) + (g[gBase + c] as number);
        }
      }
    }
  }
  return out;
}

/** Marks the kernel functions this module registered, so registration is idempotent. */
const OURS = new WeakSet<tf.KernelFunc>();

/** Replaces a native wasm kernel by `fast`, which receives the native one as its fallback. */
function override(kernelName: string, fast: (args: KernelArgs, native: tf.KernelFunc) => tf.TensorInfo): boolean {
  const native = tf.getKernel(kernelName, 'wasm');
  if (native === undefined || OURS.has(native.kernelFunc)) return false;
  const kernelFunc: tf.KernelFunc = (args) => fast(args, native.kernelFunc);
  OURS.add(kernelFunc);
  tf.unregisterKernel(kernelName, 'wasm');
  // Keep the native setup (it binds the wasm function the fallback calls).
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, ...(native.setupFunc !== undefined ? { setupFunc: native.setupFunc } : {}) });
  return true;
}

/**
 * Registers the missing `Conv2DBackpropFilter` for the `wasm` backend (where it has none of its own)
 * and the faster stride-1 `Conv2DBackpropInput` and `MaxPoolGrad`. Call before `tf.setBackend('wasm')`
 * (so the native setup runs at initialisation). Returns the kernel names it registered (empty when
 * everything was already in place).
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  if (tf.getKernel(tf.Conv2DBackpropFilter, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter });
    added.push(tf.Conv2DBackpropFilter);
  }
  if (override(tf.Conv2DBackpropInput, conv2DBackpropInputFast)) added.push(tf.Conv2DBackpropInput);
  if (override(tf.MaxPoolGrad, maxPoolGradFast)) added.push(tf.MaxPoolGrad);
  return added;
}
