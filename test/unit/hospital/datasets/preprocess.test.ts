import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/src/errors.js';
import { stratifiedSplit, zNormalize, type TabularSplit } from '../../../../site-agent/src/hospital/datasets/index.js';

function makeLabels(positives: number, negatives: number): Float32Array {
  return Float32Array.from([...Array<number>(positives).fill(1), ...Array<number>(negatives).fill(0)]);
}

const positivesIn = (labels: Float32Array, idx: number[]): number => idx.filter((i) => labels[i] === 1).length;

describe('stratifiedSplit', () => {
  it('keeps the class ratio in both parts and covers every row exactly once', () => {
    // Arrange
    const labels = makeLabels(139, 164);
    // Act
    const { trainIdx, testIdx } = stratifiedSplit(labels, 0.34, 42);
    // Assert
    expect([...trainIdx, ...testIdx].sort((a, b) => a - b)).toEqual(Array.from({ length: 303 }, (_, i) => i));
    expect(testIdx).toHaveLength(104); // 303 − floor(0.66 · 303), FLamby's rule
    const testPos = positivesIn(labels, testIdx);
    expect(Math.abs(testPos - 139 * 0.34)).toBeLessThanOrEqual(1);
    expect(Math.abs(testIdx.length - testPos - 164 * 0.34)).toBeLessThanOrEqual(1);
    expect(positivesIn(labels, trainIdx) / trainIdx.length).toBeCloseTo(139 / 303, 1);
  });

  it('is deterministic for a seed and changes with the seed', () => {
    // Arrange
    const labels = makeLabels(40, 60);
    // Act
    const a = stratifiedSplit(labels, 0.3, 7);
    const b = stratifiedSplit(labels, 0.3, 7);
    const c = stratifiedSplit(labels, 0.3, 8);
    // Assert
    expect(b).toEqual(a);
    expect(c.testIdx).not.toEqual(a.testIdx);
    expect(a.testIdx).toHaveLength(30);
    expect(positivesIn(labels, a.testIdx)).toBe(12);
  });

  it('gives an exact 0.66·n train share without float trouble', () => {
    // 0.66 · 50 is 32.99999… in binary; train must still be 33.
    expect(stratifiedSplit(makeLabels(25, 25), 0.34, 1).trainIdx).toHaveLength(33);
  });

  it.each([-0.1, 1, Number.NaN])('refuses testFraction %s', (f) => {
    expect(() => stratifiedSplit(makeLabels(2, 2), f, 1)).toThrow(ConfigError);
  });
});

describe('zNormalize', () => {
  it('fits on train only, applies to both, and leaves constant features unscaled', () => {
    // Arrange: feature 0 has mean 2, std 1 on train; feature 1 is constant.
    const train: TabularSplit = { x: Float32Array.from([1, 5, 3, 5]), y: Float32Array.from([0, 1]), n: 2, d: 2 };
    const test: TabularSplit = { x: Float32Array.from([4, 6]), y: Float32Array.from([1]), n: 1, d: 2 };
    // Act
    const out = zNormalize(train, test);
    // Assert
    expect(out.normalization).toEqual({ mean: [2, 5], std: [1, 1] });
    expect([...out.train.x]).toEqual([-1, 0, 1, 0]);
    expect([...out.test.x]).toEqual([2, 1]);
    expect([...train.x]).toEqual([1, 5, 3, 5]);
  });
});
