/**
 * Radiology model pieces without training: multi-class and multi-label heads and their metrics, the
 * residual network's layout, batch-normalisation weights and the FedBN split of the exchanged vector.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import {
  balancedAccuracy,
  buildModel,
  exchangedLayout,
  getFlatWeights,
  getModelSpec,
  headOf,
  initialExchangedWeights,
  initialWeights,
  macroAuc,
  mergeExchanged,
  multiClassAccuracy,
  perClassAuc,
  resolveInputShape,
  rocAuc,
  setFlatWeights,
  splitExchanged,
  totalParams,
  validateModelSpec,
  weightLayout,
  type ModelSpec,
} from '../../../shared/src/ml/index.js';

describe('metrics of multi-output heads', () => {
  it('per-class AUC is one-vs-rest rocAuc, macro AUC their mean over defined classes', () => {
    // Arrange: 4 rows × 3 classes; class 2 never positive.
    const scores = [0.9, 0.1, 0.0, 0.2, 0.7, 0.1, 0.6, 0.3, 0.1, 0.1, 0.8, 0.1];
    const labels = [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0];
    // Act
    const per = perClassAuc(scores, labels, 3);
    // Assert
    expect(per[0]).toBeCloseTo(rocAuc([0.9, 0.2, 0.6, 0.1], [1, 0, 0, 0]), 12);
    expect(per[1]).toBeCloseTo(rocAuc([0.1, 0.7, 0.3, 0.8], [0, 1, 1, 1]), 12);
    expect(per[2]).toBeNaN();
    expect(macroAuc(per)).toBeCloseTo(((per[0] as number) + (per[1] as number)) / 2, 12);
  });

  it('balanced accuracy is the mean recall over the classes present (scikit-learn / FLamby Fed-ISIC2019)', () => {
    // True classes 0 0 1 1 2 2; predicted 0 1 1 1 2 0: recalls 1/2, 1, 1/2 → 2/3; plain accuracy 4/6.
    const oneHot = (cs: number[]): number[] => cs.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0)));
    const truth = oneHot([0, 0, 1, 1, 2, 2]);
    const pred = oneHot([0, 1, 1, 1, 2, 0]).map((v) => (v === 1 ? 0.8 : 0.1));
    expect(balancedAccuracy(pred, truth, 3)).toBeCloseTo(2 / 3, 12);
    expect(multiClassAccuracy(pred, truth, 3)).toBeCloseTo(4 / 6, 12);
  });
});

describe('heads and the residual network in the registry', () => {
  it('names binary, multi-class and multi-label heads', () => {
    expect(headOf(getModelSpec('resnet-small'))).toEqual({ kind: 'binary', outputs: 1 });
    expect(headOf(getModelSpec('resnet-small-multiclass-8'))).toEqual({ kind: 'multi-class', outputs: 8 });
    expect(headOf(getModelSpec('resnet-small-multilabel-14'))).toEqual({ kind: 'multi-label', outputs: 14 });
    expect(headOf(getModelSpec('logreg'))).toEqual({ kind: 'binary', outputs: 1 });
  });

  it('takes any square input of 64–224 px with the same parameters, and refuses others naming inputDim', () => {
    const spec = getModelSpec('resnet-small');
    for (const side of [64, 128, 224]) {
      expect(resolveInputShape(spec, side * side).inputShape).toEqual([side, side, 1]);
      expect(totalParams(weightLayout(spec, side * side))).toBe(77_857);
    }
    expect(() => weightLayout(spec, 32 * 32)).toThrow("'inputDim'");
    expect(() => weightLayout(spec, 128 * 127)).toThrow("'inputDim'");
    expect(resolveInputShape(getModelSpec('resnet-small-multiclass-8'), 96 * 96 * 3).inputShape).toEqual([96, 96, 3]);
  });

  it('lays out trainable weights first and marks batch-normalisation weights', () => {
    const layout = weightLayout(getModelSpec('resnet-small'), 128 * 128);
    const firstStat = layout.findIndex((e) => !e.trainable);
    expect(layout.slice(firstStat).every((e) => !e.trainable && (e.role === 'moving_mean' || e.role === 'moving_variance'))).toBe(true);
    expect(layout.filter((e) => e.normalization).every((e) => ['gamma', 'beta', 'moving_mean', 'moving_variance'].includes(e.role))).toBe(true);
    // The 16→32 block with stride 2 has a projection; the 16→16 block has none.
    expect(layout.some((e) => e.name === 'residualBlock_5_proj/kernel')).toBe(true);
    expect(layout.some((e) => e.name === 'residualBlock_4_proj/kernel')).toBe(false);
    expect(layout.find((e) => e.name === 'residualBlock_5_conv_a/kernel')?.shape).toEqual([3, 3, 16, 32]);
  });

  it('refuses residual blocks without an image, exclusive input declarations and bad strides, naming the field', () => {
    const base = (): ModelSpec => structuredClone<ModelSpec>(getModelSpec('resnet-small'));
    const noImage = base();
    delete noImage.imageInput;
    expect(() => validateModelSpec(noImage)).toThrow("'layers[0]'");
    const both = { ...base(), inputShape: [64, 64, 1] };
    expect(() => validateModelSpec(both)).toThrow("'imageInput'");
    const stride = base();
    stride.layers[4] = { type: 'residualBlock', filters: 16, strides: 3 as 2 };
    expect(() => validateModelSpec(stride)).toThrow("'layers[4].strides'");
  });

  it('builds a model whose variables are the layout entries by name, whatever order TF.js lists them in', () => {
    const spec = getModelSpec('resnet-small');
    const model = buildModel(tfl, spec, 64 * 64);
    const layout = weightLayout(spec, 64 * 64);
    expect(new Set(model.weights.map((w) => w.originalName))).toEqual(new Set(layout.map((e) => e.name)));
    const w = initialWeights(spec, 64 * 64, 7);
    setFlatWeights(model, w);
    expect(Buffer.from(getFlatWeights(model).buffer).equals(Buffer.from(w.buffer))).toBe(true);
    // gamma starts at 1, moving variance at 1, beta and moving mean at 0.
    let at = 0;
    for (const e of layout) {
      const part = Array.from(w.subarray(at, at + e.size));
      if (e.role === 'gamma' || e.role === 'moving_variance') expect(part.every((v) => v === 1)).toBe(true);
      if (e.role === 'beta' || e.role === 'moving_mean') expect(part.every((v) => v === 0)).toBe(true);
      at += e.size;
    }
    model.dispose();
  });
});

describe('FedBN: the exchanged vector leaves batch normalisation out, the same way on both sides', () => {
  const spec = getModelSpec('resnet-small');
  const layout = weightLayout(spec, 64 * 64);

  it('splits and merges back exactly; without FedBN everything is exchanged', () => {
    // Arrange
    const full = Float32Array.from({ length: totalParams(layout) }, (_, i) => i);
    // Act
    const { exchanged, local } = splitExchanged(full, layout, true);
    // Assert
    expect(exchanged.length).toBe(totalParams(exchangedLayout(layout, true)));
    expect(local.length).toBe(totalParams(layout.filter((e) => e.normalization)));
    expect(exchanged.length + local.length).toBe(full.length);
    expect(Array.from(mergeExchanged(exchanged, local, layout, true))).toEqual(Array.from(full));
    const plain = splitExchanged(full, layout, false);
    expect(plain.local.length).toBe(0);
    expect(Array.from(plain.exchanged)).toEqual(Array.from(full));
    // Every exchanged value is a kernel or bias value of the full vector, in layout order.
    let at = 0;
    const expected: number[] = [];
    for (const e of layout) {
      if (!e.normalization) expected.push(...Array.from(full.subarray(at, at + e.size)));
      at += e.size;
    }
    expect(Array.from(exchanged)).toEqual(expected);
  });

  it('the coordinator publishes the exchanged part of the seeded initial weights', () => {
    const published = initialExchangedWeights(spec, 64 * 64, 3, true);
    expect(Array.from(published)).toEqual(Array.from(splitExchanged(initialWeights(spec, 64 * 64, 3), layout, true).exchanged));
    expect(initialExchangedWeights(spec, 64 * 64, 3, false).length).toBe(totalParams(layout));
  });

  it('refuses parts of the wrong length with TESSERA_INPUT_WEIGHTS_SHAPE', () => {
    const { exchanged, local } = splitExchanged(initialWeights(spec, 64 * 64, 1), layout, true);
    expect(() => mergeExchanged(exchanged.subarray(1), local, layout, true)).toThrow(expect.objectContaining({ code: 'TESSERA_INPUT_WEIGHTS_SHAPE' }) as Error);
    expect(() => splitExchanged(exchanged, layout, true)).toThrow(expect.objectContaining({ code: 'TESSERA_INPUT_WEIGHTS_SHAPE' }) as Error);
  });
});
