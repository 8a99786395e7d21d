import type { TabularSplit } from '../../../../site-agent/src/hospital/datasets/index.js';

/** A plain full-batch gradient-descent logistic regression, just enough to check that data is learnable. */
export function fitLogistic(train: TabularSplit, epochs = 300, lr = 0.5): { w: Float64Array; b: number } {
  const { n, d, x, y } = train;
  const w = new Float64Array(d);
  let b = 0;
  for (let e = 0; e < epochs; e++) {
    const gw = new Float64Array(d);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let z = b;
      for (let j = 0; j < d; j++) z += w[j]! * x[i * d + j]!;
      const err = 1 / (1 + Math.exp(-z)) - y[i]!;
      for (let j = 0; j < d; j++) gw[j]! += err * x[i * d + j]!;
      gb += err;
    }
    for (let j = 0; j < d; j++) w[j]! -= (lr * gw[j]!) / n;
    b -= (lr * gb) / n;
  }
  return { w, b };
}

/** Share of rows whose thresholded prediction equals the label. */
export function accuracy(model: { w: Float64Array; b: number }, split: TabularSplit): number {
  let ok = 0;
  for (let i = 0; i < split.n; i++) {
    let z = model.b;
    for (let j = 0; j < split.d; j++) z += model.w[j]! * split.x[i * split.d + j]!;
    if ((z > 0 ? 1 : 0) === split.y[i]) ok++;
  }
  return ok / split.n;
}
