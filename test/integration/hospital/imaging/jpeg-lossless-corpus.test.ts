/**
 * The JPEG lossless decoder (dicom/jpeg-lossless.ts) gives the general decoder's samples (jpeg-lossless-decoder-js,
 * which it replaced on the hot path) for every frame of every JPEG lossless file in the shared corpus.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { decodeJpegLosslessGeneral } from '../../../../site-agent/src/hospital/dicom/codecs.js';
import { Tags, TransferSyntax } from '../../../../site-agent/src/hospital/dicom/dictionary.js';
import { decodeJpegLosslessFrame } from '../../../../site-agent/src/hospital/dicom/jpeg-lossless.js';
import { parseDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { encapsulatedFrame, pixelDescription } from '../../../../site-agent/src/hospital/dicom/pixels.js';

const corpus = path.join(sharedDataDir(), 'dicom');
const LOSSLESS: ReadonlySet<string> = new Set([TransferSyntax.JpegLosslessProcess14, TransferSyntax.JpegLosslessSV1]);

describe.skipIf(!existsSync(path.join(corpus, 'MANIFEST.tsv')))('JPEG lossless on the corpus', () => {
  it('decodes every frame as the general decoder does (within Bits Stored)', () => {
    let frames = 0;
    for (const e of readdirSync(corpus, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith('.dcm'))) {
      let parsed;
      try {
        parsed = parseDicom(readFileSync(path.join(e.parentPath, e.name)), e.name);
      } catch {
        continue;
      }
      const px = parsed.dataset.get(Tags.PixelData)?.encapsulated;
      if (!LOSSLESS.has(parsed.transferSyntaxUid) || px === undefined) continue;
      const d = pixelDescription(parsed.dataset, e.name);
      const bytesPerSample = Math.max(1, d.bitsAllocated / 8);
      const mask = 2 ** d.bitsStored - 1;
      for (let i = 0; i < d.frames; i++) {
        const data = encapsulatedFrame(px.fragments, px.offsetTable, d.frames, i);
        const general = decodeJpegLosslessGeneral(data, bytesPerSample);
        const fast = decodeJpegLosslessFrame(data, bytesPerSample);
        const want = bytesPerSample === 1 ? general.data : new Uint16Array(general.data.buffer, general.data.byteOffset, general.data.length / 2);
        const n = d.rows * d.columns * d.samplesPerPixel;
        let mismatches = 0;
        for (let k = 0; k < n; k++) if (((fast.samples[k] as number) & mask) !== ((want[k] as number) & mask)) mismatches++;
        expect({ file: e.name, frame: i, mismatches }).toEqual({ file: e.name, frame: i, mismatches: 0 });
        frames++;
      }
    }
    expect(frames).toBeGreaterThanOrEqual(9);
  });
});
