/**
 * Evaluation metrics on plain arrays (no TF.js), shared by sites and the coordinator.
 */

/**
 * Area under the ROC curve of `scores` for 0/1 `labels`: the probability that a random positive
 * scores above a random negative, ties counting one half (Mann–Whitney U with mid-ranks).
 * Returns `NaN` when either class is absent (AUC is undefined there).
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`rocAuc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const midRank = (i + j) / 2 + 1; // 1-based mean rank of the tie group
    for (let k = i; k <= j; k++) {
      if (labels[order[k] as number] === 1) {
        positives++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Bins of the per-class score histograms sites report for federated AUC. */
export const ROC_BINS = 1000;
/** Metric-key prefixes of the histogram counts: `roc.pos.<bin>`, `roc.neg.<bin>` (zero bins omitted). */
export const ROC_POS_PREFIX = 'roc.pos.';
export const ROC_NEG_PREFIX = 'roc.neg.';
/**
 * Prefix of the validation split's entries in an evaluation: `val.roc.pos.<bin>`, `val.roc.neg.<bin>` and
 * `val.examples` (how many validation examples the histogram covers). Used for model selection only.
 */
export const VAL_PREFIX = 'val.';
export const VAL_EXAMPLES_KEY = 'val.examples';

/**
 * Per-class histograms of predicted probabilities over {@link ROC_BINS} equal bins of [0, 1], as sparse
 * metric entries. Summed over sites they give the pooled ROC AUC of the federation ({@link aucFromHistograms})
 * without any site revealing a score or a row: only how many of its held-out examples of each class fall in
 * each bin.
 */
export function scoreHistogramMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    const bin = Math.min(ROC_BINS - 1, Math.max(0, Math.floor((Number.isFinite(s) ? s : 0) * ROC_BINS)));
    const key = `${prefix}${labels[i] === 1 ? ROC_POS_PREFIX : ROC_NEG_PREFIX}${bin}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * Adds the `<prefix>roc.*` entries of one site's metrics into `pos` / `neg` (length {@link ROC_BINS});
 * `prefix` is '' for the test split, {@link VAL_PREFIX} for the validation split.
 * Returns false, adding nothing, when an entry is malformed (bad bin, negative or fractional count).
 */
export function addScoreHistogram(metrics: Readonly<Record<string, number>>, pos: Float64Array, neg: Float64Array, prefix = ''): boolean {
  const adds: [Float64Array, number, number][] = [];
  const posKey = prefix + ROC_POS_PREFIX;
  const negKey = prefix + ROC_NEG_PREFIX;
  for (const [key, count] of Object.entries(metrics)) {
    const into = key.startsWith(posKey) ? pos : key.startsWith(negKey) ? neg : undefined;
    if (into === undefined) continue;
    const bin = Number(key.slice(posKey.length));
    if (!Number.isInteger(bin) || bin < 0 || bin >= ROC_BINS || !Number.isInteger(count) || count < 0) return false;
    adds.push([into, bin, count]);
  }
  for (const [into, bin, count] of adds) into[bin] = (into[bin] as number) + count;
  return true;
}

/** ROC AUC from per-class score histograms (pairs in the same bin count one half); NaN if a class is empty. */
export function aucFromHistograms(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  let negBelow = 0;
  let good = 0;
  let p = 0;
  let n = 0;
  for (let b = 0; b < pos.length; b++) {
    const pb = pos[b] as number;
    const nb = neg[b] as number;
    good += pb * (negBelow + nb / 2);
    negBelow += nb;
    p += pb;
    n += nb;
  }
  return p === 0 || n === 0 ? Number.NaN : good / (p * n);
}

/**
 * ROC AUC of each class, one-vs-rest, from `n × k` row-major scores and 0/1 labels (one-hot rows for a
 * multi-class head, independent 0/1 per class for a multi-label head); `NaN` for a class absent or
 * present in every row.
 */
export function perClassAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, k: number): number[] {
  const n = Math.floor(scores.length / k);
  if (n * k !== scores.length || labels.length !== scores.length) throw new RangeError(`perClassAuc: ${scores.length} scores and ${labels.length} labels are not n × ${k}`);
  const s = new Float64Array(n);
  const y = new Uint8Array(n);
  const out: number[] = [];
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      s[i] = scores[i * k + c] as number;
      y[i] = labels[i * k + c] === 1 ? 1 : 0;
    }
    out.push(rocAuc(s, y));
  }
  return out;
}

/** The mean of the defined (non-NaN) per-class AUCs; `NaN` when none is defined. */
export function macroAuc(perClass: readonly number[]): number {
  const defined = perClass.filter((a) => !Number.isNaN(a));
  return defined.length === 0 ? Number.NaN : defined.reduce((a, b) => a + b, 0) / defined.length;
}

/** Index of the largest of `k` values of row `r` (the first on ties). */
function argmaxRow(v: ArrayLike<number>, r: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if ((v[r * k + c] as number) > (v[r * k + best] as number)) best = c;
  return best;
}

/**
 * Balanced accuracy of a multi-class head, as FLamby's Fed-ISIC2019 reports it (scikit-learn's
 * `balanced_accuracy_score`): the mean over the classes present in the labels of the recall of each, the
 * prediction being the arg-max score. `scores` and one-hot `labels` are `n × k` row-major.
 */
export function balancedAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  const n = Math.floor(scores.length / k);
  const hits = new Float64Array(k);
  const totals = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    const truth = argmaxRow(labels, r, k);
    totals[truth] = (totals[truth] as number) + 1;
    if (argmaxRow(scores, r, k) === truth) hits[truth] = (hits[truth] as number) + 1;
  }
  let sum = 0;
  let present = 0;
  for (let c = 0; c < k; c++) {
    if ((totals[c] as number) > 0) {
      sum += (hits[c] as number) / (totals[c] as number);
      present++;
    }
  }
  return present === 0 ? Number.NaN : sum / present;
}

/** Accuracy of a multi-class head: the share of rows whose arg-max score is the labelled class. */
export function multiClassAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  const n = Math.floor(scores.length / k);
  let correct = 0;
  for (let r = 0; r < n; r++) if (argmaxRow(scores, r, k) === argmaxRow(labels, r, k)) correct++;
  return n === 0 ? Number.NaN : correct / n;
}
