import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { runPipelineBench } from '../../../bench/imaging-pipeline.js';
import { runTrainingBench } from '../../../bench/imaging-training.js';
import { formatTable } from '../../../bench/report.js';
import { sharedDataDir } from '../../../cli/src/public-data.js';

// Smoke tests of the imaging cases: shapes, fields and agreement only, no timing asserted (machines vary).
const corpus = existsSync(path.join(sharedDataDir(), 'dicom', 'MANIFEST.tsv'));

describe.skipIf(!corpus)('bench imaging: pipeline case', () => {
  it('runs the CT slices through the pipeline and, where pydicom is installed, through the baseline with the same result', async () => {
    const rows = await runPipelineBench({ size: 64, slices: 4, runs: 1 });
    const [ours, baseline] = rows;
    expect(ours).toMatchObject({ implementation: 'tessera', slices: 4, size: '64×64' });
    expect(ours!.slicesPerSecondPerCore).toBeGreaterThan(0);
    if (baseline === undefined) {
      expect(ours!.note).toMatch(/no python3 with pydicom/);
      return;
    }
    expect(baseline.implementation).toBe('pydicom+numpy');
    expect(ours!.ratioVsPydicom).toBeCloseTo(ours!.slicesPerSecondPerCore / baseline.slicesPerSecondPerCore, 1);
    // Both sides computed the same image: within one grey level (in fact to float rounding).
    expect(ours!.maxDiffGreyLevels).toBeLessThan(1);
    expect(formatTable(rows).split('\n')).toHaveLength(4);
  }, 120_000);
});

describe('bench imaging: training case', () => {
  it('trains resnet-small on wasm and cpu and reports images/s, the ratio to cpu and peak RSS', async () => {
    const rows = await runTrainingBench({ side: 64, images: { wasm: 2, cpu: 2 }, batchSize: 2, runs: 1 });
    expect(rows.map((r) => r.backend)).toEqual(['wasm', 'cpu']);
    for (const r of rows) {
      expect(r).toMatchObject({ model: 'resnet-small', input: '64×64×1', params: 77_857, images: 2, batchSize: 2 });
      expect(r.imagesPerSecond).toBeGreaterThan(0);
      expect(r.peakRssMiB).toBeGreaterThan(0);
      expect(r.process).toMatch(r.backend === 'wasm' ? /agent flags/ : /bench process/);
    }
    expect(rows[1]!.ratioVsCpu).toBe(1);
  }, 300_000);
});
