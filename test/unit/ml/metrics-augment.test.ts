import { describe, expect, it } from 'vitest';
import { augmentImages } from '../../../shared/src/ml/augment.js';
import { addScoreHistogram, aucFromHistograms, rocAuc, ROC_BINS, scoreHistogramMetrics } from '../../../shared/src/ml/metrics.js';
import { createRng } from '../../../shared/src/rng.js';

/** AUC by definition: the share of (positive, negative) pairs ranked right, ties one half. */
function pairwiseAuc(s: number[], y: number[]): number {
  let good = 0;
  let pairs = 0;
  s.forEach((sp, i) => {
    if (y[i] !== 1) return;
    s.forEach((sn, j) => {
      if (y[j] !== 0) return;
      pairs++;
      good += sp > sn ? 1 : sp === sn ? 0.5 : 0;
    });
  });
  return good / pairs;
}

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 for all ties', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5], [0, 1, 1])).toBe(0.5);
  });

  it('matches the pairwise definition on random scores with ties', () => {
    const rng = createRng(3);
    for (let t = 0; t < 20; t++) {
      const n = 5 + rng.int(60);
      const s = Array.from({ length: n }, () => Math.round(rng.next() * 10) / 10);
      const y = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.int(2)));
      expect(rocAuc(s, y)).toBeCloseTo(pairwiseAuc(s, y), 12);
    }
  });

  it('is NaN with one class and refuses mismatched lengths', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => rocAuc([0.1], [1, 0])).toThrow(RangeError);
  });
});

describe('federated AUC from score histograms', () => {
  it('summed over sites equals the pooled AUC when no positive and negative share a bin', () => {
    const rng = createRng(9);
    const sites = [0, 1, 2].map(() => {
      // Scores on a 1/2000 grid offset by half a bin from the class of the other label: no shared bins.
      const n = 30 + rng.int(30);
      const y = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.int(2)));
      const s = y.map((label) => (2 * rng.int(ROC_BINS) + (label === 1 ? 1 : 0) + 0.5) / (2 * ROC_BINS));
      return { s, y };
    });
    const pos = new Float64Array(ROC_BINS);
    const neg = new Float64Array(ROC_BINS);
    for (const site of sites) expect(addScoreHistogram({ loss: 0.3, ...scoreHistogramMetrics(site.s, site.y) }, pos, neg)).toBe(true);
    const pooled = rocAuc(sites.flatMap((x) => x.s), sites.flatMap((x) => x.y));
    // Same-bin pairs: a positive at 2k+1 and a negative at 2k share bin k; rocAuc ranks them, the histogram halves them.
    expect(Math.abs(aucFromHistograms(pos, neg) - pooled)).toBeLessThan(0.02);
    const exact = sites.map(({ s, y }) => ({ s: s.map((v) => (Math.floor(v * ROC_BINS) + 0.5) / ROC_BINS), y }));
    const pos2 = new Float64Array(ROC_BINS);
    const neg2 = new Float64Array(ROC_BINS);
    for (const site of exact) addScoreHistogram(scoreHistogramMetrics(site.s, site.y), pos2, neg2);
    // Scores at bin centres: binning loses nothing, histogram AUC = pooled AUC exactly.
    expect(aucFromHistograms(pos2, neg2)).toBeCloseTo(rocAuc(exact.flatMap((x) => x.s), exact.flatMap((x) => x.y)), 12);
  });

  it('refuses malformed entries without adding anything', () => {
    const pos = new Float64Array(ROC_BINS);
    const neg = new Float64Array(ROC_BINS);
    expect(addScoreHistogram({ 'roc.pos.1': 2, 'roc.neg.5000': 1 }, pos, neg)).toBe(false);
    expect(addScoreHistogram({ 'roc.pos.1': 2, 'roc.neg.3': 0.5 }, pos, neg)).toBe(false);
    expect(pos[1]).toBe(0);
    expect(aucFromHistograms(pos, neg)).toBeNaN();
  });
});

describe('augmentImages', () => {
  const img = (): Float32Array => Float32Array.from({ length: 12 }, (_, i) => i + 1); // 3×4×1

  it('mirrors, shifts with zero fill, and is reproducible per seed', () => {
    // Find draws that flip without shifting and shift without flipping, by seed.
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const x = img();
      augmentImages(x, 1, [3, 4, 1], { flipHorizontal: true, maxShift: 1 }, createRng(seed));
      const again = img();
      augmentImages(again, 1, [3, 4, 1], { flipHorizontal: true, maxShift: 1 }, createRng(seed));
      expect(again).toEqual(x);
      seen.add(Array.from(x).join(','));
    }
    // Mirror only: each row reversed.
    expect(seen.has('4,3,2,1,8,7,6,5,12,11,10,9')).toBe(true);
    // Shift down one row, no flip: first row zeros.
    expect(seen.has('0,0,0,0,1,2,3,4,5,6,7,8')).toBe(true);
    // Shift right one column, no flip.
    expect(seen.has('0,1,2,3,0,5,6,7,0,9,10,11')).toBe(true);
    // 2 flips × 3 × 3 shifts = 18 distinct outcomes at most, all reached in 200 draws.
    expect(seen.size).toBe(18);
  });

  it('jitters contrast and brightness within [0, 1], reproducibly, changing every image', () => {
    const base = Float32Array.from({ length: 24 }, (_, i) => i / 23);
    const a = Float32Array.from(base);
    const b = Float32Array.from(base);
    augmentImages(a, 2, [3, 4, 1], { intensityJitter: 0.3 }, createRng(4));
    augmentImages(b, 2, [3, 4, 1], { intensityJitter: 0.3 }, createRng(4));
    expect(b).toEqual(a);
    expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(Array.from(a.subarray(0, 12))).not.toEqual(Array.from(base.subarray(0, 12)));
    expect(Array.from(a.subarray(12))).not.toEqual(Array.from(base.subarray(12)));
    // An affine map per image: differences keep their order.
    expect(a[5]! - a[4]!).toBeGreaterThan(0);
  });

  it('leaves images alone without options and touches only the first m rows', () => {
    const x = Float32Array.from({ length: 24 }, (_, i) => i);
    augmentImages(x, 1, [3, 4, 1], {}, createRng(1));
    expect(Array.from(x)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    augmentImages(x, 1, [3, 4, 1], { flipHorizontal: true, maxShift: 2 }, createRng(1));
    expect(Array.from(x.subarray(12))).toEqual(Array.from({ length: 12 }, (_, i) => i + 12));
  });
});
