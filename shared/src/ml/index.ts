// Public API of shared/src/ml: declarative model specs, flat weights, TF.js backend selection,
// model building and export. Named re-exports only.
export {
  MAX_IMAGE_SIDE,
  MAX_KERNEL,
  MAX_LAYERS,
  MAX_SHIFT,
  MAX_UNITS,
  canonicalJson,
  layerShapes,
  windowOutputSide,
  modelSpecHash,
  validateModelSpec,
  type Conv2DLayerSpec,
  type DenseActivation,
  type DenseLayerSpec,
  type DropoutLayerSpec,
  type ImageAugmentSpec,
  type LayerSpec,
  type LossName,
  type ModelSpec,
  type PoolLayerSpec,
  type ReshapeLayerSpec,
} from './model-spec.js';
export { getModelSpec, modelSpecNames } from './model-registry.js';
export { headOf, resolveInputShape, type ActivationLayerSpec, type BatchNormLayerSpec, type HeadKind, type ImageInputSpec, type ResidualBlockSpec } from './model-spec.js';
export {
  MAX_INPUT_DIM,
  assertFinite,
  decodeWeights,
  exchangedLayout,
  initialExchangedWeights,
  mergeExchanged,
  needsProjection,
  splitExchanged,
  type SplitWeights,
  type WeightRole,
  encodeWeights,
  initialWeights,
  totalParams,
  weightLayout,
  weightsSha256,
  type WeightEntry,
} from './weights.js';
export {
  BACKEND_ENV,
  selectBackend,
  type BackendName,
  type BackendSelection,
  type SelectBackendOptions,
  type TfCore,
} from './backend.js';
export { buildModel, getFlatWeights, setFlatWeights, trainableVariables, type TfLayers } from './build-model.js';
export { registerWasmTrainingKernels } from './wasm-kernels.js';
export { balancedAccuracy, macroAuc, multiClassAccuracy, perClassAuc, rocAuc } from './metrics.js';
export { WEIGHTS_BIN, exportTfjsModel, type ExportTfjsOptions, type ExportTfjsResult } from './export-tfjs.js';
