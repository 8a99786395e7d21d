import { ConfigError } from '../../../../shared/src/errors.js';
import { createRng } from '../../../../shared/src/rng.js';
import type { Normalization, TabularSplit } from './tabular.js';

/** Row indices of a train/test split, each ascending. */
export interface SplitIndices {
  trainIdx: number[];
  testIdx: number[];
}

// Products like 0.66 * 50 land just below an integer in binary floating point; nudge before flooring.
const EPS = 1e-9;

/**
 * How many of each class go to test. The total is `n − floor(n·(1 − testFraction))`, which is
 * FLamby's Fed-Heart-Disease rule (`train = floor(0.66·n)`), so sizes match FLamby's published ones.
 * It is shared between classes by largest remainder of `count·testFraction`, so each class gets
 * `floor` or `ceil` of its exact share (within 1 of `round`) and class ratios are kept.
 */
function testCounts(counts: number[], testFraction: number): number[] {
  const n = counts.reduce((a, b) => a + b, 0);
  const total = n - Math.floor(n * (1 - testFraction) + EPS);
  const exact = counts.map((c) => c * testFraction);
  const out = exact.map((e) => Math.floor(e + EPS));
  let extra = total - out.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, k) => ({ k, r: e - Math.floor(e + EPS) })).sort((a, b) => b.r - a.r || a.k - b.k);
  for (const { k } of byRemainder) {
    if (extra <= 0) break;
    if ((out[k] as number) < (counts[k] as number)) {
      out[k] = (out[k] as number) + 1;
      extra--;
    }
  }
  return out;
}

/**
 * Splits rows into train and test per class (label value), each class shuffled with `createRng(seed)`.
 * Deterministic for a given `labels` and `seed`. See the source for the exact per-class count rule.
 *
 * @param testFraction share of rows that go to test, in [0, 1).
 * @throws ConfigError when `testFraction` is outside [0, 1).
 */
export function stratifiedSplit(labels: ArrayLike<number>, testFraction: number, seed: number): SplitIndices {
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new ConfigError("'testFraction' must be in [0, 1)", { field: 'testFraction' });
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    const bucket = byClass.get(y);
    if (bucket === undefined) byClass.set(y, [i]);
    else bucket.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const buckets = classes.map((c) => byClass.get(c) as number[]);
  const counts = testCounts(
    buckets.map((b) => b.length),
    testFraction,
  );
  const rng = createRng(seed);
  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  buckets.forEach((bucket, k) => {
    const shuffled = rng.shuffle([...bucket]);
    const cut = counts[k] as number;
    testIdx.push(...shuffled.slice(0, cut));
    trainIdx.push(...shuffled.slice(cut));
  });
  return { trainIdx: trainIdx.sort((a, b) => a - b), testIdx: testIdx.sort((a, b) => a - b) };
}

/** Copies the given rows of a row-major matrix and its labels into a new split. */
export function takeRows(x: Float32Array, y: Float32Array, d: number, idx: readonly number[]): TabularSplit {
  const out = new Float32Array(idx.length * d);
  const outY = new Float32Array(idx.length);
  idx.forEach((r, i) => {
    out.set(x.subarray(r * d, (r + 1) * d), i * d);
    outY[i] = y[r] as number;
  });
  return { x: out, y: outY, n: idx.length, d };
}

function applyNormalization(split: TabularSplit, { mean, std }: Normalization): TabularSplit {
  const x = new Float32Array(split.x.length);
  for (let i = 0; i < split.n; i++) {
    for (let j = 0; j < split.d; j++) {
      const k = i * split.d + j;
      x[k] = ((split.x[k] as number) - (mean[j] as number)) / (std[j] as number);
    }
  }
  return { x, y: Float32Array.from(split.y), n: split.n, d: split.d };
}

/**
 * Fits per-feature mean and population standard deviation on `train` only (a constant feature gets
 * std 1) and applies them to both splits. Returns new splits; the inputs are not modified.
 */
export function zNormalize(
  train: TabularSplit,
  test: TabularSplit,
): { train: TabularSplit; test: TabularSplit; normalization: Normalization } {
  const { n, d } = train;
  const mean = new Array<number>(d).fill(0);
  const sq = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (train.x[i * d + j] as number);
  for (let j = 0; j < d; j++) mean[j] = n > 0 ? (mean[j] as number) / n : 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) sq[j] = (sq[j] as number) + ((train.x[i * d + j] as number) - (mean[j] as number)) ** 2;
  }
  // A constant (or near-constant, from float rounding) feature would divide by ~0; leave its scale alone.
  const std = sq.map((s) => {
    const v = n > 0 ? Math.sqrt(s / n) : 0;
    return v > 1e-12 ? v : 1;
  });
  const normalization = { mean, std };
  return { train: applyNormalization(train, normalization), test: applyNormalization(test, normalization), normalization };
}
