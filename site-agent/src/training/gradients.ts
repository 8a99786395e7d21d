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

/** Mean binary cross-entropy of probabilities `p` against labels `y` (same shape). */
export function binaryCrossEntropy(tf: TfCore, p: Tensor2D, y: Tensor2D): Scalar {
  return tf.tidy(() => {
    const pc = tf.clipByValue(p, BCE_EPSILON, 1 - BCE_EPSILON);
    // y·log p + (1 − y)·log(1 − p), per example
    const perExample = tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc))));
    return tf.neg(tf.mean(perExample));
  });
}
