import { describe, expect, it } from 'vitest';
import { ConfigError, TesseraError } from '../../../shared/src/errors.js';
import {
  getModelSpec,
  layerShapes,
  modelSpecHash,
  modelSpecNames,
  validateModelSpec,
  type ModelSpec,
} from '../../../shared/src/ml/index.js';

const base = (): ModelSpec => ({
  name: 'mlp-test',
  description: 'test',
  layers: [
    { type: 'dense', units: 8, activation: 'relu' },
    { type: 'dropout', rate: 0.2 },
    { type: 'dense', units: 1, activation: 'sigmoid' },
  ],
  loss: 'binary-crossentropy',
});

function fieldOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return String((err as ConfigError).context['field']);
  }
  throw new Error('expected a ConfigError');
}

describe('validateModelSpec', () => {
  it('accepts a valid spec and the registry specs', () => {
    expect(() => validateModelSpec(base())).not.toThrow();
    for (const name of modelSpecNames()) expect(() => validateModelSpec(getModelSpec(name))).not.toThrow();
  });

  it.each([
    ['units 0', (s: ModelSpec) => (s.layers[0] = { type: 'dense', units: 0, activation: 'relu' }), 'layers[0].units'],
    ['units 4097', (s: ModelSpec) => (s.layers[0] = { type: 'dense', units: 4097, activation: 'relu' }), 'layers[0].units'],
    ['units 1.5', (s: ModelSpec) => (s.layers[0] = { type: 'dense', units: 1.5, activation: 'relu' }), 'layers[0].units'],
    ['dropout 1', (s: ModelSpec) => (s.layers[1] = { type: 'dropout', rate: 1 }), 'layers[1].rate'],
    ['last relu', (s: ModelSpec) => (s.layers[2] = { type: 'dense', units: 1, activation: 'relu' }), 'layers[2]'],
    ['last softmax under binary-crossentropy', (s: ModelSpec) => (s.layers[2] = { type: 'dense', units: 2, activation: 'softmax' }), 'layers[2]'],
    ['softmax under categorical-crossentropy with 1 unit', (s: ModelSpec) => ((s.loss = 'categorical-crossentropy'), (s.layers[2] = { type: 'dense', units: 1, activation: 'softmax' })), 'layers[2]'],
    ['softmax before the last layer', (s: ModelSpec) => ((s.loss = 'categorical-crossentropy'), (s.layers[0] = { type: 'dense', units: 4, activation: 'softmax' }), (s.layers[2] = { type: 'dense', units: 3, activation: 'softmax' })), 'layers[0].activation'],
    ['no layers', (s: ModelSpec) => (s.layers = []), 'layers'],
    ['17 layers', (s: ModelSpec) => s.layers.unshift(...Array.from({ length: 15 }, () => s.layers[0]!)), 'layers'],
    ['negative l2', (s: ModelSpec) => (s.l2 = -1), 'l2'],
    ['bad name', (s: ModelSpec) => (s.name = 'Bad Name'), 'name'],
  ])('rejects %s, naming the field', (_label, mutate, field) => {
    const spec = base();
    mutate(spec);
    expect(fieldOf(() => validateModelSpec(spec))).toBe(field);
  });

  it.each([
    ['conv without inputShape', { layers: [{ type: 'conv2d', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }] }, 'layers[0]'],
    ['dense on an image', { inputShape: [4, 4, 1], layers: [] }, 'layers[0]'],
    ['window larger than image', { inputShape: [2, 2, 1], layers: [{ type: 'conv2d', filters: 2, kernelSize: 3, padding: 'valid', activation: 'relu' }, { type: 'flatten' }] }, 'layers[0]'],
    ['kernel 0', { inputShape: [4, 4, 1], layers: [{ type: 'conv2d', filters: 2, kernelSize: 0, padding: 'same', activation: 'relu' }, { type: 'flatten' }] }, 'layers[0].kernelSize'],
    ['bad padding', { inputShape: [4, 4, 1], layers: [{ type: 'maxPooling2d', poolSize: 2, padding: 'full' }, { type: 'flatten' }] }, 'layers[0].padding'],
    ['inputShape rank 2', { inputShape: [4, 4], layers: [{ type: 'flatten' }] }, 'inputShape'],
    ['flatten twice', { inputShape: [4, 4, 1], layers: [{ type: 'flatten' }, { type: 'flatten' }] }, 'layers[1]'],
  ])('rejects image spec: %s', (_label, patch, field) => {
    const spec = { ...base(), ...patch, layers: [...(patch.layers as unknown[]), { type: 'dense', units: 1, activation: 'sigmoid' }] };
    expect(fieldOf(() => validateModelSpec(spec))).toBe(field);
  });

  it('accepts cnn-small with 28×28×1 input', () => {
    const spec = getModelSpec('cnn-small');
    expect(spec.inputShape).toEqual([28, 28, 1]);
    expect(layerShapes(spec, 784).at(-1)).toEqual([1]);
    expect(layerShapes(spec, 784)[5]).toEqual([3, 3, 32]);
    expect(layerShapes(spec, 784)[6]).toEqual([288]);
  });

  it('rejects unknown keys and unknown layer types', () => {
    expect(fieldOf(() => validateModelSpec({ ...base(), code: 'x' }))).toBe('code');
    const spec = { ...base(), layers: [{ type: 'lambda', fn: 'x' }] };
    expect(fieldOf(() => validateModelSpec(spec))).toBe('layers[0].type');
  });
});

describe('registry', () => {
  it('has logreg (single dense sigmoid) and mlp-small', () => {
    expect(getModelSpec('logreg').layers).toEqual([{ type: 'dense', units: 1, activation: 'sigmoid' }]);
    expect(getModelSpec('mlp-small').layers.map((l) => l.type)).toEqual(['dense', 'dense']);
    expect(Object.isFrozen(getModelSpec('logreg').layers[0])).toBe(true);
  });

  it('throws TESSERA_MODEL_UNKNOWN for an unknown name', () => {
    expect(() => getModelSpec('resnet-9000')).toThrow(TesseraError);
    try {
      getModelSpec('resnet-9000');
    } catch (err) {
      expect((err as TesseraError).code).toBe('TESSERA_MODEL_UNKNOWN');
    }
  });
});

describe('modelSpecHash', () => {
  it('is key-order independent and sensitive to content', () => {
    const a = base();
    const reordered = JSON.parse(
      '{"loss":"binary-crossentropy","layers":[{"activation":"relu","units":8,"type":"dense"},{"rate":0.2,"type":"dropout"},{"units":1,"type":"dense","activation":"sigmoid"}],"description":"test","name":"mlp-test"}',
    ) as ModelSpec;
    expect(modelSpecHash(reordered)).toBe(modelSpecHash(a));
    expect(modelSpecHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(modelSpecHash({ ...a, l2: 0.01 })).not.toBe(modelSpecHash(a));
  });
});
