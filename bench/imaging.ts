/**
 * The `imaging` suite (`npm run bench -- imaging [--quick]`): one entry, one list of cases. Each case lives in
 * its own `bench/imaging-*.ts` file and returns rows with its own same-run baseline.
 *
 * - `pipeline` (bench/imaging-pipeline.ts): 512×512 16-bit CT slices from disk decoded, windowed and
 *   resampled per second per core, next to pydicom + numpy doing the same to the same files.
 * - `training` (bench/imaging-training.ts): resnet-small at 128×128, images/s on wasm (in a child with the
 *   agents' Node flags, with its peak RSS) next to the cpu backend.
 * - `pacs-ingest` (bench/imaging-pacs.ts): instances/s from a real Orthanc over DICOMweb through the gate and
 *   the preprocessing step into the cache, next to Orthanc's own WADO-RS download of the same instances.
 */
import { loadavg } from 'node:os';

import { runPacsIngestCase } from './imaging-pacs.js';
import { runPipelineBench } from './imaging-pipeline.js';
import { runTrainingBench } from './imaging-training.js';

/** One case of the suite: its name, a one-line description for the table heading, and its runner. */
export interface ImagingCase {
  readonly name: string;
  readonly title: string;
  readonly run: (quick: boolean) => Promise<Record<string, unknown>[]>;
}

/** The load average when a case starts (the machine is shared: figures are ratios within one run). */
const load = (): string => loadavg().map((v) => v.toFixed(2)).join(' ');

/** The suite's cases, in the order they run. */
export const IMAGING_CASES: readonly ImagingCase[] = [
  {
    name: 'pipeline',
    title: 'pipeline (512×512 16-bit CT slices from disk: decode, Modality LUT, header window, area resample to 128 and 224; one core; pydicom + numpy with one BLAS thread)',
    run: async (quick) => {
      const rows: Record<string, unknown>[] = [];
      // 128: the training case's input (a whole factor of 512); 224: the largest input, a fractional factor.
      for (const size of [128, 224]) {
        const loadAverage = load();
        for (const r of await runPipelineBench(quick ? { size, slices: 20, runs: 1 } : { size })) rows.push({ ...r, loadAverage });
      }
      return rows;
    },
  },
  {
    name: 'training',
    title: 'training (resnet-small, synthetic images, Adam; wasm in a child with the agent flags, best of 2; cpu one pass)',
    run: async (quick) => {
      const loadAverage = load();
      const rows = await runTrainingBench(quick ? { side: 64, images: { wasm: 8, cpu: 2 }, batchSize: 2, runs: 1 } : {});
      return rows.map((r) => ({ ...r, loadAverage }));
    },
  },
  {
    name: 'pacs-ingest',
    title: 'PACS ingest (real Orthanc on 127.0.0.1 with the shared corpus; DICOMweb, concurrency 4; the pipeline on min(cores, 4) worker threads; best and median of alternating passes, each from an empty cache)',
    run: async (quick) => {
      const loadAverage = load();
      const rows = (await runPacsIngestCase(quick ? { runs: 1 } : {})) as unknown as Record<string, unknown>[];
      return rows.map((r) => ({ ...r, loadAverage }));
    },
  },
];

/** Runs every case, or only the one named `only`; rows carry `case`. */
export async function runImagingSuite(quick: boolean, log: (title: string, rows: Record<string, unknown>[]) => void, only?: string): Promise<Record<string, unknown>[]> {
  if (only !== undefined && !IMAGING_CASES.some((c) => c.name === only)) throw new RangeError(`--case ${only}: the imaging cases are ${IMAGING_CASES.map((c) => c.name).join(', ')}`);
  const rows: Record<string, unknown>[] = [];
  for (const c of IMAGING_CASES.filter((x) => only === undefined || x.name === only)) {
    const caseRows = await c.run(quick);
    log(c.title, caseRows);
    rows.push(...caseRows.map((r) => ({ case: c.name, ...r })));
  }
  return rows;
}
