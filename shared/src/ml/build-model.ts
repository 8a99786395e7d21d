import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../errors.js';
import { featureCount, resolveInputShape, type LayerSpec, type ModelSpec } from './model-spec.js';
import { needsProjection, totalParams, weightLayout, type WeightEntry } from './weights.js';

/** The tfjs-layers namespace, passed in so `shared` code can build models without owning the import. */
export type TfLayers = typeof tfl;

type SymbolicTensor = tfl.SymbolicTensor;

/** The layout each built model was built for, so flat vectors map to its variables by name. */
const layouts = new WeakMap<tfl.LayersModel, WeightEntry[]>();

/**
 * Builds an (untrained) TF.js model from a validated spec, with the functional API so residual blocks
 * can branch. Layers are named `<type>_<index>` (index over all spec layers; residual sub-layers
 * `residualBlock_<i>_<part>`) so every variable's name is its {@link weightLayout} entry name.
 * An image spec (`inputShape`, or `imageInput` resolved for `inputDim`) starts with a weightless
 * `input_reshape` layer from the flat `[inputDim]` rows to `[height, width, channels]`; with a
 * `featureInput`, weightless crops split each row into pixels and features first, and a `join_features`
 * concatenation joins the features to the image path before layer `joinAt`.
 * Kernels start at zero: real weights always come from {@link setFlatWeights} (e.g. with
 * `initialWeights` or the round's global model), never from TF.js's own unseeded initialiser.
 */
export function buildModel(layers: TfLayers, input: ModelSpec, inputDim: number): tfl.LayersModel {
  weightLayout(input, inputDim); // validates inputDim and layer shapes
  const spec = resolveInputShape(input, inputDim);
  const L = layers.layers;
  const inputs = layers.input({ shape: [inputDim], name: 'input' });
  let x: SymbolicTensor = inputs;
  const features = featureCount(spec, inputDim);
  let featureVector: SymbolicTensor | undefined;
  if (spec.inputShape !== undefined && features > 0) {
    // One flat row [pixels…, features…]: crop the two apart with standard layers (the exported model needs no custom layer).
    const row = L.reshape({ name: 'input_row', targetShape: [1, inputDim, 1] }).apply(x) as SymbolicTensor;
    const pixels = L.cropping2D({ name: 'input_pixels', cropping: [[0, 0], [0, features]] }).apply(row) as SymbolicTensor;
    featureVector = L.reshape({ name: 'input_features_vector', targetShape: [features] }).apply(L.cropping2D({ name: 'input_features', cropping: [[0, 0], [inputDim - features, 0]] }).apply(row)) as SymbolicTensor;
    x = pixels;
  }
  if (spec.inputShape !== undefined) x = L.reshape({ name: 'input_reshape', targetShape: [...spec.inputShape] }).apply(x) as SymbolicTensor;
  spec.layers.forEach((layer, i) => {
    if (featureVector !== undefined && i === spec.featureInput?.joinAt) x = L.concatenate({ name: 'join_features', axis: -1 }).apply([x, featureVector]) as SymbolicTensor;
    x = applyLayer(layers, layer, i, x);
  });
  const model = layers.model({ inputs, outputs: x, name: `tessera_${spec.name.replace(/-/g, '_')}` });
  layouts.set(model, weightLayout(input, inputDim));
  return model;
}

const zeros = { kernelInitializer: 'zeros', biasInitializer: 'zeros' } as const;

function applyLayer(layers: TfLayers, layer: LayerSpec, i: number, x: SymbolicTensor): SymbolicTensor {
  const L = layers.layers;
  const on = (l: tfl.layers.Layer, t: SymbolicTensor): SymbolicTensor => l.apply(t) as SymbolicTensor;
  switch (layer.type) {
    case 'dense':
      return on(L.dense({ ...zeros, name: `dense_${i}`, units: layer.units, activation: layer.activation }), x);
    case 'dropout':
      return on(L.dropout({ name: `dropout_${i}`, rate: layer.rate }), x);
    case 'conv2d':
      return on(L.conv2d({ ...zeros, name: `conv2d_${i}`, filters: layer.filters, kernelSize: layer.kernelSize, strides: layer.strides ?? 1, padding: layer.padding, activation: layer.activation }), x);
    case 'maxPooling2d':
    case 'averagePooling2d': {
      const args = { name: `${layer.type}_${i}`, poolSize: layer.poolSize, strides: layer.strides ?? layer.poolSize, padding: layer.padding ?? 'valid' } as const;
      return on(layer.type === 'maxPooling2d' ? L.maxPooling2d(args) : L.averagePooling2d(args), x);
    }
    case 'flatten':
      return on(L.flatten({ name: `flatten_${i}` }), x);
    case 'globalAveragePooling2d':
      return on(L.globalAveragePooling2d({ name: `globalAveragePooling2d_${i}` }), x);
    case 'batchNormalization':
      return on(L.batchNormalization({ name: `batchNormalization_${i}`, momentum: layer.momentum ?? 0.99, epsilon: layer.epsilon ?? 1e-3 }), x);
    case 'activation':
      return on(L.activation({ name: `activation_${i}`, activation: layer.activation }), x);
    case 'residualBlock': {
      const b = `residualBlock_${i}`;
      const s = layer.strides ?? 1;
      const conv = (part: string, k: number, strides: number): tfl.layers.Layer => L.conv2d({ kernelInitializer: 'zeros', useBias: false, name: `${b}_${part}`, filters: layer.filters, kernelSize: k, strides, padding: 'same' });
      const bn = (part: string): tfl.layers.Layer => L.batchNormalization({ name: `${b}_${part}`, momentum: 0.99, epsilon: 1e-3 });
      let y = on(bn('bn_a'), on(conv('conv_a', 3, s), x));
      y = on(L.activation({ name: `${b}_relu_a`, activation: 'relu' }), y);
      y = on(bn('bn_b'), on(conv('conv_b', 3, 1), y));
      const inC = x.shape[x.shape.length - 1] ?? 1;
      const shortcut = needsProjection(inC, layer) ? on(bn('proj_bn'), on(conv('proj', 1, s), x)) : x;
      const sum = L.add({ name: `${b}_add` }).apply([y, shortcut]) as SymbolicTensor;
      return on(L.activation({ name: `${b}_relu`, activation: 'relu' }), sum);
    }
  }
}

/** The model's variables by name, checked against the layout (every entry present, same shape). */
function variablesInLayoutOrder(model: tfl.LayersModel, layout: readonly WeightEntry[]): tfl.LayerVariable[] {
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  return layout.map((e) => {
    const v = byName.get(e.name);
    if (v === undefined || v.shape.reduce((a: number, b) => a * (b ?? 1), 1) !== e.size) {
      throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `model has no variable ${e.name} of ${e.size} values`, { expectedParams: e.size });
    }
    return v;
  });
}


function layoutOf(model: tfl.LayersModel): WeightEntry[] {
  const known = layouts.get(model);
  if (known !== undefined) return known;
  // A model built elsewhere: its own weight order, each variable one entry.
  return model.weights.map((w) => {
    const shape = w.shape.map((d) => d ?? 1);
    return { name: w.originalName, shape, size: shape.reduce((a, b) => a * b, 1), role: 'kernel', trainable: w.trainable, normalization: false };
  });
}

/**
 * Loads a flat weight vector (layout of {@link weightLayout}) into the model's variables, by name.
 * @throws InputError `TESSERA_INPUT_WEIGHTS_SHAPE` when the length differs from the model's parameter count.
 */
export function setFlatWeights(model: tfl.LayersModel, weights: Float32Array): void {
  const layout = layoutOf(model);
  const expected = totalParams(layout);
  if (weights.length !== expected) {
    throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `weights have ${weights.length} values, model has ${expected}`, {
      values: weights.length,
      expectedParams: expected,
    });
  }
  const vars = variablesInLayoutOrder(model, layout);
  let offset = 0;
  layout.forEach((e, i) => {
    const v = vars[i] as tfl.LayerVariable;
    const t = tf.tensor(weights.subarray(offset, offset + e.size), v.shape.map((d) => d ?? 1), 'float32');
    // Variables take their own copy on write, so ours can go.
    v.write(t);
    t.dispose();
    offset += e.size;
  });
}

/** Reads the model's variables into one flat vector in {@link weightLayout} order. */
export function getFlatWeights(model: tfl.LayersModel): Float32Array {
  const layout = layoutOf(model);
  const out = new Float32Array(totalParams(layout));
  let offset = 0;
  for (const v of variablesInLayoutOrder(model, layout)) {
    const values = v.read().dataSync();
    out.set(values, offset);
    offset += values.length;
  }
  return out;
}

/** The model's trainable variables in {@link weightLayout} order (what gradients and the optimiser see). */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  const layout = layoutOf(model).filter((e) => e.trainable);
  return variablesInLayoutOrder(model, layout).map((v) => v.read() as tf.Variable);
}
