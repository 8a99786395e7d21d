import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../errors.js';
import type { ModelSpec } from './model-spec.js';
import { weightLayout } from './weights.js';

/** The tfjs-layers namespace, passed in so `shared` code can build models without owning the import. */
export type TfLayers = typeof tfl;

/**
 * Builds an (untrained) `tf.Sequential` from a validated spec. Layers are named
 * `<type>_<index>` (index over all spec layers) so saved weight names match {@link weightLayout}.
 * An image spec (`inputShape`) starts with a weightless `input_reshape` layer from the flat
 * `[inputDim]` rows to `[height, width, channels]`.
 * Kernels start at zero: real weights always come from {@link setFlatWeights} (e.g. with
 * `initialWeights` or the round's global model), never from TF.js's own unseeded initialiser.
 */
export function buildModel(layers: TfLayers, spec: ModelSpec, inputDim: number): tfl.Sequential {
  weightLayout(spec, inputDim); // validates inputDim and layer shapes
  const model = layers.sequential({ name: `tessera_${spec.name.replace(/-/g, '_')}` });
  let first: { inputShape?: number[] } = { inputShape: [inputDim] };
  if (spec.inputShape !== undefined) {
    model.add(layers.layers.reshape({ ...first, name: 'input_reshape', targetShape: [...spec.inputShape] }));
    first = {};
  }
  const zeros = { kernelInitializer: 'zeros', biasInitializer: 'zeros' } as const;
  spec.layers.forEach((layer, i) => {
    switch (layer.type) {
      case 'dense':
        model.add(layers.layers.dense({ ...first, ...zeros, name: `dense_${i}`, units: layer.units, activation: layer.activation }));
        break;
      case 'dropout':
        model.add(layers.layers.dropout({ ...first, name: `dropout_${i}`, rate: layer.rate }));
        break;
      case 'conv2d':
        model.add(
          layers.layers.conv2d({
            ...first,
            ...zeros,
            name: `conv2d_${i}`,
            filters: layer.filters,
            kernelSize: layer.kernelSize,
            strides: layer.strides ?? 1,
            padding: layer.padding,
            activation: layer.activation,
          }),
        );
        break;
      case 'maxPooling2d':
      case 'averagePooling2d': {
        const args = {
          ...first,
          name: `${layer.type}_${i}`,
          poolSize: layer.poolSize,
          strides: layer.strides ?? layer.poolSize,
          padding: layer.padding ?? 'valid',
        };
        model.add(layer.type === 'maxPooling2d' ? layers.layers.maxPooling2d(args) : layers.layers.averagePooling2d(args));
        break;
      }
      case 'flatten':
        model.add(layers.layers.flatten({ ...first, name: `flatten_${i}` }));
        break;
      case 'globalAveragePooling2d':
        model.add(layers.layers.globalAveragePooling2d({ ...first, name: `globalAveragePooling2d_${i}` }));
        break;
    }
    first = {};
  });
  return model;
}

function modelParamCount(model: tfl.LayersModel): number {
  let n = 0;
  for (const w of model.weights) n += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
  return n;
}

/**
 * Loads a flat weight vector (layout of {@link weightLayout}) into the model's variables.
 * @throws InputError `TESSERA_INPUT_WEIGHTS_SHAPE` when the length differs from the model's parameter count.
 */
export function setFlatWeights(model: tfl.LayersModel, weights: Float32Array): void {
  const expected = modelParamCount(model);
  if (weights.length !== expected) {
    throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `weights have ${weights.length} values, model has ${expected}`, {
      values: weights.length,
      expectedParams: expected,
    });
  }
  const tensors: tf.Tensor[] = [];
  let offset = 0;
  for (const w of model.weights) {
    const shape = w.shape.map((d) => d ?? 1);
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.push(tf.tensor(weights.subarray(offset, offset + size), shape, 'float32'));
    offset += size;
  }
  try {
    model.setWeights(tensors);
  } finally {
    // Variables take their own reference on assign, so ours can go.
    tf.dispose(tensors);
  }
}

/** Reads the model's variables into one flat vector in {@link weightLayout} order. */
export function getFlatWeights(model: tfl.LayersModel): Float32Array {
  const out = new Float32Array(modelParamCount(model));
  let offset = 0;
  for (const w of model.weights) {
    const values = w.read().dataSync();
    out.set(values, offset);
    offset += values.length;
  }
  return out;
}
