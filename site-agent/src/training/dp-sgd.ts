import type { Rank, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import type { SecureRandom } from '../../../shared/src/dp/noise.js';
import { ConfigError } from '../../../shared/src/errors.js';
import type { TfCore } from '../../../shared/src/ml/backend.js';
import type { DenseActivation, ModelSpec } from '../../../shared/src/ml/model-spec.js';
import { BCE_EPSILON, type ComputeGradients, type GradientResult } from './gradients.js';

/** Record-level DP-SGD settings for one local fit (the site checks them against its policy first). */
export interface DpSgdConfig {
  /** L2 bound each example's gradient is clipped to (the sensitivity of the gradient sum); > 0. */
  clipNorm: number;
  /** Noise standard deviation divided by `clipNorm`; ≥ 0 (0 only in tests: no privacy). */
  noiseMultiplier: number;
  /** Poisson sampling rate q: each row joins each step's batch with this probability; in (0, 1]. */
  samplingRate: number;
  /** Noisy steps per fit (each on a fresh Poisson sample); integer ≥ 1. */
  steps: number;
}

/** Checks a {@link DpSgdConfig}. @throws ConfigError naming the field. */
export function checkDpSgdConfig(dp: DpSgdConfig): void {
  const bad = (field: string, rule: string): never => {
    throw new ConfigError(`'dp.${field}' must be ${rule}`, { field: `dp.${field}` });
  };
  if (!(dp.clipNorm > 0) || !Number.isFinite(dp.clipNorm)) bad('clipNorm', 'a finite number > 0');
  if (!(dp.noiseMultiplier >= 0) || !Number.isFinite(dp.noiseMultiplier)) bad('noiseMultiplier', 'a finite number ≥ 0');
  if (!(dp.samplingRate > 0 && dp.samplingRate <= 1)) bad('samplingRate', 'in (0, 1]');
  if (!Number.isSafeInteger(dp.steps) || dp.steps < 1) bad('steps', 'an integer ≥ 1');
}

const SUPPORTED = ['dense', 'dropout', 'conv2d', 'maxPooling2d', 'averagePooling2d', 'flatten', 'globalAveragePooling2d'];

/** True when every layer is dense or dropout (the closed-form backward pass applies). */
function denseOnly(spec: ModelSpec): boolean {
  return spec.layers.every((l) => l.type === 'dense' || l.type === 'dropout');
}

/**
 * Throws unless every layer of `spec` has a vectorised per-example gradient here. Batch normalisation (and
 * the residual blocks built on it) is refused, as Opacus refuses it: batch statistics mix the examples of
 * a batch, so a per-example gradient does not exist. Softmax heads are refused too (no closed-form δ here).
 */
export function assertDpSupported(spec: ModelSpec): void {
  for (const [i, layer] of spec.layers.entries()) {
    if ('activation' in layer && layer.activation === 'softmax') {
      throw new ConfigError(`DP-SGD has no per-example gradient for the softmax of layer ${i} of model '${spec.name}'`, { model: spec.name, layer: i });
    }
    if (!SUPPORTED.includes(layer.type)) {
      throw new ConfigError(`DP-SGD has no per-example gradient for layer ${i} ('${String((layer as { type: unknown }).type)}') of model '${spec.name}'`, {
        model: spec.name,
        layer: i,
      });
    }
  }
}

/** Per-example squared gradient norms and the clipped gradient sum, one tensor per variable. */
export interface ClippedSum {
  /** ‖∇ℓ_i‖ before clipping, one per row of the batch. */
  norms: Tensor1D;
  /** Σ_i min(1, C/‖∇ℓ_i‖)·∇ℓ_i, shaped like each variable (variables' order). */
  sums: Tensor[];
}

interface DenseStep {
  input: Tensor2D;
  output: Tensor2D;
  activation: DenseActivation;
  kernel: Variable;
  /** Dropout masks (already scaled by 1/(1−rate)) applied to this layer's output, in order. */
  masks: Tensor2D[];
}

/**
 * The batched per-example gradient of the binary cross-entropy for a stack of dense layers
 * (Goodfellow 2015): a dense layer's per-example kernel gradient is the outer product a_i δ_iᵀ of
 * its input row and the back-propagated delta, so its norm is ‖a_i‖·‖δ_i‖ and the clipped sum is one
 * matrix product aᵀ·(c ⊙ δ). No per-example gradient is ever materialised and there is no loop over
 * examples. Must run inside `tf.tidy`.
 *
 * `variables` are the model's trainable variables in layer order (kernel, bias per dense layer).
 * Dropout layers draw their masks from TF.js (they need no privacy).
 */
export function clippedGradientSum(tf: TfCore, spec: ModelSpec, variables: Variable[], x: Tensor2D, y: Tensor2D, clipNorm: number): ClippedSum {
  // Forward, keeping each dense layer's input and output.
  const steps: DenseStep[] = [];
  let a: Tensor2D = x;
  let v = 0;
  for (const layer of spec.layers) {
    if (layer.type === 'dense') {
      const kernel = variables[v++] as Variable;
      const bias = variables[v++] as Variable;
      const z = tf.add<Tensor2D>(tf.matMul(a, kernel), bias);
      const out = activate(tf, z, layer.activation);
      steps.push({ input: a, output: out, activation: layer.activation, kernel, masks: [] });
      a = out;
    } else if (layer.type === 'dropout') {
      const keep = tf.div<Tensor2D>(tf.cast(tf.greaterEqual(tf.randomUniform(a.shape), layer.rate), 'float32'), 1 - layer.rate);
      steps.at(-1)?.masks.push(keep);
      a = tf.mul(a, keep);
    } else {
      assertDpSupported(spec);
    }
  }
  // Backward: δ_L = ∂ℓ_i/∂z_L = p − y for sigmoid + BCE, and 0 where the probability was clipped.
  const p = (steps.at(-1) as DenseStep).output;
  const inRange = tf.cast(tf.logicalAnd(tf.greater(p, BCE_EPSILON), tf.less(p, 1 - BCE_EPSILON)), 'float32');
  let delta = tf.mul<Tensor2D>(tf.sub(p, y), inRange);
  const deltas: Tensor2D[] = new Array<Tensor2D>(steps.length);
  let sqNorms: Tensor = tf.zeros([x.shape[0]]);
  for (let l = steps.length - 1; l >= 0; l--) {
    const s = steps[l] as DenseStep;
    deltas[l] = delta;
    const deltaSq = tf.sum(tf.square(delta), 1);
    // ‖a_i δ_iᵀ‖² + ‖δ_i‖² = (‖a_i‖² + 1)·‖δ_i‖²
    sqNorms = tf.add(sqNorms, tf.mul(tf.add(tf.sum(tf.square(s.input), 1), 1), deltaSq));
    if (l > 0) {
      const prev = steps[l - 1] as DenseStep;
      let back = tf.matMul<Tensor2D>(delta, s.kernel, false, true);
      for (const m of prev.masks) back = tf.mul(back, m);
      delta = tf.mul<Tensor2D>(back, activationDerivative(tf, prev.output, prev.activation));
    }
  }
  const norms = tf.sqrt(sqNorms) as Tensor1D;
  // Opacus's factor: min(1, C / (‖g‖ + 1e−6)).
  const factors = tf.reshape(tf.minimum(tf.div(clipNorm, tf.add(norms, 1e-6)), 1), [-1, 1]);
  const sums: Tensor[] = [];
  steps.forEach((s, l) => {
    const scaled = tf.mul<Tensor2D>(deltas[l] as Tensor2D, factors);
    sums.push(tf.matMul(s.input, scaled, true, false), tf.sum(scaled, 0));
  });
  return { norms, sums };
}

function activate(tf: TfCore, z: Tensor2D, act: DenseActivation): Tensor2D {
  switch (act) {
    case 'linear':
      return z;
    case 'relu':
      return tf.relu(z);
    case 'sigmoid':
      return tf.sigmoid(z);
    case 'tanh':
      return tf.tanh(z);
    case 'softmax':
      return tf.softmax(z);
  }
}

/** f′(z) from the layer's output a = f(z). */
function activationDerivative(tf: TfCore, a: Tensor2D, act: DenseActivation): Tensor2D {
  switch (act) {
    case 'linear':
      return tf.onesLike(a);
    case 'relu':
      return tf.cast(tf.greater(a, 0), 'float32');
    case 'sigmoid':
      return tf.mul(a, tf.sub(1, a));
    case 'tanh':
      return tf.sub(1, tf.square(a));
    case 'softmax':
      // Never reached: assertDpSupported refuses softmax before a step runs.
      throw new ConfigError('DP-SGD has no per-example gradient for softmax');
  }
}

/**
 * The DP-SGD step (Abadi et al. 2016) as a {@link ComputeGradients}: per-example clipping to
 * `clipNorm`, the clipped sum plus N(0, σ²C²) noise per coordinate from `random` (a CSPRNG), divided by
 * the expected batch size q·n (the estimator whose sensitivity the Poisson-sampling accountant
 * assumes), plus the gradient of the data-free regulariser (L2, FedProx), which needs no noise.
 *
 * The batch `x`/`y` MUST be a Poisson sample of the `n` rows at rate `dp.samplingRate`; it may be
 * empty, and then the step is noise alone (as the analysis requires).
 */
export function dpSgdGradients(spec: ModelSpec, dp: DpSgdConfig, n: number, random: SecureRandom): ComputeGradients {
  checkDpSgdConfig(dp);
  assertDpSupported(spec);
  const expectedBatch = dp.samplingRate * n;
  const std = dp.noiseMultiplier * dp.clipNorm;
  return (ctx): GradientResult => {
    const { tf, variables, x, y } = ctx;
    const perExample = denseOnly(spec) ? clippedGradientSum : clippedGradientSumAutodiff;
    const sums = x.shape[0] === 0 ? variables.map((v) => tf.zerosLike(v)) : perExample(tf, spec, variables, x, y, dp.clipNorm).sums;
    const reg = ctx.hasRegularizer ? tf.variableGrads(ctx.regularizer, variables) : { value: tf.scalar(0), grads: {} as Record<string, Tensor> };
    const grads: Record<string, Tensor> = {};
    variables.forEach((v, i) => {
      const noise = new Float32Array(v.size);
      if (std > 0) random.gaussian(noise, std);
      const noisy = tf.div(tf.add(sums[i] as Tensor, tf.tensor(noise, v.shape)), expectedBatch);
      const r = reg.grads[v.name];
      grads[v.name] = r === undefined ? noisy : tf.add(noisy, r);
    });
    return { loss: reg.value, grads };
  };
}

/** A layer with weights as the autodiff path sees it: its input and, after the backward pass, δ. */
interface WeightedStep {
  kind: 'dense' | 'conv2d';
  input: Tensor;
  kernel: Variable;
  strides: number;
  padding: 'same' | 'valid';
}

/**
 * The batched per-example gradient for any supported spec (convolutions, pooling, flatten, dense,
 * dropout). One backward pass of the *summed* loss gives, for every weighted layer, δ = ∂(Σ_i ℓ_i)/∂z
 * at its pre-activation z, whose row i is example i's own δ (the examples do not interact). Then:
 * - dense: per-example kernel gradient a_i δ_iᵀ, norm ‖a_i‖·‖δ_i‖, clipped sum aᵀ(c ⊙ δ) (no materialising);
 * - conv2d: the input's patches are extracted by one convolution with an identity filter
 *   (`[kh, kw, ci, kh·kw·ci]`), and the per-example kernel gradients are one batched matmul
 *   `patches_iᵀ · δ_i` → `[m, kh·kw·ci, co]`, from which norms and the clipped sum follow.
 * No loop over examples. Must run inside `tf.tidy`.
 */
export function clippedGradientSumAutodiff(tf: TfCore, spec: ModelSpec, variables: Variable[], x: Tensor2D, y: Tensor2D, clipNorm: number): ClippedSum {
  const m = x.shape[0];
  const steps: WeightedStep[] = [];
  const masks = new Map<number, Tensor>();
  // forward(e): the model on x with e[k] added to the k-th weighted layer's pre-activation.
  const forward = (e: Tensor[] | null, record: boolean): { p: Tensor2D; zs: Tensor[] } => {
    let a: Tensor = spec.inputShape ? tf.reshape(x, [m, ...spec.inputShape]) : x;
    const zs: Tensor[] = [];
    let v = 0;
    spec.layers.forEach((layer, li) => {
      switch (layer.type) {
        case 'dense':
        case 'conv2d': {
          const kernel = variables[v++] as Variable;
          const bias = variables[v++] as Variable;
          const strides = layer.type === 'conv2d' ? (layer.strides ?? 1) : 1;
          const padding = layer.type === 'conv2d' ? layer.padding : 'valid';
          if (record) steps.push({ kind: layer.type, input: a, kernel, strides, padding });
          let z = layer.type === 'dense' ? tf.add(tf.matMul(a as Tensor2D, kernel as Tensor2D), bias) : tf.add(tf.conv2d(a as Tensor4D, kernel as Tensor4D, strides, padding), bias);
          const k = zs.length;
          zs.push(z);
          if (e) z = tf.add(z, e[k] as Tensor);
          a = activate(tf, z as Tensor2D, layer.activation);
          break;
        }
        case 'maxPooling2d':
        case 'averagePooling2d': {
          const pool = layer.type === 'maxPooling2d' ? tf.maxPool : tf.avgPool;
          a = pool(a as Tensor4D, layer.poolSize, layer.strides ?? layer.poolSize, layer.padding ?? 'valid');
          break;
        }
        case 'flatten':
          a = tf.reshape(a, [m, -1]);
          break;
        case 'globalAveragePooling2d':
          a = tf.mean(a, [1, 2]);
          break;
        case 'dropout': {
          let keep = masks.get(li);
          if (!keep) {
            keep = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(a.shape), layer.rate), 'float32'), 1 - layer.rate);
            masks.set(li, keep);
          }
          a = tf.mul(a, keep);
          break;
        }
        case 'batchNormalization':
        case 'activation':
        case 'residualBlock':
          // Refused by assertDpSupported before any step (batch statistics mix the examples).
          assertDpSupported(spec);
          break;
      }
    });
    return { p: a as Tensor2D, zs };
  };
  const { zs } = forward(null, true);
  // Σ_i ℓ_i (not the mean), so δ rows are the per-example derivatives.
  const summedLoss = (...e: Tensor[]): Tensor => {
    const { p } = forward(e, false);
    const pc = tf.clipByValue(p, BCE_EPSILON, 1 - BCE_EPSILON);
    return tf.neg(tf.sum(tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc))))));
  };
  const deltas = tf.grads(summedLoss)(zs.map((z) => tf.zerosLike(z)));
  // Per-example gradients: dense kept factored, conv materialised as [m, K, co] (K = kh·kw·ci).
  let sqNorms: Tensor = tf.zeros([m]);
  const convGrads: (Tensor3D | null)[] = [];
  steps.forEach((s, k) => {
    const delta = deltas[k] as Tensor;
    if (s.kind === 'dense') {
      sqNorms = tf.add(sqNorms, tf.mul(tf.add(tf.sum(tf.square(s.input), 1), 1), tf.sum(tf.square(delta), 1)));
      convGrads.push(null);
      return;
    }
    const [kh, kw, ci, co] = s.kernel.shape as [number, number, number, number];
    const kSize = kh * kw * ci;
    const eye = tf.reshape<Rank.R4>(tf.eye(kSize), [kh, kw, ci, kSize]);
    const patches = tf.reshape<Rank.R3>(tf.conv2d(s.input as Tensor4D, eye, s.strides, s.padding), [m, -1, kSize]);
    const d3 = tf.reshape<Rank.R3>(delta, [m, -1, co]);
    const g = tf.matMul<Tensor3D>(patches, d3, true, false);
    convGrads.push(g);
    sqNorms = tf.add(sqNorms, tf.add(tf.sum(tf.square(g), [1, 2]), tf.sum(tf.square(tf.sum(d3, 1)), 1)));
  });
  const norms = tf.sqrt(sqNorms) as Tensor1D;
  const factors = tf.minimum(tf.div(clipNorm, tf.add(norms, 1e-6)), 1);
  const sums: Tensor[] = [];
  steps.forEach((s, k) => {
    const delta = deltas[k] as Tensor;
    const g = convGrads[k];
    if (s.kind === 'dense' || !g) {
      const scaled = tf.mul<Tensor2D>(delta, tf.reshape(factors, [-1, 1]));
      sums.push(tf.matMul(s.input, scaled, true, false), tf.sum(scaled, 0));
      return;
    }
    const co = s.kernel.shape[3] as number;
    sums.push(
      tf.reshape(tf.sum(tf.mul(g, tf.reshape(factors, [-1, 1, 1])), 0), s.kernel.shape),
      tf.sum(tf.mul(tf.reshape(delta, [m, -1, co]), tf.reshape(factors, [-1, 1, 1])), [0, 1]),
    );
  });
  return { norms, sums };
}
