/**
 * Imaging bench, pipeline case: 512×512 16-bit CT slices read from disk, decoded, windowed (Modality LUT +
 * the header's VOI window) and resampled (area averaging) to the model input, slices per second on one
 * core, next to pydicom + numpy doing the same to the same files in the same run (bench/pydicom_pipeline.py,
 * one BLAS thread). The slices are the corpus's uncompressed 512×512 CT files, written to a temporary
 * folder with a soft-tissue window (40/400 HU) in the header so both sides apply a header window.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { sharedDataDir } from '../cli/src/public-data.js';
import { put, textElement } from '../site-agent/src/hospital/dicom/dataset.js';
import { Tags, TransferSyntax } from '../site-agent/src/hospital/dicom/dictionary.js';
import { parseDicom } from '../site-agent/src/hospital/dicom/parse.js';
import { encodeDicom } from '../site-agent/src/hospital/dicom/writer.js';
import { parseNpy } from '../site-agent/src/hospital/datasets/npz.js';
import { compilePreprocessOptions, preprocessInstance } from '../site-agent/src/hospital/imaging/index.js';
import { round } from './report.js';

/** Uncompressed 512×512 16-bit CT slices in the shared corpus (CT1 in three encodings, and MISTER^CT). */
export const CT_SLICES = [
  'dicomparser/CT1_UNC.explicit_little_endian.dcm',
  'dicomparser/CT1_UNC.implicit_little_endian.dcm',
  'dicomparser/CT1_UNC.explicit_big_endian.dcm',
  'dicomparser/ctimage.dcm',
] as const;

export interface PipelineBenchOptions {
  /** Output side (square): the model input the training case uses. @default 128 */
  size?: number;
  /** Slices per timed pass (the files in turn). @default 200 */
  slices?: number;
  /** Timed passes per side; the fastest counts. @default 3 */
  runs?: number;
}

export interface PipelineBenchResult {
  implementation: 'tessera' | 'pydicom+numpy';
  slices: number;
  size: string;
  seconds: number;
  /** One core: the pipeline is single-threaded and the baseline runs with one BLAS thread. */
  slicesPerSecondPerCore: number;
  /** slices/s ÷ pydicom + numpy's, same files, same run (goal ≥ 1). */
  ratioVsPydicom: number;
  /** Largest difference between the two outputs of the first slice, in grey levels of 255. */
  maxDiffGreyLevels: number;
  note: string;
}

/** Writes the corpus CT slices, with a 40/400 window in the header, to `dir`; returns their paths. */
function writeSlices(dir: string): string[] {
  return CT_SLICES.map((rel, i) => {
    const parsed = parseDicom(readFileSync(path.join(sharedDataDir(), 'dicom', rel)), rel);
    const ds = parsed.dataset;
    put(ds, textElement(Tags.WindowCenter, 'DS', '40'));
    put(ds, textElement(Tags.WindowWidth, 'DS', '400'));
    const file = path.join(dir, `ct-${i}.dcm`);
    // Big endian is rewritten as explicit VR little endian (the writer writes little endian only).
    writeFileSync(file, encodeDicom(ds, parsed.transferSyntaxUid === TransferSyntax.ImplicitVRLittleEndian ? { transferSyntaxUid: parsed.transferSyntaxUid } : {}));
    return file;
  });
}

/** The baseline script: beside this module in the source tree, or in the source tree above `dist/bench`. */
function baselineScript(): string {
  const here = path.join(import.meta.dirname, 'pydicom_pipeline.py');
  return existsSync(here) ? here : path.join(import.meta.dirname, '..', '..', 'bench', 'pydicom_pipeline.py');
}

/** The Python with pydicom and numpy (Debian's first), or undefined. */
function python(): string | undefined {
  return [process.env['TESSERA_PYTHON'], '/usr/bin/python3', 'python3'].find((p) => p !== undefined && spawnSync(p, ['-c', 'import pydicom, numpy'], { stdio: 'ignore' }).status === 0);
}

export async function runPipelineBench(opts: PipelineBenchOptions = {}): Promise<PipelineBenchResult[]> {
  const size = opts.size ?? 128;
  const slices = opts.slices ?? 200;
  const runs = opts.runs ?? 3;
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-bench-ct-'));
  try {
    const files = writeSlices(dir);
    const options = compilePreprocessOptions({ size: [size, size], fit: 'stretch', voi: { kind: 'header' }, fallback: 'error', source: 'bench' });
    const one = async (file: string): Promise<Float32Array> => (await preprocessInstance(readFileSync(file), options)).tensors[0] as Float32Array;
    const ours = await one(files[0] as string);
    for (const f of files) await one(f); // warm-up: JIT
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      for (let i = 0; i < slices; i++) await one(files[i % files.length] as string);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    const tessera: PipelineBenchResult = { implementation: 'tessera', slices, size: `${size}×${size}`, seconds: round(best), slicesPerSecondPerCore: round(slices / best), ratioVsPydicom: Number.NaN, maxDiffGreyLevels: Number.NaN, note: '' };
    const py = python();
    if (py === undefined) return [{ ...tessera, note: 'no python3 with pydicom and numpy: no baseline' }];
    const npy = path.join(dir, 'first.npy');
    const run = spawnSync(py, [baselineScript(), String(size), String(slices), String(runs), npy, ...files], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    });
    if (run.status !== 0) return [{ ...tessera, note: `pydicom baseline failed: ${run.stderr.slice(-200)}` }];
    const base = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { seconds: number; slicesPerSecond: number; pydicom: string; numpy: string };
    const ref = parseNpy(readFileSync(npy), npy).data;
    let diff = 0;
    for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs((ours[i] as number) - (ref[i] as number)));
    const maxDiffGreyLevels = round(diff * 255, 3);
    return [
      { ...tessera, ratioVsPydicom: round(tessera.slicesPerSecondPerCore / base.slicesPerSecond, 3), maxDiffGreyLevels },
      { implementation: 'pydicom+numpy', slices, size: `${size}×${size}`, seconds: round(base.seconds), slicesPerSecondPerCore: round(base.slicesPerSecond), ratioVsPydicom: 1, maxDiffGreyLevels, note: `pydicom ${base.pydicom}, numpy ${base.numpy}, one BLAS thread` },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
