import { describe, expect, it } from 'vitest';
import { selectModel } from '../../../cli/src/commands/demo.js';
import type { StudySummary } from '../../../coordinator/src/study-summary.js';

function round(n: number, auc: number, valAuc?: number): StudySummary['rounds'][number] {
  return {
    round: n,
    attempt: 1,
    durationMs: 1,
    metrics: { loss: 0.5, accuracy: 0.8, auc, ...(valAuc !== undefined ? { valAuc } : {}) },
    train: null,
    sites: 3,
    modelVersion: `model-${n}`,
    phases: {},
  };
}

const final = (auc: number): StudySummary['final'] => ({ modelVersion: 'model-last', meanClientAccuracy: 0.8, weightedAccuracy: 0.8, auc, perSite: {} });

describe('demo model selection', () => {
  it('reports the test AUC of the round with the best validation AUC, never looking at test', () => {
    // Round 2 has the best test AUC but not the best validation AUC: it must not be picked.
    const rounds = [round(1, 0.8, 0.7), round(2, 0.95, 0.8), round(3, 0.85, 0.9), round(4, 0.88, 0.9), round(5, 0.87, 0.85)];
    expect(selectModel({ rounds, final: final(0.87) })).toEqual({ auc: 0.88, selectedRound: 4, valAuc: 0.9, lastRoundAuc: 0.87, modelVersion: 'model-4' });
  });

  it('falls back to the last round when no round has a validation AUC', () => {
    const rounds = [round(1, 0.8), round(2, 0.9)];
    expect(selectModel({ rounds, final: final(0.9) })).toEqual({ auc: 0.9, selectedRound: 2, valAuc: null, lastRoundAuc: 0.9, modelVersion: 'model-last' });
  });
});
