import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { runIngestSuite } from '../../../bench/ingest.js';
import { formatTable } from '../../../bench/report.js';
import { sharedDataDir } from '../../../cli/src/public-data.js';

const present = existsSync(path.join(sharedDataDir(), 'dicom', 'MANIFEST.tsv'));

// Smoke test of the ingest benchmark: shapes only, no timing asserted.
describe.skipIf(!present)('bench ingest suite', () => {
  it('reports the plain dicom-parser baseline and the gate on the same files with the documented fields', async () => {
    const results = await runIngestSuite({ runs: 2, warmup: 1, maxFiles: 4 });
    expect(results.map((r) => r.impl)).toEqual(['dicom-parser parse', 'parse + de-identify', 'parse + de-identify + write', 'file write only (I/O reference)']);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual(
        ['costVsParse', 'files', 'filesPerSecond', 'impl', 'medianCostVsParse', 'medianMsPerPass', 'megabytes', 'megabytesPerSecond', 'msPerPass'].sort(),
      );
      expect(r.files).toBe(4);
      for (const v of [r.megabytes, r.msPerPass, r.filesPerSecond, r.megabytesPerSecond, r.costVsParse, r.medianMsPerPass, r.medianCostVsParse]) expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    expect(results[0]!.costVsParse).toBe(1);
    expect(results[0]!.medianCostVsParse).toBe(1);
    // The median pass is never faster than the best one.
    for (const r of results) expect(r.medianMsPerPass).toBeGreaterThanOrEqual(r.msPerPass);
    expect(formatTable(results).split('\n')).toHaveLength(6);
  });
});
