import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Tensor, io } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../shared/src/errors.js';
import {
  buildModel,
  encodeWeights,
  exportTfjsModel,
  getFlatWeights,
  getModelSpec,
  initialWeights,
  selectBackend,
  setFlatWeights,
  weightLayout,
  type ModelSpec,
  type TfCore,
} from '../../../shared/src/ml/index.js';
import { captureLogger } from './helpers.js';

let tf: TfCore;
let dir: string;

beforeAll(async () => {
  ({ tf } = await selectBackend({ prefer: 'wasm', logger: captureLogger().logger }));
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-export-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const withDropout: ModelSpec = {
  name: 'mlp-dropout',
  description: 'test',
  layers: [
    { type: 'dense', units: 5, activation: 'tanh' },
    { type: 'dropout', rate: 0.5 },
    { type: 'dense', units: 3, activation: 'relu' },
    { type: 'dense', units: 1, activation: 'sigmoid' },
  ],
  loss: 'binary-crossentropy',
};

const tinyCnn: ModelSpec = {
  name: 'cnn-tiny',
  description: 'test',
  inputShape: [9, 7, 2],
  layers: [
    { type: 'conv2d', filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
    { type: 'averagePooling2d', poolSize: 2, strides: 1 },
    { type: 'conv2d', filters: 4, kernelSize: 2, padding: 'valid', activation: 'tanh' },
    { type: 'globalAveragePooling2d' },
    { type: 'dense', units: 1, activation: 'sigmoid' },
  ],
  loss: 'binary-crossentropy',
};

describe('buildModel + flat weights (images)', () => {
  it.each([
    [getModelSpec('cnn-small'), 28 * 28],
    [tinyCnn, 9 * 7 * 2],
  ])('matches weightLayout for $name and predicts on flat rows', (spec, inputDim) => {
    const model = buildModel(tfl, spec, inputDim);
    const layout = weightLayout(spec, inputDim);
    expect(model.weights.map((w) => w.shape)).toEqual(layout.map((e) => e.shape));
    expect(model.weights.map((w) => w.originalName)).toEqual(layout.map((e) => e.name));
    const w = initialWeights(spec, inputDim, 1);
    setFlatWeights(model, w);
    expect(getFlatWeights(model)).toEqual(w);
    const x = tf.randomUniform([3, inputDim], 0, 1, 'float32', 2);
    const y = model.predict(x) as Tensor;
    expect(y.shape).toEqual([3, 1]);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('computes conv output against a hand calculation (flat rows are row-major HWC)', () => {
    const spec: ModelSpec = {
      name: 'cnn-hand',
      description: 'test',
      inputShape: [2, 2, 1],
      layers: [
        { type: 'conv2d', filters: 1, kernelSize: 2, padding: 'valid', activation: 'linear' },
        { type: 'flatten' },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binary-crossentropy',
    };
    const model = buildModel(tfl, spec, 4);
    // conv kernel [2,2,1,1] = 1,2,3,4, bias 0.5; dense kernel 1, bias 0
    setFlatWeights(model, new Float32Array([1, 2, 3, 4, 0.5, 1, 0]));
    const x = tf.tensor2d([[1, 0, 0, 1]]); // pixels (0,0)=1 and (1,1)=1
    const y = model.predict(x) as Tensor;
    expect(y.dataSync()[0]).toBeCloseTo(1 / (1 + Math.exp(-(1 + 4 + 0.5))), 5);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('rejects an inputDim that does not match inputShape', () => {
    expect(() => weightLayout(getModelSpec('cnn-small'), 100)).toThrow(/inputDim' must be 784/);
  });
});

describe('buildModel + flat weights', () => {
  it.each([getModelSpec('logreg'), getModelSpec('mlp-small'), withDropout])(
    'matches weightLayout for $name and round-trips flat weights',
    (spec) => {
      const model = buildModel(tfl, spec, 7);
      const layout = weightLayout(spec, 7);
      expect(model.weights.map((w) => w.shape)).toEqual(layout.map((e) => e.shape));
      expect(model.weights.map((w) => w.originalName)).toEqual(layout.map((e) => e.name));
      const w = initialWeights(spec, 7, 1);
      for (let i = 0; i < w.length; i++) w[i] = (w[i] ?? 0) + i * 1e-3; // biases non-zero too
      setFlatWeights(model, w);
      expect(getFlatWeights(model)).toEqual(w);
      model.dispose();
    },
  );

  it('puts each flat slice in the right variable (kernel [in,out] row-major, then bias)', () => {
    const spec = getModelSpec('logreg');
    const model = buildModel(tfl, spec, 3);
    setFlatWeights(model, new Float32Array([1, 2, 3, 0.5]));
    // logit = 1·x0 + 2·x1 + 3·x2 + 0.5
    const x = tf.tensor2d([[1, 0, 0], [0, 1, 1]]);
    const y = model.predict(x) as Tensor;
    const expected = [1.5, 5.5].map((z) => 1 / (1 + Math.exp(-z)));
    const got = Array.from(y.dataSync());
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    tf.dispose([x, y]);
    model.dispose();
  });

  it('rejects a wrong-length vector', () => {
    const model = buildModel(tfl, getModelSpec('logreg'), 3);
    expect(() => setFlatWeights(model, new Float32Array(3))).toThrow(InputError);
    model.dispose();
  });
});

describe('exportTfjsModel', () => {
  it('writes model.json + weights.bin that load back and predict the same', async () => {
    const spec = getModelSpec('mlp-small');
    const weights = initialWeights(spec, 4, 7);
    const res = await exportTfjsModel({ spec, inputDim: 4, weights, outDir: dir, logger: captureLogger().logger });
    const json = JSON.parse(await readFile(res.modelJsonPath, 'utf8')) as {
      format: string;
      weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[];
      modelTopology: object;
      userDefinedMetadata: { tessera: { spec: string } };
    };
    const bin = await readFile(res.weightsBinPath);
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0]!.paths).toEqual(['weights.bin']);
    expect(json.userDefinedMetadata.tessera.spec).toBe('mlp-small');
    // Byte-level: weights.bin is exactly the little-endian flat vector.
    expect(Buffer.compare(bin, encodeWeights(weights))).toBe(0);
    expect(res.weightsBinSha256).toMatch(/^[0-9a-f]{64}$/);

    const loaded = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0]!.weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    );
    const ref = buildModel(tfl, spec, 4);
    setFlatWeights(ref, weights);
    const x = tf.randomUniform([6, 4], -2, 2, 'float32', 3);
    const a = loaded.predict(x) as Tensor;
    const b = ref.predict(x) as Tensor;
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, a, b]);
    loaded.dispose();
    ref.dispose();
  });
});
