import { describe, expect, it } from 'vitest';
import { runSecAggSuite } from '../../../bench/secagg.js';
import { formatTable } from '../../../bench/report.js';

// Smoke test of the secagg benchmark: the documented fields and sane values. No timing is asserted.
describe('bench secagg suite', () => {
  it('produces one row per case with the fields the issue names, plus the degree', async () => {
    const rows = await runSecAggSuite([
      { sites: 4, params: 1000, dropout: 0 },
      { sites: 4, params: 1000, dropout: 0.25 },
      { sites: 40, params: 100, dropout: 0.1, degree: 24 },
    ], 1);
    expect(rows.map((r) => [r.sites, r.params, r.dropout, r.degree])).toEqual([
      [4, 1000, 0, 3],
      [4, 1000, 0.25, 3],
      [40, 100, 0.1, 24],
    ]);
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(['bytesPerParam', 'clientMaskMs', 'degree', 'dropout', 'keystreamMs', 'params', 'plainMs', 'ratio', 'secureMs', 'sites'].sort());
      for (const v of [r.plainMs, r.secureMs, r.ratio, r.clientMaskMs, r.keystreamMs]) expect(Number.isFinite(v) && v > 0).toBe(true);
      // 4 bytes per parameter for the masked input, plus keys/shares/reveal amortized over only 1000 parameters.
      expect(r.bytesPerParam).toBeGreaterThan(4);
    }
    for (const r of rows.slice(0, 2)) expect(r.bytesPerParam).toBeLessThan(8);
    expect(formatTable(rows).split('\n')).toHaveLength(5);
  }, 120_000);
});
