import type { NamedTensorMap, Scalar, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { TfCore } from '../../../shared/src/ml/backend.js';

/** Probabilities are clipped to [ε, 1 − ε] before the log, as Keras does, so the loss stays finite. */
export const BCE_EPSILON = 1e-7;

/**
 * Everything one optimisation step needs, split so a differentially private step can treat the two
 * parts differently: only {@link GradientContext.dataLoss} touches patient data (and so is clipped
 * per example and noised under DP-SGD); {@link GradientContext.regularizer} (L2 + FedProx) depends on
 * the weights alone and needs neither.
 * @experimental
 */
export interface GradientContext {
  tf: TfCore;
  /** The model's trainable variables, in `weightLayout` order. */
  variables: Variable[];
  /** Batch features `[m, d]` and labels `[m, 1]`. */
  x: Tensor2D;
  y: Tensor2D;
  /** Mean binary cross-entropy of the model (training mode) over the rows of `x`/`y` given. */
  dataLoss: (x: Tensor2D, y: Tensor2D) => Scalar;
  /** L2 (`spec.l2`) plus FedProx proximal term; a zero scalar when both are off. */
  regularizer: () => Scalar;
  /** False when the regulariser is the constant 0 (no L2, no FedProx): it then has no gradient. */
  hasRegularizer: boolean;
}

/** One step's objective value and its gradient per variable name. */
export interface GradientResult {
  loss: Scalar;
  grads: NamedTensorMap;
}

/**
 * Computes the gradients the optimiser applies for one mini-batch. Called inside `tf.tidy`, so it
 * may allocate freely. Swap it (e.g. for per-example clipping plus Gaussian noise) via
 * `TrainerOptions.computeGradients`.
 * @experimental
 */
export type ComputeGradients = (ctx: GradientContext) => GradientResult;

/** The default step: plain gradients of `dataLoss(x, y) + regularizer()` over the batch. */
export const meanGradients: ComputeGradients = (ctx) => {
  const { value, grads } = ctx.tf.variableGrads(
    () => ctx.tf.add(ctx.dataLoss(ctx.x, ctx.y), ctx.regularizer()),
    ctx.variables,
  );
  return { loss: value, grads };
};

/**
 * Mean binary cross-entropy of probabilities `p` against labels `y` (same shape). With `classWeights`
 * `[negative, positive]`, each example's term is multiplied by its class's weight before the mean (Keras
 * `class_weight`), so a rare class counts as much as a common one with `'balanced'` weights.
 */
export function binaryCrossEntropy(tf: TfCore, p: Tensor2D, y: Tensor2D, classWeights?: readonly [number, number]): Scalar {
  return tf.tidy(() => {
    const pc = tf.clipByValue(p, BCE_EPSILON, 1 - BCE_EPSILON);
    // y·log p + (1 − y)·log(1 − p), per example
    const pos = tf.mul(y, tf.log(pc));
    const neg = tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc)));
    const perExample = classWeights === undefined ? tf.add(pos, neg) : tf.add(tf.mul(pos, classWeights[1]), tf.mul(neg, classWeights[0]));
    return tf.neg(tf.mean(perExample));
  });
}

/**
 * Class weights `[negative, positive]` that make each class weigh half of the loss (scikit-learn's
 * `'balanced'`: `n / (2 · n_class)`), from 0/1 labels; `[1, 1]` when a class is absent (nothing to balance).
 */
export function balancedClassWeights(y: Float32Array): [number, number] {
  let positives = 0;
  for (let i = 0; i < y.length; i++) positives += y[i] === 1 ? 1 : 0;
  const negatives = y.length - positives;
  if (positives === 0 || negatives === 0) return [1, 1];
  return [y.length / (2 * negatives), y.length / (2 * positives)];
}
