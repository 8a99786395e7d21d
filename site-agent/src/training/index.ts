// Public API of site-agent/src/training: local training with TF.js. Named re-exports only.
export {
  Trainer,
  scoreMetrics,
  type EvaluateResult,
  type FitConfig,
  type FitResult,
  type Metrics,
  type TrainerOptions,
  type TrainingData,
} from './trainer.js';
export {
  BCE_EPSILON,
  balancedClassWeights,
  binaryCrossEntropy,
  meanGradients,
  type ComputeGradients,
  type GradientContext,
  type GradientResult,
} from './gradients.js';
export { assertDpSupported, checkDpSgdConfig, clippedGradientSum, clippedGradientSumAutodiff, dpSgdGradients, type ClippedSum, type DpSgdConfig } from './dp-sgd.js';
