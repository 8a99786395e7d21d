import { describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../../shared/src/errors.js';
import { createRng } from '../../../shared/src/rng.js';
import {
  WeightedAccumulator,
  createStrategy,
  partitionUpdates,
  strategyTrainingOverrides,
  type ClientUpdate,
} from '../../../coordinator/src/strategies/index.js';

function randomVec(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function makeUpdates(n: number, counts: number[]): ClientUpdate[] {
  return counts.map((numExamples, i) => ({ weights: randomVec(n, 100 + i), numExamples, siteId: `site-${i}` }));
}

/** Independent float64 reference: Σ nᵢ xᵢ / Σ nᵢ element by element. */
function referenceMean(updates: ClientUpdate[]): number[] {
  const total = updates.reduce((s, u) => s + u.numExamples, 0);
  return Array.from({ length: updates[0]!.weights.length }, (_, i) =>
    updates.reduce((s, u) => s + u.numExamples * u.weights[i]!, 0) / total,
  );
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).code;
  }
  throw new Error('expected an InputError');
}

describe('FedAvg', () => {
  it.each([1, 2, 3, 4, 5, 9])('equals the independently computed weighted mean for %i sites', (k) => {
    // Arrange
    const updates = makeUpdates(257, Array.from({ length: k }, (_, i) => 10 + 7 * i));
    const global = new Float32Array(257);
    // Act
    const out = createStrategy('fedavg').aggregate(global, updates);
    // Assert: one float32 rounding of the float64 result
    const ref = referenceMean(updates);
    ref.forEach((r, i) => expect(out[i]).toBe(Math.fround(r)));
  });

  it('leaves inputs untouched and counts rounds in its state', () => {
    const updates = makeUpdates(8, [3, 5]);
    const copies = updates.map((u) => u.weights.slice());
    const global = randomVec(8, 1);
    const globalCopy = global.slice();
    const s = createStrategy('fedprox');
    s.aggregate(global, updates);
    s.aggregate(global, updates);
    expect(global).toEqual(globalCopy);
    updates.forEach((u, i) => expect(u.weights).toEqual(copies[i]));
    expect(s.state()).toEqual({ t: 2 });
    const restored = createStrategy('fedprox');
    restored.restore(s.state());
    expect(restored.state()).toEqual({ t: 2 });
    expect(s.name).toBe('fedprox');
  });

  it('rejects bad updates with InputError before aggregating', () => {
    const global = new Float32Array(4);
    const good = { weights: new Float32Array(4), numExamples: 1, siteId: 'a' };
    const s = createStrategy('fedavg');
    expect(codeOf(() => s.aggregate(global, [good, { ...good, weights: new Float32Array(5) }]))).toBe(
      'TESSERA_INPUT_WEIGHTS_SHAPE',
    );
    expect(codeOf(() => s.aggregate(global, [good, { ...good, weights: new Float32Array([0, NaN, 0, 0]) }]))).toBe(
      'TESSERA_INPUT_WEIGHTS_NONFINITE',
    );
    expect(codeOf(() => s.aggregate(global, [{ ...good, numExamples: 0 }]))).toBe('TESSERA_INPUT_NUM_EXAMPLES');
    expect(codeOf(() => s.aggregate(global, []))).toBe('TESSERA_INPUT_UPDATES_EMPTY');
    expect(s.state().t).toBe(0);
  });

  it('partitions updates so the coordinator can drop bad sites', () => {
    const global = new Float32Array(2);
    const { valid, rejected } = partitionUpdates(global, [
      { weights: new Float32Array(2), numExamples: 3, siteId: 'ok' },
      { weights: new Float32Array([Infinity, 0]), numExamples: 3, siteId: 'bad' },
      { weights: new Float32Array(2), numExamples: -1, siteId: 'neg' },
    ]);
    expect(valid.map((u) => u.siteId)).toEqual(['ok']);
    expect(rejected.map((r) => [r.siteId, r.error.code, r.error.context['siteId']])).toEqual([
      ['bad', 'TESSERA_INPUT_WEIGHTS_NONFINITE', 'bad'],
      ['neg', 'TESSERA_INPUT_NUM_EXAMPLES', 'neg'],
    ]);
  });
});

describe('strategy options', () => {
  it('gives FedProx μ = 0.01 by default and 0 to the others', () => {
    expect(strategyTrainingOverrides('fedprox')).toEqual({ proximalMu: 0.01 });
    expect(strategyTrainingOverrides('fedprox', { proximalMu: 0.5 })).toEqual({ proximalMu: 0.5 });
    expect(strategyTrainingOverrides('fedavg', { proximalMu: 0.5 })).toEqual({ proximalMu: 0 });
    expect(strategyTrainingOverrides('fedadam')).toEqual({ proximalMu: 0 });
    expect(() => strategyTrainingOverrides('fedprox', { proximalMu: -1 })).toThrow(ConfigError);
  });

  it('rejects unknown names and out-of-range hyper-parameters', () => {
    expect(() => createStrategy('fedsgd' as 'fedavg')).toThrow(ConfigError);
    expect(() => createStrategy('fedadam', { beta1: 1 })).toThrow(/fedadam.beta1/);
    expect(() => createStrategy('fedyogi', { tau: 0 })).toThrow(ConfigError);
  });
});

describe('WeightedAccumulator', () => {
  it('aggregates 4 sites × 1e6 params exactly (speed is measured by `npm run bench -- aggregation`, not here)', () => {
    const n = 1_000_000;
    const updates = [0, 1, 2, 3].map((i) => randomVec(n, i));
    const acc = new WeightedAccumulator(n);
    updates.forEach((u, i) => acc.add(u, i + 1));
    const out = acc.mean();
    for (const k of [0, 12345, n - 1]) {
      expect(out[k]).toBeCloseTo((updates[0]![k]! + 2 * updates[1]![k]! + 3 * updates[2]![k]! + 4 * updates[3]![k]!) / 10, 5);
    }
  });

  it('rejects a wrong length and a non-positive weight', () => {
    const acc = new WeightedAccumulator(3);
    expect(() => acc.add(new Float32Array(2), 1)).toThrow(InputError);
    expect(() => acc.add(new Float32Array(3), 0)).toThrow(RangeError);
    expect(() => acc.mean()).toThrow(RangeError);
  });
});

describe('isAllFinite', () => {
  it('spots NaN, ±Infinity and keeps every finite float32 (including extremes, subnormals, -0)', async () => {
    const { isAllFinite } = await import('../../../coordinator/src/strategies/fedavg.js');
    const finite = new Float32Array([0, -0, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45]);
    expect(isAllFinite(finite)).toBe(true);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 3, 7]) {
        const v = finite.slice();
        v[at] = bad;
        expect(isAllFinite(v)).toBe(false);
        // A view that excludes the bad element is finite.
        expect(isAllFinite(v.subarray(at + 1))).toBe(true);
      }
    }
    const big = new Float32Array(100_001).fill(0.5);
    big[100_000] = NaN;
    expect(isAllFinite(big)).toBe(false);
    expect(isAllFinite(big.subarray(0, 100_000))).toBe(true);
  });

  it('names the site when a NaN hides among many finite updates', () => {
    const n = 1000;
    const updates = Array.from({ length: 9 }, (_, i) => ({
      weights: new Float32Array(n).fill(i),
      numExamples: i + 1,
      siteId: `s${i}`,
    }));
    const bad = updates[6];
    if (bad) bad.weights[517] = NaN;
    expect(() => createStrategy('fedavg').aggregate(new Float32Array(n), updates)).toThrow(/s6.*517|517.*s6/);
  });
});
