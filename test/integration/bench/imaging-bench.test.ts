import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { runImagingSuite } from '../../../bench/imaging.js';
import { runPacsIngestCase } from '../../../bench/imaging-pacs.js';
import { runPipelineBench } from '../../../bench/imaging-pipeline.js';
import { runTrainingBench } from '../../../bench/imaging-training.js';
import { formatTable } from '../../../bench/report.js';
import { sharedDataDir } from '../../../cli/src/public-data.js';
import { orthancSkipReason } from '../../helpers/orthanc.js';

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

describe.skipIf(!corpus || orthancSkipReason() !== undefined)('bench imaging: pacs-ingest case', () => {
  it('pulls the corpus from Orthanc through the gate and the pipeline next to the plain WADO-RS download of the same instances', async () => {
    const rows = await runPacsIngestCase({ runs: 1, threads: 1 });
    const [baseline, ours] = rows;
    expect(baseline).toMatchObject({ impl: 'orthanc WADO-RS download (baseline)', vsBaseline: 1, threads: '-' });
    expect(ours).toMatchObject({ impl: 'tessera dicomweb pull → gate → cache → preprocess', instances: baseline!.instances, megabytes: baseline!.megabytes });
    // From the TypeScript sources there is no compiled worker: the pool runs inline (0 threads), same work.
    expect(ours!.threads).toBe(0);
    expect(ours!.written).toBeGreaterThan(25);
    expect(ours!.preprocessed).toBeGreaterThan(20);
    expect(ours!.vsBaseline).toBeCloseTo(baseline!.bestMs / ours!.bestMs, 2);
  }, 240_000);

  it('runs one named case only and refuses a name that is not a case', async () => {
    await expect(runImagingSuite(true, () => undefined, 'no-such-case')).rejects.toThrow(/the imaging cases are pipeline, training, pacs-ingest/);
  });
});
