/**
 * The pipeline against pydicom: for every uncompressed corpus file with pixel data, Modality LUT + VOI LUT
 * (window 0 or the VOI LUT Sequence, else the frame range), MONOCHROME1 inverted, at the native size, must
 * equal pydicom's `apply_modality_lut` + `apply_voi_lut` (test/reference/pydicom_voi.py) within one grey
 * level on an 8-bit scale. Skips with the reason when no python3 with pydicom and numpy is installed
 * (Debian python3-pydicom, python3-numpy; .ci/run installs them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { Tags } from '../../../../site-agent/src/hospital/dicom/dictionary.js';
import { parseDicom, type ParsedDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { parseNpy } from '../../../../site-agent/src/hospital/datasets/npz.js';
import { NATIVE_TRANSFER_SYNTAXES, preprocessInstance } from '../../../../site-agent/src/hospital/imaging/index.js';

const corpus = path.join(sharedDataDir(), 'dicom');
const script = path.resolve(import.meta.dirname, '../../../reference/pydicom_voi.py');

/** The first python3 that imports pydicom and numpy (Debian's, then PATH's), or why there is none. */
function findPython(): { python: string } | { skip: string } {
  for (const python of [process.env['TESSERA_PYTHON'], '/usr/bin/python3', 'python3'].filter((p): p is string => p !== undefined)) {
    const r = spawnSync(python, ['-c', 'import pydicom, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return { python };
  }
  return { skip: 'no python3 with pydicom and numpy (apt-get install python3-pydicom python3-numpy)' };
}

/** Every corpus file dicom-parser reads whose Pixel Data is native. */
function uncompressedFiles(): { rel: string; parsed: ParsedDicom }[] {
  const out: { rel: string; parsed: ParsedDicom }[] = [];
  for (const dir of readdirSync(corpus, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const f of readdirSync(path.join(corpus, dir)).sort()) {
      const rel = `${dir}/${f}`;
      let parsed: ParsedDicom;
      try {
        parsed = parseDicom(readFileSync(path.join(corpus, rel)), rel);
      } catch {
        continue; // not Part 10 (no preamble or meta): neither side's concern here
      }
      const pixels = parsed.dataset.get(Tags.PixelData);
      if (pixels?.value !== undefined && NATIVE_TRANSFER_SYNTAXES.has(parsed.transferSyntaxUid)) out.push({ rel, parsed });
    }
  }
  return out;
}

const python = findPython();
const present = existsSync(path.join(corpus, 'MANIFEST.tsv'));
const skip = !present ? 'no DICOM corpus (TESSERA_SHARED_DATA)' : 'skip' in python ? python.skip : undefined;

describe.skipIf(skip !== undefined)(`pipeline equals pydicom on the uncompressed corpus${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  const out = mkdtempSync(path.join(tmpdir(), 'tessera-pydicom-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('within one grey level after windowing, every frame of every file pydicom decodes', { timeout: 120_000 }, async () => {
    // Arrange
    const files = uncompressedFiles();
    expect(files.length).toBeGreaterThanOrEqual(20);
    const run = spawnSync((python as { python: string }).python, [script, out, ...files.map((f) => path.join(corpus, f.rel))], { encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(run.status, run.stderr).toBe(0);
    const compared: string[] = [];
    const pydicomFailed: string[] = [];
    for (const [i, { rel, parsed }] of files.entries()) {
      if (existsSync(path.join(out, `${i}.err`))) {
        // pydicom refuses it (a Window Width of 0, an inconsistent header): the pipeline must refuse it too,
        // with a typed error, or go on with a recorded fallback.
        pydicomFailed.push(rel);
        const outcome = await preprocessInstance(parsed, { size: [8, 8], source: rel }).then(
          (r) => r.reasons.map((x) => x.message),
          (err: unknown) => (err as { code?: string }).code ?? 'untyped',
        );
        expect(typeof outcome === 'string' ? outcome : outcome.length > 0 ? 'fallback' : 'silently accepted', rel).toMatch(/^TESSERA_INPUT_IMAGE_|^fallback$/);
        continue;
      }
      const ref = parseNpy(readFileSync(path.join(out, `${i}.npy`)), rel);
      const [frames = 1, rows = 0, cols = 0, channels = 1] = ref.shape;

      // Act
      const result = await preprocessInstance(parsed, { size: [rows, cols], channels: channels === 3 ? 3 : 1, frames: 'all', fallback: { kind: 'range' }, source: rel });

      // Assert
      expect(result.tensors.length, rel).toBe(frames);
      expect(result.shape, rel).toEqual([rows, cols, channels]);
      const frameSize = rows * cols * channels;
      let worst = 0;
      result.tensors.forEach((t, f) => {
        for (let k = 0; k < frameSize; k++) worst = Math.max(worst, Math.abs((t[k] as number) - (ref.data[f * frameSize + k] as number)));
      });
      expect(worst * 255, `${rel}: largest difference in grey levels`).toBeLessThanOrEqual(1);
      compared.push(rel);
    }
    console.info(`pydicom reference: ${compared.length} files compared, ${pydicomFailed.length} refused by pydicom (${pydicomFailed.join(", ")})`);
    expect(compared.length, `compared ${compared.join(', ')}; pydicom failed ${pydicomFailed.join(', ')}`).toBeGreaterThanOrEqual(18);
  });
});
