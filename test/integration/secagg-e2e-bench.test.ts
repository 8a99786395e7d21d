import { describe, expect, it } from 'vitest';
import { modelFor, runSecAggE2eCase } from '../../bench/secagg-e2e.js';

// Smoke test of `npm run bench -- secagg-e2e` on the smallest federation: real coordinator and agent processes
// (from dist/, built by `npm test`), one secure and one plaintext round. Shapes and completion only, no timing.
describe('bench secagg-e2e suite', () => {
  it('picks the registry model closest to the asked size', () => {
    expect(modelFor(1_000_000)).toEqual({ name: 'mlp-1m', params: 1_002_981 });
    expect(modelFor(100_000).name).toBe('mlp-100k');
    expect(modelFor(12)).toEqual({ name: 'logreg', params: 11 });
  });

  it('runs a secure round and its plaintext baseline with the same processes and reports the named fields', async () => {
    const rows = await runSecAggE2eCase({ sites: 3, params: 10, rounds: 1 }, () => undefined);
    expect(rows.map((r) => r.secureAggregation)).toEqual([true, false]);
    for (const r of rows) {
      for (const key of ['sites', 'params', 'secureAggregation', 'roundMs', 'plainRoundMs', 'ratio', 'coordinatorPeakRssMb', 'agentsPeakRssMbTotal', 'completed']) expect(r).toHaveProperty(key);
      expect(r).toMatchObject({ sites: 3, params: 11, model: 'logreg', processes: 4, completed: true, failure: null });
      for (const v of [r.roundMs, r.plainRoundMs, r.ratio, r.coordinatorPeakRssMb, r.agentsPeakRssMbTotal, r.agentIdleRssMb]) expect(Number.isFinite(v) && v > 0).toBe(true);
      expect(r.agentsPeakRssMbTotal).toBeGreaterThanOrEqual(r.agentMaxPeakRssMb);
    }
    const [secure, plain] = rows;
    expect(secure?.plainRoundMs).toBe(plain?.roundMs);
    // Every SecAgg stage was seen, in order, within the round.
    const s = secure?.stages;
    expect(s).not.toBeNull();
    for (const v of Object.values(s ?? {})) expect(Number.isFinite(v) && v >= 0).toBe(true);
    expect(plain?.stages).toBeNull();
  }, 300_000);
});
