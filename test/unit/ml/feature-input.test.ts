/**
 * Image models with a second input of EMR feature columns (`featureInput`): layout, build, the crop of
 * one flat row into pixels and features, augmentation that leaves the features alone, and training that
 * uses them.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { tensor2d, type Tensor } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { augmentImages } from '../../../shared/src/ml/augment.js';
import { buildModel, exportTfjsModel, getModelSpec, initialWeights, setFlatWeights, totalParams, validateModelSpec, weightLayout, type ModelSpec } from '../../../shared/src/ml/index.js';
import { createRng } from '../../../shared/src/rng.js';
import { validateConfig } from '../../../shared/src/config/validate.js';
import { checkStudyDataModel } from '../../../shared/src/study/study-checks.js';
import { checkStudyData, StudyDataSchema, type StudyData } from '../../../shared/src/study/study-data-spec.js';
import { Trainer } from '../../../site-agent/src/training/trainer.js';

describe('image models with an EMR feature input', () => {
  it('lays out the joined dense layer for the number of feature columns the rows carry', () => {
    // Arrange
    const cnn = getModelSpec('cnn-small-emr');
    // Act: 28×28 pixels + 5 features; flatten gives 7·7·16 = 784, joined to 789.
    const layout = weightLayout(cnn, 784 + 5);
    // Assert
    expect(layout.find((e) => e.name === 'dense_5/kernel')?.shape).toEqual([784 + 5, 32]);
    expect(totalParams(weightLayout(cnn, 784 + 6)) - totalParams(layout)).toBe(32);
    // resnet-small-emr: the image side is the largest square that fits, the rest are features.
    const resnet = getModelSpec('resnet-small-emr');
    expect(weightLayout(resnet, 64 * 64 + 7).find((e) => e.name.endsWith('/kernel') && e.shape[0] === 64 + 7)).toBeDefined();
    expect(weightLayout(resnet, 128 * 128 + 128).find((e) => e.shape[0] === 64 + 128)).toBeDefined();
  });

  it('refuses rows with no feature column or more than maxFeatures, and a feature input on a vector model', () => {
    expect(() => weightLayout(getModelSpec('cnn-small-emr'), 784)).toThrow(/leaves 0 feature column\(s\) after the image for model 'cnn-small-emr', which takes 1\.\.64/);
    expect(() => weightLayout(getModelSpec('cnn-small-emr'), 784 + 65)).toThrow(/leaves 65 feature column/);
    expect(() => weightLayout(getModelSpec('resnet-small-emr'), 100 * 100 + 150)).toThrow(/leaves 150 feature column/);
    // 64² + 129 is 65²: a 65 px image with no feature column.
    expect(() => weightLayout(getModelSpec('resnet-small-emr'), 64 * 64 + 129)).toThrow(/leaves 0 feature column/);
    const vector: ModelSpec = { name: 'v', description: '', layers: [{ type: 'dense', units: 1, activation: 'sigmoid' }], loss: 'binary-crossentropy', featureInput: { joinAt: 0, maxFeatures: 3 } };
    expect(() => validateModelSpec(vector)).toThrow(/'featureInput' needs an image input/);
    const early: ModelSpec = { ...getModelSpec('cnn-small-emr'), featureInput: { joinAt: 2, maxFeatures: 3 } };
    expect(() => validateModelSpec(structuredClone(early))).toThrow(/'layers\[2\]'/);
    const ambiguous: ModelSpec = { ...structuredClone(getModelSpec('resnet-small-emr')), featureInput: { joinAt: 8, maxFeatures: 129 } };
    expect(() => validateModelSpec(ambiguous)).toThrow(/'featureInput.maxFeatures' must be an integer in 1\.\.128/);
  });

  it('crops each flat row into the image and its features: the output moves with the features alone', () => {
    // Arrange: a built model with weights, and two rows with the same image and different features.
    const spec = getModelSpec('cnn-small-emr');
    const d = 784 + 3;
    const model = buildModel(tfl, spec, d);
    setFlatWeights(model, initialWeights(spec, d, 3));
    const rows = new Float32Array(2 * d);
    for (let k = 0; k < 784; k++) rows[k] = rows[d + k] = ((k * 37) % 100) / 100;
    rows.set([0, 0, 0], 784);
    rows.set([3, -2, 5], d + 784);
    // Act
    const y = (model.predict(tensor2d(rows, [2, d])) as Tensor).dataSync();
    // Assert
    expect(y[0]).not.toBeCloseTo(y[1] ?? 0, 4);
    expect(model.inputs).toHaveLength(1);
    expect(model.layers.map((l) => l.name)).toEqual(expect.arrayContaining(['input_pixels', 'input_features', 'join_features']));
    model.dispose();
  });

  it('exports as a standard TF.js layers model that loads back and predicts the same (no custom layer)', async () => {
    const spec = getModelSpec('cnn-small-emr');
    const d = 784 + 4;
    const weights = initialWeights(spec, d, 9);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-emr-export-'));
    try {
      const res = await exportTfjsModel({ spec, inputDim: d, weights, outDir: dir });
      const json = JSON.parse(await readFile(res.modelJsonPath, 'utf8')) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
      const bin = await readFile(res.weightsBinPath);
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]?.weights ?? [], weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }));
      const ref = buildModel(tfl, spec, d);
      setFlatWeights(ref, weights);
      const x = tf.randomUniform([3, d], -1, 1, 'float32', 4);
      const a = loaded.predict(x) as Tensor;
      const b = ref.predict(x) as Tensor;
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      tf.dispose([x, a, b]);
      loaded.dispose();
      ref.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('augments the image part of each row and leaves its feature columns as they are', () => {
    const shape: [number, number, number] = [4, 4, 1];
    const stride = 16 + 2;
    const x = new Float32Array(3 * stride).map((_, i) => (i % stride < 16 ? 0.5 : 7 + i));
    const before = Array.from({ length: 3 }, (_, r) => [...x.subarray(r * stride + 16, (r + 1) * stride)]);
    augmentImages(x, 3, shape, { flipHorizontal: true, maxShift: 2, intensityJitter: 0.3 }, createRng(1), stride);
    expect(Array.from({ length: 3 }, (_, r) => [...x.subarray(r * stride + 16, (r + 1) * stride)])).toEqual(before);
    expect([...x.subarray(0, 16)].some((v) => v !== 0.5)).toBe(true);
  });

  it('trains on images that carry no signal when the label is in a feature column', async () => {
    // Arrange: 96 rows of noise images; the label is the sign of feature 1 (feature 0 is noise).
    const spec = getModelSpec('cnn-small-emr');
    const d = 784 + 2;
    const rng = createRng(11);
    const n = 96;
    const x = new Float32Array(n * d);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 784; k++) x[i * d + k] = rng.next();
      const label = i % 2;
      x[i * d + 784] = rng.next() * 2 - 1;
      x[i * d + 785] = (label === 1 ? 1 : -1) * (0.5 + rng.next());
      y[i] = label;
    }
    const trainer = await Trainer.create({ spec, inputDim: d });
    const data = { x, y, n, d };
    // Act
    const before = trainer.evaluate(initialWeights(spec, d, 5), data);
    const fit = await trainer.fit(initialWeights(spec, d, 5), data, { epochs: 8, batchSize: 16, learningRate: 0.01, optimizer: 'adam', proximalMu: 0, seed: 1 });
    const after = trainer.evaluate(fit.weights, data);
    // Assert
    expect(before.accuracy).toBeLessThan(0.75);
    expect(after.accuracy).toBeGreaterThan(0.95);
    trainer.dispose();
  }, 60_000);
});

describe('an imaging study contract against its model', () => {
  const data = (features: Record<string, unknown>): StudyData =>
    validateConfig(
      StudyDataSchema,
      {
        kind: 'imaging',
        cohort: { imaging: { modality: ['CR'] } },
        index: { event: 'imaging-study' },
        features,
        label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '233604007' }] } },
        split: { test: 0.25 },
      },
      'test',
    );

  it('takes features through a feature input or a vector model, and names the field otherwise', () => {
    const withSex = data({ demographics: ['sex'] });
    expect(() => checkStudyDataModel(withSex, getModelSpec('cnn-small-emr'), 785, 'study s')).not.toThrow();
    expect(() => checkStudyDataModel(withSex, getModelSpec('logreg'), 257, 'study s')).not.toThrow();
    expect(() => checkStudyDataModel(withSex, getModelSpec('cnn-small'), 785, 'study s')).toThrow(/study s: 'data.features' declares 1 column\(s\), but model 'cnn-small' takes images only/);
    expect(() => checkStudyDataModel(data({}), getModelSpec('cnn-small-emr'), 785, 'study s')).toThrow(/model 'cnn-small-emr' has a feature input, but 'data.features' declares no column/);
    expect(() => checkStudyDataModel(withSex, getModelSpec('resnet-small-emr'), 64 * 64 + 3, 'study s')).toThrow(/'inputDim' 4099 leaves 3 feature column\(s\).*'data.features' makes 1 \(sex_female\)/);
    // A feature window that reaches past where the label window opens is refused for imaging studies too.
    expect(() => checkStudyData({ ...withSex, windows: { features: { lookbackDays: 10, lookaheadDays: 5 } } })).toThrow(/lets a feature come from after the event it predicts/);
  });
});
