import { describe, expect, it } from 'vitest';
import { poolEvaluations, weightedMetrics } from '../../../coordinator/src/rounds/evaluation.js';
import { aucFromHistograms, ROC_BINS } from '../../../shared/src/ml/metrics.js';

/** A site's metrics map with its score histograms (`roc.pos.<bin>` / `roc.neg.<bin>`). */
function histogram(pos: Record<number, number>, neg: Record<number, number>, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [bin, n] of Object.entries(pos)) out[`${prefix}roc.pos.${bin}`] = n;
  for (const [bin, n] of Object.entries(neg)) out[`${prefix}roc.neg.${bin}`] = n;
  return out;
}

describe('pooling federated evaluations (pure)', () => {
  it('weights loss and accuracy by examples', () => {
    expect(weightedMetrics([{ n: 10, loss: 1, accuracy: 0.5 }, { n: 30, loss: 2, accuracy: 1 }])).toEqual({ loss: 1.75, accuracy: 0.875, numExamples: 40 });
    expect(weightedMetrics([])).toBeNull();
  });

  it('pools AUC from summed histograms, equal to the AUC of all examples together', () => {
    const a = histogram({ 900: 3, 400: 1 }, { 100: 4, 600: 2 });
    const b = histogram({ 800: 2 }, { 200: 3, 850: 1 });
    const pooled = poolEvaluations([
      { n: 10, loss: 0.5, accuracy: 0.7, metrics: { loss: 0.5, ...a } },
      { n: 6, loss: 0.3, accuracy: 0.9, metrics: b },
    ]);
    const pos = new Float64Array(ROC_BINS);
    const neg = new Float64Array(ROC_BINS);
    pos[900] = 3; pos[400] = 1; pos[800] = 2;
    neg[100] = 4; neg[600] = 2; neg[200] = 3; neg[850] = 1;
    expect(pooled?.auc).toBeCloseTo(aucFromHistograms(pos, neg), 12);
    expect(pooled?.numExamples).toBe(16);
    expect(pooled?.valAuc).toBeUndefined();
  });

  it('leaves AUC out when a site sent no histogram or the histograms do not cover every example', () => {
    const a = histogram({ 900: 3 }, { 100: 3 });
    expect(poolEvaluations([{ n: 6, loss: 1, accuracy: 1, metrics: a }, { n: 4, loss: 1, accuracy: 1, metrics: {} }])?.auc).toBeUndefined();
    // 6 counted, 7 claimed.
    expect(poolEvaluations([{ n: 7, loss: 1, accuracy: 1, metrics: a }])?.auc).toBeUndefined();
    // A malformed bin voids that site's histogram.
    expect(poolEvaluations([{ n: 6, loss: 1, accuracy: 1, metrics: { ...a, 'roc.pos.5000': 1 } }])?.auc).toBeUndefined();
  });

  it('pools the validation AUC only when every site reports a validation split covering its examples', () => {
    const test = histogram({ 900: 2 }, { 100: 2 });
    const val = { ...histogram({ 700: 1 }, { 300: 1 }, 'val.'), 'val.examples': 2 };
    const both = poolEvaluations([
      { n: 4, loss: 1, accuracy: 1, metrics: { ...test, ...val } },
      { n: 4, loss: 1, accuracy: 1, metrics: { ...test, ...val } },
    ]);
    expect(both).toMatchObject({ auc: 1, valAuc: 1, valExamples: 4 });
    const one = poolEvaluations([
      { n: 4, loss: 1, accuracy: 1, metrics: { ...test, ...val } },
      { n: 4, loss: 1, accuracy: 1, metrics: test },
    ]);
    expect(one?.auc).toBe(1);
    expect(one?.valAuc).toBeUndefined();
  });
});
