/**
 * The `imaging` suite (`npm run bench -- imaging [--quick]`): one entry, one list of cases. Each case lives in
 * its own `bench/imaging-*.ts` file and returns rows with its own same-run baseline.
 *
 * - `pacs-ingest` (bench/imaging-pacs.ts): instances/s from a real Orthanc over DICOMweb through the gate and
 *   the preprocessing step into the cache, next to Orthanc's own WADO-RS download of the same instances.
 * - Pipeline (512×512 16-bit CT slices per second per core vs pydicom + numpy) and training throughput
 *   (128×128 residual network, wasm vs cpu): add them to IMAGING_CASES from bench/imaging-pipeline.ts and
 *   bench/imaging-training.ts.
 */
import { runPacsIngestCase } from './imaging-pacs.js';

/** One case of the suite: its name, a one-line description for the table heading, and its runner. */
export interface ImagingCase {
  readonly name: string;
  readonly title: string;
  readonly run: (quick: boolean) => Promise<Record<string, unknown>[]>;
}

/** The suite's cases, in the order they run. */
export const IMAGING_CASES: readonly ImagingCase[] = [
  {
    name: 'pacs-ingest',
    title: 'PACS ingest (real Orthanc on 127.0.0.1 with the shared corpus; DICOMweb, concurrency 4; best and median of alternating passes, each from an empty cache)',
    run: async (quick) => (await runPacsIngestCase(quick ? { runs: 1 } : {})) as unknown as Record<string, unknown>[],
  },
  // Pipeline and training cases: add here (bench/imaging-pipeline.ts, bench/imaging-training.ts).
];

/** Runs every case; rows carry `case`. */
export async function runImagingSuite(quick: boolean, log: (title: string, rows: Record<string, unknown>[]) => void): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const c of IMAGING_CASES) {
    const caseRows = await c.run(quick);
    log(c.title, caseRows);
    rows.push(...caseRows.map((r) => ({ case: c.name, ...r })));
  }
  return rows;
}
