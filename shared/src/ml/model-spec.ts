import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * Declarative model specifications. A site never executes code received over the network: the
 * coordinator names a spec from the vetted registry (see `model-registry.ts`) and each site builds
 * the network itself from this data. Each layer kind is a member of {@link LayerSpec} with its own
 * branch in validation, layout (`weights.ts`) and build (`build-model.ts`).
 */

/** Activation functions a dense layer may use; `softmax` only on the last layer of a multi-class model. */
export type DenseActivation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';

/** A fully connected layer: `y = activation(x · kernel + bias)`. */
export interface DenseLayerSpec {
  type: 'dense';
  /** Output width, 1..{@link MAX_UNITS}. */
  units: number;
  activation: DenseActivation;
}

/** Dropout during training only (identity at inference); holds no weights. */
export interface DropoutLayerSpec {
  type: 'dropout';
  /** Fraction of inputs dropped, in [0, 1). */
  rate: number;
}

/** A 2-D convolution over an image `[height, width, channels]` (NHWC), dilation 1. */
export interface Conv2DLayerSpec {
  type: 'conv2d';
  /** Output channels, 1..{@link MAX_UNITS}. */
  filters: number;
  /** Square kernel side, 1..{@link MAX_KERNEL}. */
  kernelSize: number;
  /** @default 1 */
  strides?: number;
  padding: 'same' | 'valid';
  activation: DenseActivation;
}

/** Max or average pooling over square windows (stride defaults to the window, Keras semantics). */
export interface PoolLayerSpec {
  type: 'maxPooling2d' | 'averagePooling2d';
  /** Window side, 1..{@link MAX_KERNEL}. */
  poolSize: number;
  /** @default poolSize */
  strides?: number;
  /** @default 'valid' */
  padding?: 'same' | 'valid';
}

/** Image → vector: flatten, or the mean of each channel over all positions. No weights. */
export interface ReshapeLayerSpec {
  type: 'flatten' | 'globalAveragePooling2d';
}

/**
 * Batch normalisation over the last axis (Keras semantics): trainable `gamma` and `beta`, and the moving
 * `moving_mean` / `moving_variance` the layer updates while training and uses at inference. These four are
 * the "normalisation" weights a FedBN study keeps local to each site (see `weights.ts`).
 */
export interface BatchNormLayerSpec {
  type: 'batchNormalization';
  /** Moving-average momentum, in [0, 1). @default 0.99 */
  momentum?: number;
  /** Added to the variance, > 0. @default 0.001 */
  epsilon?: number;
}

/** An activation on its own (after a batch normalisation, say); no weights. */
export interface ActivationLayerSpec {
  type: 'activation';
  activation: DenseActivation;
}

/**
 * A basic residual block (He et al. 2016): conv 3×3 (stride `strides`, no bias) → batch norm → relu →
 * conv 3×3 (no bias) → batch norm, plus the shortcut (the input itself, or a 1×1 conv with stride and a
 * batch norm when the shape changes), then relu. Sub-layers are named `residualBlock_<i>_<part>` with
 * parts `conv_a`, `bn_a`, `conv_b`, `bn_b`, `proj`, `proj_bn`.
 */
export interface ResidualBlockSpec {
  type: 'residualBlock';
  /** Output channels, 1..{@link MAX_UNITS}. */
  filters: number;
  /** @default 1 */
  strides?: 1 | 2;
}

/** One layer of a {@link ModelSpec}; a discriminated union on `type`. */
export type LayerSpec = DenseLayerSpec | DropoutLayerSpec | Conv2DLayerSpec | PoolLayerSpec | ReshapeLayerSpec | BatchNormLayerSpec | ActivationLayerSpec | ResidualBlockSpec;

/**
 * The losses a spec may name: `binary-crossentropy` for one sigmoid output (binary) or several
 * (multi-label: one independent probability per class); `categorical-crossentropy` for a softmax over
 * two or more classes (multi-class, one class per example).
 */
export type LossName = 'binary-crossentropy' | 'categorical-crossentropy';

/** The kind of prediction a spec makes, from its loss and last layer. */
export type HeadKind = 'binary' | 'multi-label' | 'multi-class';

/** Binary (1 sigmoid), multi-label (K sigmoid) or multi-class (K softmax), and K. */
export function headOf(spec: Pick<ModelSpec, 'layers' | 'loss'>): { kind: HeadKind; outputs: number } {
  const last = spec.layers[spec.layers.length - 1];
  const outputs = last?.type === 'dense' ? last.units : 1;
  return { kind: spec.loss === 'categorical-crossentropy' ? 'multi-class' : outputs > 1 ? 'multi-label' : 'binary', outputs };
}

/**
 * An image input whose side comes from the data: square `side × side × channels` for any side in
 * `minSide..maxSide` (the spec's layers must be size-agnostic, e.g. end in global average pooling).
 */
export interface ImageInputSpec {
  channels: 1 | 3;
  minSide: number;
  maxSide: number;
}

/**
 * A second input to an image model: a vector of EMR feature columns (a study's `data.features`), carried in
 * the same flat row after the image's pixels (`[pixels…, features…]`). The model crops the two apart: the
 * pixels go through `layers[0 .. joinAt)`, which must end in a vector (flatten or global pooling), the
 * features are concatenated to that vector, and `layers[joinAt ..]` run on the joined vector. The number of
 * features F comes from the data: `inputDim − pixels`, 1..`maxFeatures`.
 */
export interface FeatureInputSpec {
  /** Index of the first layer that sees the joined vector, 1..layers.length − 1. */
  joinAt: number;
  /**
   * Most feature columns. With `imageInput` it must be ≤ 2 · minSide · channels, which makes the image side
   * the one `s` with `s² · channels ≤ inputDim < (s + 1)² · channels`.
   */
  maxFeatures: number;
}

/**
 * A model as data. The input dimension is not part of the spec: it comes from the data set when the
 * model is built, so one spec serves every cohort with the same task. Image models name their
 * `inputShape`; their data still travel as flat rows (row-major `[height, width, channels]`) and the
 * model reshapes them.
 */
export interface ModelSpec {
  /** Registry name, kebab-case (e.g. `logreg`). */
  name: string;
  /** One-line human description shown in the dashboard and audit log. */
  description: string;
  /** Layers in order, input to output. */
  layers: LayerSpec[];
  loss: LossName;
  /**
   * L2 penalty factor on dense kernels (Keras `l2` semantics: `l2 · Σ kernel²`, biases exempt).
   * @default 0 (no penalty)
   */
  l2?: number;
  /**
   * `[height, width, channels]` for image models: rows of `height · width · channels` features are
   * reshaped to this before the first layer. Required by conv2d and pooling layers.
   * @default none (a feature vector)
   */
  inputShape?: [number, number, number];
  /**
   * A square image input of any side in a range, resolved from the data's width by
   * {@link resolveInputShape}; exclusive with `inputShape`.
   * @default none
   */
  imageInput?: ImageInputSpec;
  /**
   * Training-time augmentation of image rows (needs `inputShape`), drawn per image from the fit's
   * seeded generator; evaluation always sees the images as they are.
   * @default none
   */
  augment?: ImageAugmentSpec;
  /**
   * EMR feature columns appended to each image row, joined to the image path at `joinAt` (needs
   * `inputShape` or `imageInput`). An image model without it takes images only.
   * @default none
   */
  featureInput?: FeatureInputSpec;
}

/** Random label-preserving image transforms applied to each training mini-batch. */
export interface ImageAugmentSpec {
  /** Mirror left–right with probability 1/2. */
  flipHorizontal?: boolean;
  /** Translate by up to this many pixels in each axis (0..{@link MAX_SHIFT}), zero-filled. */
  maxShift?: number;
  /**
   * Random contrast and brightness: each training image is multiplied by U(1 − j, 1 + j) and shifted
   * by U(−j/2, j/2), then clipped to [0, 1] (0..{@link MAX_JITTER}). @default 0
   */
  intensityJitter?: number;
  /**
   * Test-time augmentation: a prediction is the mean of the model's outputs on the image and on its
   * mirror image (applies to evaluation and prediction, not training). @default false
   */
  testTimeFlip?: boolean;
  /**
   * Test-time shifts: a prediction is the mean over the image translated by every `dy, dx ∈ [−s, s]`
   * (zero-filled; (2s + 1)² views, each with its mirror when `testTimeFlip`), 0..{@link MAX_TEST_TIME_SHIFT}.
   * Applies to evaluation and prediction, not training. @default 0
   */
  testTimeShift?: number;
}

/** Largest `augment.maxShift`. */
export const MAX_SHIFT = 8;
/** Largest `augment.testTimeShift` (s = 2 already means 25 views, 50 with the mirror). */
export const MAX_TEST_TIME_SHIFT = 2;
/** Largest `augment.intensityJitter`. */
export const MAX_JITTER = 0.5;

/** Largest `units` a dense layer may have. */
export const MAX_UNITS = 4096;
/** Most layers a spec may have. */
export const MAX_LAYERS = 16;
/** Largest kernel or pooling window side. */
export const MAX_KERNEL = 15;
/** Largest image side in `inputShape`. */
export const MAX_IMAGE_SIDE = 4096;

const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax'];
const NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

function fail(field: string, message: string): never {
  throw new ConfigError(`'${field}' ${message}`, { field });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function intIn(layer: Record<string, unknown>, key: string, field: string, max: number, optional = false): void {
  const v = layer[key];
  if (optional && v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) fail(`${field}.${key}`, `must be an integer in 1..${max}`);
}

function checkActivation(layer: Record<string, unknown>, field: string): void {
  const act = layer['activation'];
  if (typeof act !== 'string' || !ACTIVATIONS.includes(act)) {
    fail(`${field}.activation`, `must be one of ${ACTIVATIONS.join(', ')}`);
  }
}

function checkPadding(layer: Record<string, unknown>, field: string, optional: boolean): void {
  const p = layer['padding'];
  if (optional && p === undefined) return;
  if (p !== 'same' && p !== 'valid') fail(`${field}.padding`, "must be 'same' or 'valid'");
}

const LAYER_TYPES = ['dense', 'dropout', 'conv2d', 'maxPooling2d', 'averagePooling2d', 'flatten', 'globalAveragePooling2d', 'batchNormalization', 'activation', 'residualBlock'];

function validateLayer(layer: unknown, field: string): void {
  if (!isRecord(layer)) fail(field, 'must be an object');
  switch (layer['type']) {
    case 'dense': {
      intIn(layer, 'units', field, MAX_UNITS);
      checkActivation(layer, field);
      checkKeys(layer, ['type', 'units', 'activation'], field);
      return;
    }
    case 'dropout': {
      const rate = layer['rate'];
      if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate >= 1) {
        fail(`${field}.rate`, 'must be a number in [0, 1)');
      }
      checkKeys(layer, ['type', 'rate'], field);
      return;
    }
    case 'conv2d': {
      intIn(layer, 'filters', field, MAX_UNITS);
      intIn(layer, 'kernelSize', field, MAX_KERNEL);
      intIn(layer, 'strides', field, MAX_KERNEL, true);
      checkPadding(layer, field, false);
      checkActivation(layer, field);
      checkKeys(layer, ['type', 'filters', 'kernelSize', 'strides', 'padding', 'activation'], field);
      return;
    }
    case 'maxPooling2d':
    case 'averagePooling2d': {
      intIn(layer, 'poolSize', field, MAX_KERNEL);
      intIn(layer, 'strides', field, MAX_KERNEL, true);
      checkPadding(layer, field, true);
      checkKeys(layer, ['type', 'poolSize', 'strides', 'padding'], field);
      return;
    }
    case 'flatten':
    case 'globalAveragePooling2d':
      checkKeys(layer, ['type'], field);
      return;
    case 'batchNormalization': {
      const m = layer['momentum'];
      if (m !== undefined && !(typeof m === 'number' && m >= 0 && m < 1)) fail(`${field}.momentum`, 'must be a number in [0, 1)');
      const e = layer['epsilon'];
      if (e !== undefined && !(typeof e === 'number' && e > 0 && e < 1)) fail(`${field}.epsilon`, 'must be a number in (0, 1)');
      checkKeys(layer, ['type', 'momentum', 'epsilon'], field);
      return;
    }
    case 'activation':
      checkActivation(layer, field);
      checkKeys(layer, ['type', 'activation'], field);
      return;
    case 'residualBlock': {
      intIn(layer, 'filters', field, MAX_UNITS);
      const st = layer['strides'];
      if (st !== undefined && st !== 1 && st !== 2) fail(`${field}.strides`, 'must be 1 or 2');
      checkKeys(layer, ['type', 'filters', 'strides'], field);
      return;
    }
    default:
      fail(`${field}.type`, `must be one of ${LAYER_TYPES.join(', ')}`);
  }
}

/** Output side of a convolution or pooling window along one axis (TF.js / Keras arithmetic). */
export function windowOutputSide(side: number, window: number, stride: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(side / stride) : Math.ceil((side - window + 1) / stride);
}

/**
 * The shape after each layer, from `[inputDim]` (vectors) or `inputShape` (images); `null` marks a
 * layer that does not fit its input (a conv on a vector, a dense layer on an image, a window larger
 * than the image). Validation reports the first such layer.
 */
export function layerShapes(spec: Pick<ModelSpec, 'layers' | 'inputShape' | 'featureInput'>, inputDim: number): (number[] | null)[] {
  let shape: number[] | null = spec.inputShape !== undefined ? [...spec.inputShape] : [inputDim];
  const features = featureCount(spec, inputDim);
  return spec.layers.map((layer, i) => {
    if (shape === null) return null;
    // The feature input joins the image path's vector here.
    if (spec.featureInput !== undefined && i === spec.featureInput.joinAt) shape = shape.length === 1 ? [(shape[0] ?? 0) + features] : null;
    if (shape === null) return null;
    const [h = 0, w = 0, c = 0] = shape;
    const image = shape.length === 3;
    switch (layer.type) {
      case 'dense':
        shape = image ? null : [layer.units];
        break;
      case 'dropout':
      case 'batchNormalization':
      case 'activation':
        break;
      case 'residualBlock': {
        const s = layer.strides ?? 1;
        const oh = windowOutputSide(h, 3, s, 'same');
        const ow = windowOutputSide(w, 3, s, 'same');
        shape = image ? [oh, ow, layer.filters] : null;
        break;
      }
      case 'conv2d': {
        const s = layer.strides ?? 1;
        const oh = windowOutputSide(h, layer.kernelSize, s, layer.padding);
        const ow = windowOutputSide(w, layer.kernelSize, s, layer.padding);
        shape = image && oh >= 1 && ow >= 1 ? [oh, ow, layer.filters] : null;
        break;
      }
      case 'maxPooling2d':
      case 'averagePooling2d': {
        const s = layer.strides ?? layer.poolSize;
        const oh = windowOutputSide(h, layer.poolSize, s, layer.padding ?? 'valid');
        const ow = windowOutputSide(w, layer.poolSize, s, layer.padding ?? 'valid');
        shape = image && oh >= 1 && ow >= 1 ? [oh, ow, c] : null;
        break;
      }
      case 'flatten':
        shape = image ? [h * w * c] : null;
        break;
      case 'globalAveragePooling2d':
        shape = image ? [c] : null;
        break;
    }
    return shape;
  });
}

/** Feature columns in rows of `inputDim` values: what is left after the (resolved) image's pixels; 0 without a feature input. */
export function featureCount(spec: Pick<ModelSpec, 'inputShape' | 'featureInput'>, inputDim: number): number {
  if (spec.featureInput === undefined || spec.inputShape === undefined) return 0;
  return inputDim - spec.inputShape.reduce((a, b) => a * b, 1);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(field === '' ? key : `${field}.${key}`, 'is not a known key');
  }
}

/**
 * Checks a spec received from config or the registry and narrows it to {@link ModelSpec}.
 * Unknown keys fail, as do more than {@link MAX_LAYERS} layers, `units` outside 1..{@link MAX_UNITS},
 * and (for `binary-crossentropy`) a last layer other than dense with 1 unit and sigmoid activation.
 *
 * @throws ConfigError naming the offending field (e.g. `'layers[1].units' must be ...`).
 */
export function validateModelSpec(spec: unknown): asserts spec is ModelSpec {
  if (!isRecord(spec)) fail('spec', 'must be an object');
  checkKeys(spec, ['name', 'description', 'layers', 'loss', 'l2', 'inputShape', 'imageInput', 'augment', 'featureInput'], '');
  const name = spec['name'];
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > 64) {
    fail('name', 'must be a kebab-case string of at most 64 characters');
  }
  if (typeof spec['description'] !== 'string') fail('description', 'must be a string');
  const loss = spec['loss'];
  if (loss !== 'binary-crossentropy' && loss !== 'categorical-crossentropy') fail('loss', "must be 'binary-crossentropy' or 'categorical-crossentropy'");
  const l2 = spec['l2'];
  if (l2 !== undefined && (typeof l2 !== 'number' || !Number.isFinite(l2) || l2 < 0)) {
    fail('l2', 'must be a finite number ≥ 0');
  }
  const layers = spec['layers'];
  if (!Array.isArray(layers) || layers.length === 0) fail('layers', 'must be a non-empty array');
  if (layers.length > MAX_LAYERS) fail('layers', `must have at most ${MAX_LAYERS} layers`);
  layers.forEach((layer, i) => validateLayer(layer, `layers[${i}]`));
  const inputShape = spec['inputShape'];
  if (inputShape !== undefined) {
    if (
      !Array.isArray(inputShape) ||
      inputShape.length !== 3 ||
      !inputShape.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_IMAGE_SIDE)
    ) {
      fail('inputShape', `must be [height, width, channels] of integers in 1..${MAX_IMAGE_SIDE}`);
    }
  }
  const imageInput = spec['imageInput'];
  let probeShape = inputShape as [number, number, number] | undefined;
  if (imageInput !== undefined) {
    if (inputShape !== undefined) fail('imageInput', 'and inputShape are exclusive: name one');
    if (!isRecord(imageInput)) fail('imageInput', 'must be an object');
    checkKeys(imageInput, ['channels', 'minSide', 'maxSide'], 'imageInput');
    const { channels, minSide, maxSide } = imageInput;
    if (channels !== 1 && channels !== 3) fail('imageInput.channels', 'must be 1 or 3');
    if (typeof minSide !== 'number' || !Number.isInteger(minSide) || minSide < 1) fail('imageInput.minSide', 'must be an integer ≥ 1');
    if (typeof maxSide !== 'number' || !Number.isInteger(maxSide) || maxSide < minSide || maxSide > MAX_IMAGE_SIDE) fail('imageInput.maxSide', `must be an integer in minSide..${MAX_IMAGE_SIDE}`);
    probeShape = [minSide, minSide, channels];
  }
  const augment = spec['augment'];
  if (augment !== undefined) {
    if (!isRecord(augment)) fail('augment', 'must be an object');
    if (inputShape === undefined && imageInput === undefined) fail('augment', 'needs an image input: set inputShape');
    checkKeys(augment, ['flipHorizontal', 'maxShift', 'intensityJitter', 'testTimeFlip', 'testTimeShift'], 'augment');
    const jitter = augment['intensityJitter'];
    if (jitter !== undefined && (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= MAX_JITTER))) {
      fail('augment.intensityJitter', `must be a number in [0, ${MAX_JITTER}]`);
    }
    for (const key of ['flipHorizontal', 'testTimeFlip']) {
      const v = augment[key];
      if (v !== undefined && typeof v !== 'boolean') fail(`augment.${key}`, 'must be a boolean');
    }
    const shift = augment['maxShift'];
    if (shift !== undefined && (typeof shift !== 'number' || !Number.isInteger(shift) || shift < 0 || shift > MAX_SHIFT)) {
      fail('augment.maxShift', `must be an integer in 0..${MAX_SHIFT}`);
    }
    const tts = augment['testTimeShift'];
    if (tts !== undefined && (typeof tts !== 'number' || !Number.isInteger(tts) || tts < 0 || tts > MAX_TEST_TIME_SHIFT)) {
      fail('augment.testTimeShift', `must be an integer in 0..${MAX_TEST_TIME_SHIFT}`);
    }
  }
  const featureInput = checkFeatureInput(spec['featureInput'], layers.length, probeShape, imageInput as ImageInputSpec | undefined);
  // Vectors: any width fits; images: check every layer against the declared shape (with one feature column).
  const probeDim = probeShape !== undefined ? probeShape.reduce((a, b) => a * b, 1) + (featureInput !== undefined ? 1 : 0) : 1;
  const shapes = layerShapes({ layers: layers as LayerSpec[], ...(probeShape !== undefined ? { inputShape: probeShape } : {}), ...(featureInput !== undefined ? { featureInput } : {}) }, probeDim);
  const misfit = shapes.indexOf(null);
  if (misfit >= 0) {
    fail(`layers[${misfit}]`, inputShape === undefined ? 'needs an image input: set inputShape' : 'does not fit its input shape (image layers before flatten, vector layers after, windows within the image)');
  }
  const last = layers[layers.length - 1] as LayerSpec;
  const lastField = `layers[${layers.length - 1}]`;
  if (loss === 'binary-crossentropy' && (last.type !== 'dense' || last.activation !== 'sigmoid')) {
    fail(lastField, 'must be dense with sigmoid activation for binary-crossentropy (1 unit: binary; more: multi-label)');
  }
  if (loss === 'categorical-crossentropy' && (last.type !== 'dense' || last.activation !== 'softmax' || last.units < 2)) {
    fail(lastField, 'must be dense with at least 2 units and softmax activation for categorical-crossentropy');
  }
  (layers as LayerSpec[]).forEach((layer, i) => {
    if (i < layers.length - 1 && 'activation' in layer && layer.activation === 'softmax') fail(`layers[${i}].activation`, 'softmax is only allowed on the last layer');
  });
}

function checkFeatureInput(v: unknown, layerCount: number, probeShape: [number, number, number] | undefined, imageInput: ImageInputSpec | undefined): FeatureInputSpec | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) fail('featureInput', 'must be an object');
  if (probeShape === undefined) fail('featureInput', 'needs an image input (inputShape or imageInput): a vector model takes the feature columns as they are');
  checkKeys(v, ['joinAt', 'maxFeatures'], 'featureInput');
  const { joinAt, maxFeatures } = v;
  if (typeof joinAt !== 'number' || !Number.isInteger(joinAt) || joinAt < 1 || joinAt > layerCount - 1) fail('featureInput.joinAt', `must be an integer in 1..${layerCount - 1}`);
  const most = imageInput !== undefined ? 2 * imageInput.minSide * imageInput.channels : MAX_UNITS;
  if (typeof maxFeatures !== 'number' || !Number.isInteger(maxFeatures) || maxFeatures < 1 || maxFeatures > most) {
    fail('featureInput.maxFeatures', `must be an integer in 1..${most}${imageInput !== undefined ? ' (2 · imageInput.minSide · channels, so the image side is unambiguous)' : ''}`);
  }
  return { joinAt, maxFeatures };
}

/**
 * The spec with `inputShape` resolved for data rows of `inputDim` values: as is for fixed or vector
 * inputs; for `imageInput`, the square side with `side² · channels = inputDim`.
 * @throws ConfigError when `inputDim` is no such square, or its side is outside minSide..maxSide.
 */
export function resolveInputShape(spec: ModelSpec, inputDim: number): ModelSpec {
  const img = spec.imageInput;
  const fi = spec.featureInput;
  if (img === undefined) {
    if (fi !== undefined && spec.inputShape !== undefined) checkFeatureCount(spec, featureCount(spec, inputDim));
    return spec;
  }
  // With a feature input the side is the largest that fits; maxFeatures ≤ 2·minSide·channels makes it the only one.
  const side = fi !== undefined ? Math.floor(Math.sqrt(inputDim / img.channels)) : Math.round(Math.sqrt(inputDim / img.channels));
  if (fi !== undefined && side >= img.minSide && side <= img.maxSide) checkFeatureCount(spec, inputDim - side * side * img.channels);
  else if (side * side * img.channels !== inputDim || side < img.minSide || side > img.maxSide) {
    throw new ConfigError(`'inputDim' ${inputDim} is not a square image of ${img.minSide}..${img.maxSide} px with ${img.channels} channel(s) for model '${spec.name}'`, { field: 'inputDim' });
  }
  const resolved: ModelSpec = { ...spec, inputShape: [side, side, img.channels] };
  delete resolved.imageInput;
  return resolved;
}

function checkFeatureCount(spec: ModelSpec, features: number): void {
  const most = spec.featureInput?.maxFeatures ?? 0;
  if (features < 1 || features > most) {
    throw new ConfigError(`'inputDim' leaves ${features} feature column(s) after the image for model '${spec.name}', which takes 1..${most} (its featureInput)`, { field: 'inputDim' });
  }
}

/** JSON with object keys sorted recursively, so equal specs serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 (lowercase hex) of the spec's canonical JSON; pins the exact architecture in round records. */
export function modelSpecHash(spec: ModelSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}
