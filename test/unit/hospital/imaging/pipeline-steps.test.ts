/**
 * One test block per step of the image pipeline, on data sets built here with known values (what each
 * step must give is computed by hand from PS3.3), plus the typed refusals.
 */
import { describe, expect, it } from 'vitest';

import { put, sequenceElement, textElement, uint16Element, type DicomDataset } from '../../../../site-agent/src/hospital/dicom/dataset.js';
import { Tags, TransferSyntax, tag } from '../../../../site-agent/src/hospital/dicom/dictionary.js';
import { createImageDataset } from '../../../../site-agent/src/hospital/dicom/image.js';
import { encodeDicom } from '../../../../site-agent/src/hospital/dicom/writer.js';
import type { ParsedDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import {
  applyModalityLut,
  applyRescaleAndVoi,
  applyVoi,
  checkPixelData,
  colourToUnit,
  compilePreprocessOptions,
  decodeFrame,
  expandSegmented,
  fitImage,
  framesToDecode,
  frameTransform,
  greyToRgb,
  invertMonochrome1,
  maxIntensity,
  modelInputPreprocessor,
  modalityTransformOf,
  placement,
  preprocessInstance,
  preprocessToModelInput,
  resampleImage,
  resolveVoi,
  rgbToGrey,
} from '../../../../site-agent/src/hospital/imaging/index.js';

const asParsed = (dataset: DicomDataset, transferSyntaxUid: string = TransferSyntax.ExplicitVRLittleEndian): ParsedDicom => ({ meta: new Map(), dataset, transferSyntaxUid, isDicomdir: false, warnings: [] });

/** A 16-bit grey image with the given attributes (keyword → DICOM string). */
function grey16(rows: number, cols: number, pixels: Int16Array | Uint16Array, attributes: Record<string, string> = {}): DicomDataset {
  return createImageDataset({ rows, columns: cols, pixels, attributes: { Modality: 'CT', ...attributes } });
}

const close = (a: ArrayLike<number>, b: readonly number[], eps = 1e-6): void => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs((a[i] as number) - (b[i] as number)), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(eps);
};

describe('decode: checks before decoding, then stored values', () => {
  it('refuses zero-size images, unknown transfer syntaxes and pixel data of the wrong length, each with its code', () => {
    // Arrange
    const ok = grey16(2, 2, new Int16Array([1, 2, 3, 4]));
    const noPixels = grey16(2, 2, new Int16Array(4));
    noPixels.delete(Tags.PixelData);
    const zeroRows = put(grey16(2, 2, new Int16Array(4)), uint16Element(Tags.Rows, 0));
    const short = grey16(2, 2, new Int16Array(4));
    put(short, { tag: Tags.PixelData, vr: 'OW', value: new Uint8Array(6) });
    // Act / Assert
    expect(checkPixelData(asParsed(ok), 'a').description.rows).toBe(2);
    expect(() => checkPixelData(asParsed(noPixels), 'b')).toThrow(expect.objectContaining({ code: 'TESSERA_INPUT_IMAGE_ZERO_SIZE', reason: 'zero-size' }) as Error);
    expect(() => checkPixelData(asParsed(zeroRows), 'c')).toThrow(expect.objectContaining({ code: 'TESSERA_INPUT_IMAGE_ZERO_SIZE' }) as Error);
    expect(() => checkPixelData(asParsed(ok, '1.2.840.10008.1.2.4.100'), 'd')).toThrow(expect.objectContaining({ code: 'TESSERA_INPUT_IMAGE_TRANSFER_SYNTAX', reason: 'unsupported-transfer-syntax' }) as Error);
    expect(() => checkPixelData(asParsed(short), 'e')).toThrow(expect.objectContaining({ code: 'TESSERA_INPUT_IMAGE_PIXEL_LENGTH', reason: 'pixel-length' }) as Error);
  });

  it('honours bits stored, high bit and the sign: 12 bits at high bit 15, signed, with overlay bits below', async () => {
    // Arrange: cells hold value << 4 plus junk in the low 4 bits; -5 and 2047 as 12-bit two's complement.
    const cells = new Uint16Array([((-5 & 0xfff) << 4) | 0xf, (2047 << 4) | 0x3, (-2048 & 0xfff) << 4, 1 << 4]);
    const ds = grey16(2, 2, cells);
    put(ds, uint16Element(Tags.BitsStored, 12));
    put(ds, uint16Element(Tags.HighBit, 15));
    put(ds, uint16Element(Tags.PixelRepresentation, 1));
    const parsed = asParsed(ds);
    // Act
    const values = await decodeFrame(parsed, checkPixelData(parsed, 'x'), 0, 'x');
    // Assert
    expect(Array.from(values)).toEqual([-5, 2047, -2048, 1]);
  });

  it('unpacks native YBR_FULL_422 (Y1 Y2 Cb Cr per pair) and reads planar configuration 1', async () => {
    // Arrange
    const ybr = createImageDataset({ rows: 1, columns: 2, pixels: new Uint8Array(6), photometricInterpretation: 'RGB' });
    put(ybr, textElement(Tags.PhotometricInterpretation, 'CS', 'YBR_FULL_422'));
    put(ybr, { tag: Tags.PixelData, vr: 'OB', value: new Uint8Array([10, 20, 100, 200]) });
    const planar = createImageDataset({ rows: 1, columns: 2, pixels: new Uint8Array([1, 2, 3, 4, 5, 6]), photometricInterpretation: 'RGB' });
    put(planar, uint16Element(Tags.PlanarConfiguration, 1));
    // Act
    const p1 = asParsed(ybr);
    const p2 = asParsed(planar);
    const a = await decodeFrame(p1, checkPixelData(p1, 'y'), 0, 'y');
    const b = await decodeFrame(p2, checkPixelData(p2, 'p'), 0, 'p');
    // Assert
    expect(Array.from(a)).toEqual([10, 100, 200, 20, 100, 200]);
    expect(checkPixelData(p1, 'y').colour).toBe('YBR_FULL');
    expect(Array.from(b)).toEqual([1, 3, 5, 2, 4, 6]);
  });
});

describe('modality LUT', () => {
  it('applies rescale slope and intercept only when both are present, and a Modality LUT Sequence before them', () => {
    const values = new Int32Array([-10, 0, 3, 100]);
    close(applyModalityLut(values, modalityTransformOf(grey16(1, 1, new Int16Array(1), { RescaleSlope: '2', RescaleIntercept: '-1024' }), true)), [-1044, -1024, -1018, -824]);
    expect(modalityTransformOf(grey16(1, 1, new Int16Array(1), { RescaleSlope: '2' }), true).kind).toBe('identity');
    // A 4-entry LUT from stored value 0: values below clamp to entry 0, above to the last.
    const ds = grey16(1, 1, new Int16Array(1), { RescaleSlope: '2', RescaleIntercept: '7' });
    const lut = new Map() as DicomDataset;
    put(lut, uint16Element(tag(0x0028, 0x3002), 4, 0, 12));
    put(lut, uint16Element(tag(0x0028, 0x3006), 100, 200, 300, 4095));
    put(ds, sequenceElement(tag(0x0028, 0x3000), [lut]));
    const t = modalityTransformOf(ds, false);
    expect(t.kind).toBe('table');
    close(applyModalityLut(new Int32Array([-3, 0, 2, 3, 99]), t), [100, 100, 300, 4095, 4095]);
  });
});

describe('VOI LUT', () => {
  const ct = (w: Record<string, string>): DicomDataset => grey16(1, 1, new Int16Array(1), w);

  it('LINEAR, LINEAR_EXACT and SIGMOID follow PS3.3 C.11.2 at and around the window edges', () => {
    const x = new Float32Array([-1000, 39.5 - 39.5, 40, 79, 80, 1000]);
    // LINEAR c=40 w=80: c' = 39.5, w' = 79; x ≤ 0 → 0, x > 79 → 1, else (x − 39.5)/79 + 0.5.
    const lin = resolveVoi(ct({ WindowCenter: '40', WindowWidth: '80' }), { kind: 'header' }, 'CT', true);
    close(applyVoi(x, lin as never), [0, 0, 0.5 + 0.5 / 79, 1, 1, 1]);
    const exact = resolveVoi(put(ct({ WindowCenter: '40', WindowWidth: '80' }), textElement(tag(0x0028, 0x1056), 'CS', 'LINEAR_EXACT')), { kind: 'header' }, 'CT', true);
    close(applyVoi(new Float32Array([0, 40, 60, 80]), exact as never), [0, 0.5, 0.75, 1]);
    const sig = resolveVoi(put(ct({ WindowCenter: '40', WindowWidth: '80' }), textElement(tag(0x0028, 0x1056), 'CS', 'SIGMOID')), { kind: 'header' }, 'CT', true);
    close(applyVoi(new Float32Array([40, 80]), sig as never), [0.5, 1 / (1 + Math.exp(-2))]);
  });

  it('picks one of several header windows, names CT presets, and reports why a source cannot be used', () => {
    const multi = ct({ WindowCenter: '40\\-600', WindowWidth: '400\\1500' });
    expect(resolveVoi(multi, { kind: 'header', index: 1 }, 'CT', true)).toMatchObject({ kind: 'window', center: -600, width: 1500, origin: 'header window 1' });
    expect(resolveVoi(multi, { kind: 'header', index: 2 }, 'CT', true)).toEqual({ reason: 'no Window Center/Width value 2 in the header' });
    expect(resolveVoi(ct({}), { kind: 'named', name: 'mediastinum' }, 'CT', true)).toMatchObject({ center: 50, width: 350 });
    expect(resolveVoi(ct({}), { kind: 'named', name: 'lung' }, 'MR', true)).toMatchObject({ reason: expect.stringContaining('Hounsfield') as unknown });
    expect(resolveVoi(ct({ WindowCenter: '40', WindowWidth: '0' }), { kind: 'header' }, 'CT', true)).toMatchObject({ reason: expect.stringContaining('out of range') as unknown });
  });

  it('normalises by percentiles (numpy linear interpolation) and by range', () => {
    const v = Float32Array.from({ length: 101 }, (_, i) => i);
    const p = frameTransform(v, { kind: 'percentile', low: 10, high: 90 });
    expect(p).toMatchObject({ kind: 'linear', low: 10, high: 90 });
    close(applyVoi(new Float32Array([0, 50, 100]), p), [0, 0.5, 1]);
    expect(frameTransform(v, { kind: 'range' })).toMatchObject({ low: 0, high: 100 });
  });

  it('applies rescale, window or range and MONOCHROME1 inversion in one pass to the same float32 values as the three steps', () => {
    // Arrange: signed and unsigned stored values, edges of the windows included.
    let seed = 11;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const stored = Int32Array.from({ length: 5000 }, (_, i) => (i < 8 ? [-2048, -1, 0, 1, 39, 40, 41, 4095][i]! : Math.floor(rand() * 6144) - 2048));
    const modalities = [{ kind: 'identity' }, { kind: 'rescale', slope: 1, intercept: -1024 }, { kind: 'rescale', slope: 0.37, intercept: 12.5 }] as const;
    const vois = [
      { kind: 'window', center: 40, width: 400, function: 'LINEAR', origin: 'h' },
      { kind: 'window', center: -600, width: 1500, function: 'LINEAR_EXACT', origin: 'h' },
      { kind: 'window', center: 40, width: 1, function: 'LINEAR', origin: 'h' },
      { kind: 'linear', low: -1000, high: 3000, origin: 'r' },
      { kind: 'linear', low: 7, high: 7, origin: 'r' },
    ] as const;
    for (const m of modalities) {
      for (const t of vois) {
        for (const invert of [false, true]) {
          // Act
          const fused = applyRescaleAndVoi(stored, m, t, invert);
          const stepwise = applyVoi(applyModalityLut(stored, m), t);
          if (invert) invertMonochrome1(stepwise);
          // Assert: equal to the bit.
          expect(Array.from(fused)).toEqual(Array.from(stepwise));
        }
      }
    }
  });

  it('finds percentiles by selection exactly as sorting and indexing does (duplicates, plateaus, tiny frames, NaN)', () => {
    // Arrange: the sorted-array reference the selection replaced.
    const reference = (values: Float32Array, p: number): number => {
      const sorted = Float32Array.from(values).sort();
      const pos = (p / 100) * (sorted.length - 1);
      const lo = Math.floor(pos);
      const hi = Math.min(lo + 1, sorted.length - 1);
      return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
    };
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const frames: Float32Array[] = [
      new Float32Array([5]),
      new Float32Array([3, 1]),
      new Float32Array(1000).fill(-1024),
      Float32Array.from({ length: 4097 }, () => Math.floor(rand() * 8)),
      Float32Array.from({ length: 5000 }, (_, i) => (i < 4000 ? 0 : rand() * 4095)),
      Float32Array.from({ length: 3001 }, (_, i) => 3001 - i),
      Float32Array.from({ length: 2500 }, () => (rand() - 0.5) * 3000),
      new Float32Array([2, Number.NaN, 1, 4]),
    ];
    for (const f of frames) {
      for (const [low, high] of [[0.5, 99.5], [0, 100], [10, 90], [50, 50], [99.9, 0.1]] as const) {
        // Act
        const t = frameTransform(f, { kind: 'percentile', low, high });
        // Assert (the input is left as it was)
        expect(t).toMatchObject({ kind: 'linear', low: reference(f, low), high: reference(f, high) });
      }
    }
    expect(Array.from(frames[1]!)).toEqual([3, 1]);
  });

  it('normalises by the stored range through the rescale (pydicom\'s output range): 8-bit without a window is value / 255', async () => {
    const eight = createImageDataset({ rows: 1, columns: 3, pixels: new Uint8Array([0, 51, 255]) });
    const r = await preprocessInstance(asParsed(eight), { size: [1, 3], fallback: { kind: 'stored-range' } });
    expect(Array.from(r.tensors[0]!)).toEqual([0, Math.fround(51 / 255), 1]);
    expect(r.reasons[0]?.message).toMatch(/fell back to the stored range/);
    // Signed 12 bits with rescale 1/−1024: stored −2048..2047 → −3072..1023 HU.
    const ct = grey16(1, 2, new Int16Array([-2048, 2047]), { RescaleSlope: '1', RescaleIntercept: '-1024' });
    put(ct, uint16Element(Tags.BitsStored, 12));
    put(ct, uint16Element(Tags.HighBit, 11));
    const t = await preprocessInstance(asParsed(ct), { size: [1, 2], voi: { kind: 'stored-range' } });
    close(t.tensors[0]!, [0, 1]);
    expect(t.metadata.voi).toMatchObject({ kind: 'linear', origin: 'stored range' });
  });

  it('a missing window falls back with a recorded reason, or is refused with fallback error', async () => {
    const ds = grey16(2, 2, new Int16Array([0, 10, 20, 30]));
    const r = await preprocessInstance(asParsed(ds), { size: [2, 2], fallback: { kind: 'range' } });
    close(r.tensors[0]!, [0, 1 / 3, 2 / 3, 1]);
    expect(r.reasons).toEqual([{ step: 'voi-lut', message: 'no Window Center/Width in the header; fell back to the frame range' }]);
    await expect(preprocessInstance(asParsed(ds), { size: [2, 2], fallback: 'error', source: 'inst-1' })).rejects.toMatchObject({ code: 'TESSERA_INPUT_IMAGE_NO_WINDOW', reason: 'missing-window', message: expect.stringMatching(/^inst-1: /) as unknown });
  });
});

describe('photometric and channels', () => {
  it('inverts MONOCHROME1, converts YBR_FULL to RGB, and turns grey into three channels and back', () => {
    close(invertMonochrome1(new Float32Array([0, 0.25, 1])), [1, 0.75, 0]);
    // Y=128, Cb=Cr=128 is mid grey; Cr=255 pushes red up by 1.402·127.
    const rgb = colourToUnit(new Int32Array([128, 128, 128, 128, 128, 255]), 8, true);
    close(rgb.subarray(0, 3), [128 / 255, 128 / 255, 128 / 255]);
    close(rgb.subarray(3, 6), [1, (128 - 0.714136 * 127) / 255, 128 / 255], 1e-5);
    close(greyToRgb(new Float32Array([0.2, 0.4])), [0.2, 0.2, 0.2, 0.4, 0.4, 0.4]);
    close(rgbToGrey(new Float32Array([1, 0, 0, 0, 1, 0])), [0.299, 0.587]);
  });

  it('expands segmented palettes: discrete, linear and indirect segments', () => {
    // discrete [0, 10], linear to 20 over 2, indirect: 1 segment from word 0 (the discrete one again).
    expect(expandSegmented([0, 2, 0, 10, 1, 2, 20, 2, 1, 0, 0])).toEqual([0, 10, 15, 20, 0, 10]);
  });
});

describe('frame policy', () => {
  it('chooses frames and projects the maximum', () => {
    expect(framesToDecode('first', 5)).toEqual([0]);
    expect(framesToDecode('middle', 5)).toEqual([2]);
    expect(framesToDecode('middle', 4)).toEqual([1]);
    expect(framesToDecode('all', 3)).toEqual([0, 1, 2]);
    close(maxIntensity([new Float32Array([1, 5]), new Float32Array([3, 2])]), [3, 5]);
  });

  it('makes one tensor per frame with all, and one projection with max-intensity', async () => {
    const ds = grey16(1, 2, new Int16Array([0, 100, 50, 0, 100, 100]).subarray(0, 2), { WindowCenter: '50', WindowWidth: '101' });
    put(ds, { tag: Tags.PixelData, vr: 'OW', value: new Uint8Array(new Int16Array([0, 100, 50, 0, 100, 25]).buffer) });
    put(ds, textElement(Tags.NumberOfFrames, 'IS', '3'));
    const all = await preprocessInstance(asParsed(ds), { size: [1, 2], frames: 'all', voi: { kind: 'window', center: 50.5, width: 101 } });
    expect(all.tensors).toHaveLength(3);
    close(all.tensors[1]!, [0.5, 0]);
    const mip = await preprocessInstance(asParsed(ds), { size: [1, 2], frames: 'max-intensity', voi: { kind: 'window', center: 50.5, width: 101 } });
    expect(mip.frameIndices).toEqual([-1]);
    close(mip.tensors[0]!, [1, 1]);
  });
});

describe('resampling', () => {
  it('averages areas when shrinking, exactly, and interpolates bilinearly when growing', () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i); // 4×4
    close(resampleImage(src, 4, 4, 1, 2, 2), [2.5, 4.5, 10.5, 12.5]);
    // 3 → 2 columns: output 0 covers [0, 1.5): (a + b/2) / 1.5
    close(resampleImage(new Float32Array([0, 3, 6]), 1, 3, 1, 1, 2), [1, 5]);
    close(resampleImage(new Float32Array([0, 1]), 1, 2, 1, 1, 4), [0, 0.25, 0.75, 1]);
    // Channels stay apart.
    close(resampleImage(new Float32Array([0, 10, 2, 20]), 1, 2, 2, 1, 1), [1, 15]);
  });

  it('letterboxes keeping the aspect ratio (pixel spacing included) and pads', () => {
    expect(placement(512, 256, 128, 128, 'letterbox')).toEqual({ contentRows: 128, contentCols: 64, top: 0, left: 32 });
    expect(placement(100, 100, 64, 64, 'letterbox', [2, 1])).toEqual({ contentRows: 64, contentCols: 32, top: 0, left: 16 });
    expect(placement(512, 256, 128, 128, 'stretch')).toEqual({ contentRows: 128, contentCols: 128, top: 0, left: 0 });
    const out = fitImage(new Float32Array([1, 1]), 2, 1, 1, 2, 4, placement(2, 1, 2, 4, 'letterbox'), 0.5);
    close(out, [0.5, 1, 0.5, 0.5, 0.5, 1, 0.5, 0.5]);
  });
});

describe('preprocessInstance', () => {
  it('records every step and the metadata, and validates its options naming the field', async () => {
    const ds = grey16(4, 2, new Int16Array([0, 100, 200, 300, 400, 500, 600, 700]), { WindowCenter: '350', WindowWidth: '701', RescaleSlope: '1', RescaleIntercept: '0' });
    const r = await preprocessInstance(asParsed(ds), { size: [2, 2], channels: 3 });
    expect(r.shape).toEqual([2, 2, 3]);
    expect(r.steps.map((s) => s.step)).toEqual(['decode', 'modality-lut', 'frames', 'voi-lut', 'resample', 'channels']);
    expect(r.metadata).toMatchObject({ rows: 4, columns: 2, bitsStored: 16, signed: true, modalityLut: 'rescale', voi: { kind: 'window', center: 350, width: 701 } });
    expect(r.tensors[0]!.length).toBe(12);
    expect(() => compilePreprocessOptions({ size: [0, 64] })).toThrow("'image.size'");
    expect(() => compilePreprocessOptions({ size: [64, 64], voi: { kind: 'named', name: 'elbow' as never } })).toThrow("'image.voi.name'");
  });
});

describe('modelInputPreprocessor (one tensor per instance, for the data check)', () => {
  it('makes one h × w × c tensor from Part 10 bytes, with the fallbacks as notes', async () => {
    const ds = grey16(4, 4, Int16Array.from({ length: 16 }, (_, i) => i * 10));
    const bytes = encodeDicom(ds);
    const r = await preprocessToModelInput(bytes, 'inst-2', [2, 2, 3]);
    expect(r.shape).toEqual([2, 2, 3]);
    expect(r.tensor).toHaveLength(12);
    expect(r.notes).toEqual(['voi-lut: no Window Center/Width in the header; fell back to percentile normalisation']);
    const named = modelInputPreprocessor({ voi: { kind: 'named', name: 'brain' } });
    expect((await named(bytes, 'inst-2', [2, 2, 1])).notes).toEqual([]);
    await expect(named(bytes, 'inst-2', [2, 2, 2])).rejects.toThrow("'image.channels'");
  });
});
