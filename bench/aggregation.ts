import { createStrategy } from '../coordinator/src/strategies/create-strategy.js';
import type { ClientUpdate } from '../coordinator/src/strategies/strategy.js';
import { WeightedAccumulator } from '../coordinator/src/strategies/weighted-accumulator.js';
import { bestOf, round } from './report.js';

export interface AggregationOptions {
  /** Site counts to measure. @default [4, 10, 100] */
  sites?: readonly number[];
  /** Parameters per update. @default 1_000_000 */
  params?: number;
  /** Runs per case; the fastest counts. @default 3 */
  runs?: number;
}

export interface AggregationResult {
  /** `WeightedAccumulator` (the kernel), or the strategy whose `aggregate` was timed. */
  impl: 'WeightedAccumulator' | 'fedavg' | 'fedyogi';
  sites: number;
  params: number;
  msPerAggregate: number;
  /** sites × params / seconds. */
  paramsPerSecond: number;
  /** Same figure for the plain `acc[i] += w * x[i]` Float32Array loop, measured in the same run. */
  baselineParamsPerSecond: number;
  /** paramsPerSecond / baselineParamsPerSecond (> 1: faster than the plain loop). */
  ratio: number;
}

/** Deterministic, cheap pseudo-random weights in [-0.5, 0.5). */
function syntheticVector(params: number, seed: number): Float32Array {
  const v = new Float32Array(params);
  let s = (seed * 0x9e3779b1) | 0;
  for (let i = 0; i < params; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) | 0;
    v[i] = (s >>> 8) / 16777216 - 0.5;
  }
  return v;
}

/** The baseline: eager accumulation into a Float32Array, then one scaling pass. */
function plainLoopMean(updates: readonly ClientUpdate[], params: number): Float32Array {
  const acc = new Float32Array(params);
  let total = 0;
  for (const u of updates) total += u.numExamples;
  for (const u of updates) {
    const w = u.numExamples / total;
    const x = u.weights;
    for (let i = 0; i < params; i++) acc[i] = (acc[i] as number) + w * (x[i] as number);
  }
  return acc;
}

/** Keeps results observable so the JIT cannot drop the work. */
let sink = 0;

/** FedAvg aggregation throughput of the accumulator and of `fedavg` / `fedyogi`, next to the plain loop. */
export async function runAggregationSuite(opts: AggregationOptions = {}): Promise<AggregationResult[]> {
  const siteCounts = opts.sites ?? [4, 10, 100];
  const params = opts.params ?? 1_000_000;
  const runs = opts.runs ?? 3;
  const results: AggregationResult[] = [];
  const maxSites = Math.max(0, ...siteCounts);
  const pool: Float32Array[] = [];
  for (let s = 0; s < maxSites; s++) pool.push(syntheticVector(params, s + 1));
  const global = syntheticVector(params, 0);

  for (const sites of siteCounts) {
    const updates: ClientUpdate[] = pool.slice(0, sites).map((weights, i) => ({ weights, numExamples: 100 + i, siteId: `site-${i + 1}` }));
    const work = sites * params;
    const baselineS = await bestOf(runs, () => {
      sink += plainLoopMean(updates, params)[0] ?? 0;
    });
    const baselinePps = work / baselineS;
    const timed: [AggregationResult['impl'], () => Float32Array][] = [
      [
        'WeightedAccumulator',
        () => {
          const acc = new WeightedAccumulator(params);
          for (const u of updates) acc.add(u.weights, u.numExamples);
          return acc.mean();
        },
      ],
      ['fedavg', () => createStrategy('fedavg').aggregate(global, updates)],
      ['fedyogi', () => createStrategy('fedyogi').aggregate(global, updates)],
    ];
    for (const [impl, fn] of timed) {
      const s = await bestOf(runs, () => {
        sink += fn()[0] ?? 0;
      });
      const pps = work / s;
      results.push({
        impl,
        sites,
        params,
        msPerAggregate: round(s * 1000),
        paramsPerSecond: round(pps),
        baselineParamsPerSecond: round(baselinePps),
        ratio: round(pps / baselinePps, 3),
      });
    }
  }
  if (Number.isNaN(sink)) console.error('unexpected NaN in aggregation results');
  return results;
}
