import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient kernels that `@tensorflow/tfjs-backend-wasm` (4.22) lacks but CNN training needs, built
 * from kernels the wasm backend has. Without `Conv2DBackpropFilter` every `conv2d` layer's kernel
 * gradient throws "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'"; the other
 * gradients of a small CNN (Conv2DBackpropInput, MaxPoolGrad, AvgPoolGrad, Step for relu) are native.
 *
 * Registration is idempotent and skips any kernel the installed wasm backend already registers, so
 * a future release that ships its own native kernel wins.
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

const KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter },
];

/**
 * Registers {@link KERNELS} for the `wasm` backend where it has none of its own. Call before
 * `tf.setBackend('wasm')` or at any time after; returns the kernel names it registered (empty when
 * every kernel was already present).
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const config of KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') !== undefined) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
