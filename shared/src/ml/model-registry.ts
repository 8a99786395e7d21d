import { TesseraError } from '../errors.js';
import { validateModelSpec, type LayerSpec, type ModelSpec } from './model-spec.js';

/** What varies between the BreastMNIST CNNs; everything else is {@link breastmnistCnn}'s. */
interface BreastmnistCnnOptions {
  name: string;
  /** Filters of the three conv blocks. */
  filters: readonly [number, number, number];
  /** Units of the hidden dense layer. */
  dense: number;
  /** Conv layers per block, before its pooling (VGG-style blocks when 2). @default 1 */
  convsPerBlock?: 1 | 2;
  /** Test-time shifts of up to this many pixels (`augment.testTimeShift`) on top of the mirror. @default 0 */
  testTimeShift?: number;
}

/**
 * The BreastMNIST CNN family (28×28×1 breast ultrasound): 3 × (one or two conv 3×3 same relu → max-pool 2) →
 * flatten → dense relu → dropout 0.4 → dense 1 sigmoid, trained with random horizontal flips, shifts of
 * up to 2 px and ±20 % contrast / ±10 % brightness, predicting the mean over the image and its mirror
 * (and, with `testTimeShift`, over their shifted copies). A builder of plain data: the spec stays declarative.
 */
function breastmnistCnn(o: BreastmnistCnnOptions): ModelSpec {
  const tts = o.testTimeShift ?? 0;
  const conv = (filters: number): LayerSpec => ({ type: 'conv2d', filters, kernelSize: 3, padding: 'same', activation: 'relu' });
  return {
    name: o.name,
    description: `CNN for 28×28×1 breast ultrasound (BreastMNIST): 3 × (${o.convsPerBlock === 2 ? '2 × conv' : 'conv'} 3×3 same relu → max-pool 2) with ${o.filters.join('/')} filters → dense ${o.dense} relu → dropout 0.4 → dense 1 sigmoid; trained with random horizontal flips, shifts of up to 2 px and ±20 % contrast / ±10 % brightness, predicts the mean over the image and its mirror${tts > 0 ? `, each shifted by every dy, dx in [−${tts}, ${tts}] px (${2 * (2 * tts + 1) ** 2} views)` : ''}`,
    inputShape: [28, 28, 1],
    augment: { flipHorizontal: true, maxShift: 2, intensityJitter: 0.2, testTimeFlip: true, ...(tts > 0 ? { testTimeShift: tts } : {}) },
    layers: [
      ...o.filters.flatMap((f): LayerSpec[] => [...(o.convsPerBlock === 2 ? [conv(f), conv(f)] : [conv(f)]), { type: 'maxPooling2d', poolSize: 2 }]),
      { type: 'flatten' },
      { type: 'dense', units: o.dense, activation: 'relu' },
      { type: 'dropout', rate: 0.4 },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binary-crossentropy',
  };
}

/**
 * The vetted model registry. Only specs listed here can be trained: the coordinator sends a name,
 * never code, and each site resolves it locally.
 */
/** The wide two-hidden-layer MLPs of the protocol benchmarks: dense a relu → dense b relu → dense 1 sigmoid. */
function benchmarkMlp(name: string, size: string, a: number, b: number): ModelSpec {
  return {
    name,
    description: `Wide MLP for protocol benchmarks (${size}): dense ${a} relu → dense ${b} relu → dense 1 sigmoid`,
    layers: [
      { type: 'dense', units: a, activation: 'relu' },
      { type: 'dense', units: b, activation: 'relu' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binary-crossentropy',
  };
}

/**
 * The small residual network for radiology images (ResNet-style, He et al. 2016), any square input of
 * 64–224 px: stem conv 3×3/2 (16) → batch norm → relu → max-pool 2, three basic residual blocks of
 * 16, 32/2 and 64/2 filters (each conv → batch norm → relu → conv → batch norm, plus its shortcut), global
 * average pooling, then the head: one sigmoid (binary), `k` softmax (multi-class) or `k` sigmoid (multi-label).
 * 77,857 parameters with the binary head (independent of the input size); at 128×128 the last feature map is 8×8.
 */
function resnetSmall(name: string, channels: 1 | 3, head: { kind: 'binary' } | { kind: 'multi-class' | 'multi-label'; classes: number }, what: string): ModelSpec {
  const units = head.kind === 'binary' ? 1 : head.classes;
  const softmax = head.kind === 'multi-class';
  return {
    name,
    description: `Small residual network for ${what}, square ${channels === 1 ? 'grey' : 'RGB'} input of 64–224 px: conv 3×3/2 (16) → BN → relu → max-pool 2 → residual blocks 16, 32/2, 64/2 → global average pool → dense ${units} ${softmax ? 'softmax' : 'sigmoid'}`,
    imageInput: { channels, minSide: 64, maxSide: 224 },
    layers: [
      { type: 'conv2d', filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'linear' },
      { type: 'batchNormalization' },
      { type: 'activation', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'residualBlock', filters: 16 },
      { type: 'residualBlock', filters: 32, strides: 2 },
      { type: 'residualBlock', filters: 64, strides: 2 },
      { type: 'globalAveragePooling2d' },
      { type: 'dense', units, activation: softmax ? 'softmax' : 'sigmoid' },
    ],
    loss: softmax ? 'categorical-crossentropy' : 'binary-crossentropy',
  };
}

/**
 * `resnet-small` (binary, grey) with a second input: up to 128 EMR feature columns (a study's `data.features`),
 * joined to the 64 pooled image features, then dense 16 relu → dense 1 sigmoid.
 */
function resnetSmallEmr(): ModelSpec {
  const trunk = resnetSmall('resnet-small-emr', 1, { kind: 'binary' }, '');
  const layers = trunk.layers.slice(0, -1);
  return {
    ...trunk,
    description: 'Small residual network with EMR features: square grey input of 64–224 px through the resnet-small trunk (→ global average pool, 64), joined with up to 128 EMR feature columns → dense 16 relu → dense 1 sigmoid',
    layers: [...layers, { type: 'dense', units: 16, activation: 'relu' }, { type: 'dense', units: 1, activation: 'sigmoid' }],
    featureInput: { joinAt: layers.length, maxFeatures: 128 },
  };
}

const SPECS: readonly ModelSpec[] = [
  resnetSmall('resnet-small', 1, { kind: 'binary' }, 'binary findings on grey radiographs, CT and MR slices'),
  resnetSmallEmr(),
  {
    name: 'cnn-small-emr',
    description: 'Small two-input model: a 28×28×1 image through 2 × (conv 3×3 same relu → max-pool 2) with 8/16 filters → flatten, joined with up to 64 EMR feature columns → dense 32 relu → dense 1 sigmoid',
    inputShape: [28, 28, 1],
    featureInput: { joinAt: 5, maxFeatures: 64 },
    layers: [
      { type: 'conv2d', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'conv2d', filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 32, activation: 'relu' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binary-crossentropy',
  },
  resnetSmall('resnet-small-multiclass-8', 3, { kind: 'multi-class', classes: 8 }, '8-class dermoscopy (the Fed-ISIC2019 task)'),
  resnetSmall('resnet-small-multilabel-14', 1, { kind: 'multi-label', classes: 14 }, '14 chest X-ray findings (multi-label, as ChestX-ray14)'),
  {
    name: 'logreg',
    description: 'Logistic regression (single dense sigmoid unit): the FLamby Fed-Heart-Disease baseline',
    layers: [{ type: 'dense', units: 1, activation: 'sigmoid' }],
    loss: 'binary-crossentropy',
  },
  {
    name: 'mlp-small',
    description: 'Small MLP: dense 16 relu → dense 1 sigmoid',
    layers: [
      { type: 'dense', units: 16, activation: 'relu' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binary-crossentropy',
  },
  benchmarkMlp('mlp-100k', 'about 100,000 parameters on 10 inputs', 300, 300),
  {
    name: 'mlp-bn',
    description: 'MLP with batch normalisation for tabular features: dense 32 → batch norm → relu → dense 1 sigmoid (with the study option training.fedBn the normalisation stays at each site)',
    layers: [
      { type: 'dense', units: 32, activation: 'linear' },
      { type: 'batchNormalization' },
      { type: 'activation', activation: 'relu' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binary-crossentropy',
  },
  benchmarkMlp('mlp-1m', '1,002,981 parameters on the 10 synthetic-cohort inputs', 1000, 990),
  {
    name: 'cnn-small',
    description:
      'Small CNN for 28×28×1 images (MedMNIST): 3 × (conv 3×3 same relu → max-pool 2) with 8/16/32 filters → dense 32 relu → dropout 0.25 → dense 1 sigmoid',
    inputShape: [28, 28, 1],
    layers: [
      { type: 'conv2d', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'conv2d', filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'conv2d', filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 32, activation: 'relu' },
      { type: 'dropout', rate: 0.25 },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binary-crossentropy',
  },
  breastmnistCnn({ name: 'cnn-breastmnist', filters: [16, 32, 64], dense: 64 }),
  breastmnistCnn({ name: 'cnn-breastmnist-wide', filters: [24, 48, 96], dense: 96 }),
  breastmnistCnn({ name: 'cnn-breastmnist-deep', filters: [16, 32, 64], dense: 64, convsPerBlock: 2, testTimeShift: 1 }),
];

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const REGISTRY: ReadonlyMap<string, ModelSpec> = new Map(
  SPECS.map((spec) => {
    validateModelSpec(spec);
    return [spec.name, deepFreeze(spec)] as const;
  }),
);

/** Names of every registered spec, sorted. */
export function modelSpecNames(): string[] {
  return [...REGISTRY.keys()].sort();
}

/**
 * Looks up a registered spec by name. The returned object is deeply frozen.
 * @throws TesseraError `TESSERA_MODEL_UNKNOWN` when no spec has that name.
 */
export function getModelSpec(name: string): ModelSpec {
  const spec = REGISTRY.get(name);
  if (spec === undefined) {
    throw new TesseraError('TESSERA_MODEL_UNKNOWN', `unknown model spec '${name}'`, {
      model: name,
      known: modelSpecNames().join(','),
    });
  }
  return spec;
}
