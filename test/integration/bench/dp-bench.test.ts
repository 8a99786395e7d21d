import { describe, expect, it } from 'vitest';
import { runDpSuite } from '../../../bench/dp.js';
import { formatTable } from '../../../bench/report.js';

// Smoke test of the DP benchmark: shapes only. No timing is asserted (CI machines vary).
describe('bench dp suite', () => {
  it('measures DP-SGD and plain training of each model in the same run, with the documented fields', async () => {
    const results = await runDpSuite({ models: ['mlp-small', 'cnn-small'], batch: 8, steps: 2, runs: 1 });
    expect(results.map((r) => [r.model, r.backend, r.batch, r.steps])).toEqual([
      ['mlp-small', 'wasm', 8, 2],
      ['cnn-small', 'wasm', 8, 2],
    ]);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual(['backend', 'baselineExamplesPerSecond', 'batch', 'dpExamplesPerSecond', 'model', 'params', 'ratio', 'steps']);
      for (const v of [r.baselineExamplesPerSecond, r.dpExamplesPerSecond, r.ratio]) expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    expect(results[0]?.params).toBe(13 * 16 + 16 + 16 + 1);
    expect(formatTable(results).split('\n')).toHaveLength(2 + results.length);
  });
});
