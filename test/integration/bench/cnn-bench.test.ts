import { describe, expect, it } from 'vitest';
import { runCnnSuite } from '../../../bench/cnn.js';
import { formatTable } from '../../../bench/report.js';

// Smoke test of the CNN suite: shapes and fields only, no timing asserted (machines vary).
describe('bench cnn suite', () => {
  it('trains cnn-small on cpu and wasm and reports images/s with the ratio to cpu', async () => {
    const results = await runCnnSuite({ images: { cpu: 4, wasm: 8 }, batchSize: 4, runs: 1 });
    expect(results.map((r) => r.backend)).toEqual(['cpu', 'wasm', 'wasm-threads']);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual(['backend', 'batchSize', 'images', 'imagesPerSecond', 'model', 'note', 'ratioVsCpu', 'seconds']);
      expect(r.model).toBe('cnn-small');
    }
    const [cpu, wasm, threads] = results;
    expect(cpu?.ratioVsCpu).toBe(1);
    expect(wasm?.images).toBe(8);
    for (const v of [cpu?.imagesPerSecond, wasm?.imagesPerSecond, wasm?.ratioVsCpu]) expect(Number.isFinite(v) && (v ?? 0) > 0).toBe(true);
    // In Node the threaded binary cannot start: the row says why instead of inventing a figure.
    expect(threads?.note).toMatch(/threaded wasm binary unavailable/);
    expect(threads?.imagesPerSecond).toBeNaN();
    expect(formatTable(results).split('\n')).toHaveLength(5);
  }, 120_000);
});
