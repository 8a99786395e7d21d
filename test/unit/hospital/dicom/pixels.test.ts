import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { createImageDataset, encodeDicom, Tags, textElement, uint16Element } from '../../../../site-agent/src/hospital/dicom/index.js';
import { parseDicom, type ParsedDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { decodeModelInput, decodeStoredFrame, resample, toModelInput } from '../../../../site-agent/src/hospital/dicom/pixels.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

const corpus = path.join(sharedDataDir(), 'dicom');
const present = existsSync(path.join(corpus, 'MANIFEST.tsv'));
const load = (rel: string): ParsedDicom => parseDicom(readFileSync(path.join(corpus, rel)), rel);

async function stored(rel: string, frame = 0): Promise<Int32Array> {
  return (await decodeStoredFrame(load(rel), frame, rel)).values;
}

describe.skipIf(!present)('decodeStoredFrame on real files: every lossless encoding of an image decodes to the same values', () => {
  const groups: Record<string, string[]> = {
    'CT1 (512×512, signed 16-bit)': [
      'dicomparser/CT1_UNC.explicit_little_endian.dcm',
      'dicomparser/CT1_UNC.implicit_little_endian.dcm',
      'dicomparser/CT1_UNC.explicit_big_endian.dcm',
      'dicomparser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm',
      'fo-dicom/D_CLUNIE_CT1_RLE_FRAGS.dcm',
    ],
    'MR_small (64×64)': [
      'pydicom/MR_small.dcm',
      'pydicom/MR_small_bigendian.dcm',
      'pydicom/MR_small_RLE.dcm',
      'pydicom/MR_small_jpeg_ls_lossless.dcm',
      'pydicom/MR_small_jp2klossless.dcm',
    ],
  };
  for (const [name, files] of Object.entries(groups)) {
    it(name, async () => {
      const reference = await stored(files[0]!);
      for (const f of files.slice(1)) expect(Buffer.from((await stored(f)).buffer).equals(Buffer.from(reference.buffer)), f).toBe(true);
    });
  }

  it('multi-frame CT0012, both frames, JPEG lossless 14 / 14 SV1 / RLE with offset table, and near-lossless JPEG-LS within its error bound', async () => {
    for (const frame of [0, 1]) {
      const rle = await stored('dicomparser/CT0012.not_fragmented_bot_rle.dcm', frame);
      for (const f of ['dicomparser/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm', 'dicomparser/CT0012.fragmented_no_bot_jpeg_lossless.70.dcm']) {
        expect(Buffer.from((await stored(f, frame)).buffer).equals(Buffer.from(rle.buffer)), `${f} frame ${frame}`).toBe(true);
      }
      const nearLossless = await stored('dicomparser/CT0012.fragmented_no_bot_jpeg_ls.81.dcm', frame);
      let maxErr = 0;
      nearLossless.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - rle[i]!))));
      expect(maxErr).toBeGreaterThan(0);
      expect(maxErr).toBeLessThanOrEqual(10);
    }
  });

  it('decodes JPEG baseline colour and multi-frame files, JPEG 2000 lossy and deflated frames', async () => {
    const us = await decodeStoredFrame(load('dicomparser/IM00001.fragmented_no_bot_jpeg_baseline.50.dcm'), 7, 'us');
    expect(us.description).toMatchObject({ rows: 240, columns: 320, samplesPerPixel: 3, frames: 8 });
    const xa = await decodeStoredFrame(load('fo-dicom/HasFragmentSequence.dcm'), 95, 'xa');
    expect(xa.values.length).toBe(512 * 512);
    expect((await stored('pydicom/693_J2KI.dcm')).length).toBe(512 * 512);
    expect((await stored('pydicom-data/liver_deflate.dcm', 2)).length).toBe(512 * 512);
  });

  it('decodes HTJ2K: the lossy file stays within a few levels of the lossless one', async () => {
    const lossless = await stored('pydicom-data/HTJ2KLossless_08_RGB.dcm');
    const lossy = await stored('pydicom-data/HTJ2K_08_RGB.dcm');
    expect(lossless.length).toBe(480 * 640 * 3);
    let sum = 0;
    lossless.forEach((v, i) => (sum += Math.abs(v - lossy[i]!)));
    expect(sum / lossless.length).toBeLessThan(8);
    expect(new Set(lossless).size).toBeGreaterThan(100);
  });

  it('refuses what it cannot decode with TESSERA_INPUT_DICOM_PIXELS and a reason', async () => {
    await expect(stored('pydicom/JPEG-lossy.dcm')).rejects.toMatchObject({ code: 'TESSERA_INPUT_DICOM_PIXELS', message: /12-bit JPEG extended/ });
    await expect(stored('pydicom/JPEG2000-embedded-sequence-delimiter.dcm')).rejects.toMatchObject({ code: 'TESSERA_INPUT_DICOM_PIXELS' });
  });

  it('makes a 28×28 model input in [0, 1] from a CT with its window', async () => {
    const x = await decodeModelInput(load('pydicom/CT_small.dcm'), 'ct', { size: [28, 28] });
    expect(x.length).toBe(28 * 28);
    expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
    expect(new Set(x).size).toBeGreaterThan(50);
  });
});

describe('stored values, modality LUT, VOI and MONOCHROME1 (synthetic images)', () => {
  it('keeps Bits Stored bits only and sign-extends signed pixels', async () => {
    // 12 bits stored in 16: 0xF800 | 0x0FFF has junk in the top bits; as signed 12-bit 0xFFF is -1, 0x800 is -2048.
    const ds = createImageDataset({ rows: 1, columns: 3, pixels: Uint16Array.from([0xf000 | 0x0fff, 0x0800, 0x07ff]) });
    ds.set(Tags.BitsStored, uint16Element(Tags.BitsStored, 12));
    ds.set(Tags.HighBit, uint16Element(Tags.HighBit, 11));
    ds.set(Tags.PixelRepresentation, uint16Element(Tags.PixelRepresentation, 1));
    const frame = await decodeStoredFrame(parseDicom(encodeDicom(ds), 's'), 0, 's');
    expect([...frame.values]).toEqual([-1, -2048, 2047]);
  });

  it('applies rescale slope/intercept then the file window, and inverts MONOCHROME1', async () => {
    // stored 0, 100, 200 → HU -1000, 0, 1000 (slope 10, intercept -1000); window 0 ± 500 → 0, 0.5005, 1
    const ds = createImageDataset({ rows: 1, columns: 3, pixels: Uint16Array.from([0, 100, 200]) });
    for (const [t, v] of [[Tags.RescaleSlope, '10'], [Tags.RescaleIntercept, '-1000'], [Tags.WindowCenter, '0'], [Tags.WindowWidth, '1000']] as const) ds.set(t, textElement(t, 'DS', v));
    const parsed = parseDicom(encodeDicom(ds), 's');
    const frame = await decodeStoredFrame(parsed, 0, 's');
    const x = toModelInput(frame, parsed.dataset, { size: [1, 3] });
    expect(x[0]).toBe(0);
    expect(x[1]).toBeCloseTo(0.5005, 3);
    expect(x[2]).toBe(1);
    parsed.dataset.set(Tags.PhotometricInterpretation, textElement(Tags.PhotometricInterpretation, 'CS', 'MONOCHROME1'));
    const inverted = toModelInput(await decodeStoredFrame(parsed, 0, 's'), parsed.dataset, { size: [1, 3] });
    expect(inverted[0]).toBe(1);
    expect(inverted[2]).toBe(0);
  });

  it('resamples by area average when shrinking and bilinearly when growing', () => {
    // 2×4 → 1×2: each output is the mean of a 2×2 block.
    expect([...resample(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 2, 4, 1, 2)]).toEqual([2.5, 4.5]);
    // 1×2 → 1×4: bilinear between the two samples, edges clamped.
    expect([...resample(Float32Array.from([0, 1]), 1, 2, 1, 4)]).toEqual([0, 0.25, 0.75, 1]);
  });
});
