/**
 * Every image in the shared DICOM corpus that a bundled codec decodes reaches a tensor at a model input
 * size; every other file is refused with a typed reason (never an untyped crash), as a data check reports it.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { parseDicom, type ParsedDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { ImagePipelineError, preprocessInstance } from '../../../../site-agent/src/hospital/imaging/index.js';

const corpus = path.join(sharedDataDir(), 'dicom');

/** Files refused on purpose, with the reason: 12-bit lossy JPEG (no bundled decoder), damaged data. */
const REFUSED: Readonly<Record<string, string>> = {
  'dicomparser/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm': 'unsupported-transfer-syntax',
  'pydicom/JPEG-lossy.dcm': 'unsupported-transfer-syntax',
  'pydicom/JPEG2000-embedded-sequence-delimiter.dcm': 'decode-failed',
  'pydicom/badVR.dcm': 'pixel-length',
};

describe.skipIf(!existsSync(path.join(corpus, 'MANIFEST.tsv')))('the image pipeline on the whole corpus', () => {
  it('makes 128×128 tensors of every decodable image and refuses the rest with a reason', { timeout: 300_000 }, async () => {
    const made: string[] = [];
    const reasons = new Map<string, string>();
    for (const dir of readdirSync(corpus, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
      for (const f of readdirSync(path.join(corpus, dir)).sort()) {
        const rel = `${dir}/${f}`;
        let parsed: ParsedDicom;
        try {
          parsed = parseDicom(readFileSync(path.join(corpus, rel)), rel);
        } catch {
          continue; // not Part 10: the gate's concern, not the pipeline's
        }
        try {
          const r = await preprocessInstance(parsed, { size: [128, 128], channels: 3, frames: 'middle', source: rel });
          expect(r.tensors).toHaveLength(1);
          const t = r.tensors[0]!;
          expect(t.length).toBe(128 * 128 * 3);
          expect(t.every((v) => v >= 0 && v <= 1), rel).toBe(true);
          made.push(rel);
        } catch (err) {
          expect(err, rel).toBeInstanceOf(ImagePipelineError);
          reasons.set(rel, (err as ImagePipelineError).reason);
        }
      }
    }
    for (const [rel, reason] of Object.entries(REFUSED)) expect(reasons.get(rel), rel).toBe(reason);
    // Everything else refused has no image at all (reports, waveforms, plans, DICOMDIR).
    for (const [rel, reason] of reasons) if (!(rel in REFUSED)) expect(reason, rel).toBe('zero-size');
    expect(made.length).toBeGreaterThanOrEqual(50);
  });
});
