import { describe, expect, it } from 'vitest';
import { binomialTail, degreeForCollusion, dropoutFailureBound, exposureBound, majorityThreshold } from '../../../shared/src/secagg/security.js';

describe('SecAgg+ degree and security bounds', () => {
  it('binomial tails agree with a direct sum of exact probabilities', () => {
    // P[Bin(10, 0.3) ≥ 4] by hand: 1 − Σ_{i<4} C(10,i) 0.3^i 0.7^(10−i)
    const c = [1, 10, 45, 120];
    const below = c.reduce((s, ci, i) => s + ci * 0.3 ** i * 0.7 ** (10 - i), 0);
    expect(binomialTail(10, 0.3, 4)).toBeCloseTo(1 - below, 12);
    expect(binomialTail(10, 0.3, 0)).toBe(1);
    expect(binomialTail(10, 0.3, 11)).toBe(0);
    expect(binomialTail(10, 0, 1)).toBe(0);
  });

  it('gives the figures of the secure-aggregation explanation (n = 100, k = 20, t = 11)', () => {
    const t = majorityThreshold(100, 20);
    expect(t).toBe(11);
    expect(exposureBound({ n: 100, k: 20, t, gamma: 0.05 })).toBeCloseTo(5.4e-8, 9);
    expect(exposureBound({ n: 100, k: 20, t, gamma: 0.1 })).toBeCloseTo(7.1e-5, 6);
    expect(dropoutFailureBound({ n: 100, k: 20, t, delta: 0.1 })).toBeCloseTo(7.2e-4, 5);
    expect(dropoutFailureBound({ n: 100, k: 20, t, delta: 0.3 })).toBe(1);
  });

  it('picks the smallest even degree that reaches 2^-40 against a colluding fraction', () => {
    expect(degreeForCollusion(100, 0.1)).toBe(56);
    expect(degreeForCollusion(100, 0.05)).toBe(34);
    const k = degreeForCollusion(1000, 0.1);
    expect(exposureBound({ n: 1000, k, t: majorityThreshold(1000, k), gamma: 0.1 })).toBeLessThanOrEqual(2 ** -40);
    expect(exposureBound({ n: 1000, k: k - 2, t: majorityThreshold(1000, k - 2), gamma: 0.1 })).toBeGreaterThan(2 ** -40);
    // No degree below n − 1 reaches it: the complete graph.
    expect(degreeForCollusion(100, 0.3)).toBe(99);
    expect(() => degreeForCollusion(100, 0.5)).toThrow(/colluding fraction must be in \(0, 0.5\)/);
  });
});
