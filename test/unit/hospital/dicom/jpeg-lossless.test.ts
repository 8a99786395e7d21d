/**
 * The JPEG lossless decoder (dicom/jpeg-lossless.ts) on streams written byte by byte here (T.81 Annex H:
 * every predictor, point transform, restart intervals, byte stuffing, three interleaved components, category 16),
 * each checked against the samples that were encoded and against the general decoder it stands in front of.
 */
import { describe, expect, it } from 'vitest';

import { decodeJpegLossless, decodeJpegLosslessGeneral } from '../../../../site-agent/src/hospital/dicom/codecs.js';
import { decodeJpegLosslessFrame, JpegLosslessUnsupported } from '../../../../site-agent/src/hospital/dicom/jpeg-lossless.js';

interface Stream {
  rows: number;
  columns: number;
  components: number;
  precision: number;
  predictor: number;
  pt?: number;
  restartLines?: number;
  /** Interleaved samples, already multiples of 2^pt. */
  samples: Uint16Array;
}

/** A minimal lossless encoder: one Huffman table giving every category 0–16 a 5-bit code (canonical order). */
function encode(s: Stream): Uint8Array {
  const pt = s.pt ?? 0;
  const bytes: number[] = [0xff, 0xd8];
  const seg = (marker: number, body: number[]): void => {
    bytes.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  };
  const counts = new Array<number>(16).fill(0);
  counts[4] = 17;
  seg(0xc4, [0x00, ...counts, ...Array.from({ length: 17 }, (_, i) => i)]);
  if (s.restartLines !== undefined) seg(0xdd, [(s.restartLines * s.columns) >> 8, (s.restartLines * s.columns) & 0xff]);
  seg(0xc3, [s.precision, s.rows >> 8, s.rows & 0xff, s.columns >> 8, s.columns & 0xff, s.components, ...Array.from({ length: s.components }, (_, i) => [i + 1, 0x11, 0]).flat()]);
  seg(0xda, [s.components, ...Array.from({ length: s.components }, (_, i) => [i + 1, 0x00]).flat(), s.predictor, 0, pt]);
  let acc = 0;
  let n = 0;
  const put = (value: number, len: number): void => {
    for (let b = len - 1; b >= 0; b--) {
      acc = (acc << 1) | ((value >> b) & 1);
      if (++n === 8) {
        bytes.push(acc);
        if (acc === 0xff) bytes.push(0x00);
        acc = 0;
        n = 0;
      }
    }
  };
  const flush = (): void => {
    if (n > 0) put(0x7f, 8 - n); // pad with ones
  };
  const nc = s.components;
  const v = (y: number, x: number, c: number): number => (s.samples[(y * s.columns + x) * nc + c] as number) >> pt;
  let restart = 0;
  let firstLine = 0;
  for (let y = 0; y < s.rows; y++) {
    if (s.restartLines !== undefined && y > 0 && y % s.restartLines === 0) {
      flush();
      bytes.push(0xff, 0xd0 + (restart++ % 8));
      firstLine = y;
    }
    for (let x = 0; x < s.columns; x++) {
      for (let c = 0; c < nc; c++) {
        let pred: number;
        if (x === 0) pred = y === firstLine ? 1 << (s.precision - pt - 1) : v(y - 1, x, c);
        else if (y === firstLine) pred = v(y, x - 1, c);
        else {
          const [ra, rb, rc] = [v(y, x - 1, c), v(y - 1, x, c), v(y - 1, x - 1, c)];
          pred = [0, ra, rb, rc, ra + rb - rc, ra + ((rb - rc) >> 1), rb + ((ra - rc) >> 1), (ra + rb) >> 1][s.predictor] as number;
        }
        let diff = (v(y, x, c) - pred) & 0xffff;
        if (diff >= 0x8000) diff -= 0x10000;
        if (diff === -32768) {
          put(16, 5);
          continue;
        }
        const cat = diff === 0 ? 0 : 32 - Math.clz32(Math.abs(diff));
        put(cat, 5);
        if (cat > 0) put(diff < 0 ? diff + (1 << cat) - 1 : diff, cat);
      }
    }
  }
  flush();
  bytes.push(0xff, 0xd9);
  return Uint8Array.from(bytes);
}

function image(rows: number, columns: number, components: number, max: number, pt = 0, seed = 3): Uint16Array {
  let r = seed;
  const out = new Uint16Array(rows * columns * components);
  for (let i = 0; i < out.length; i++) {
    r = (r * 1103515245 + 12345) % 2 ** 31;
    // Smooth ramps with noise, plus a few extremes (large differences, category 15 and 16).
    const smooth = ((i * 37) % (max + 1)) ^ (r % 7);
    out[i] = ((i % 97 === 0 ? max : i % 89 === 0 ? 0 : smooth % (max + 1)) >> pt) << pt;
  }
  return out;
}

describe('JPEG lossless decoder', () => {
  const cases: [string, Stream][] = [];
  for (let p = 1; p <= 7; p++) cases.push([`predictor ${p}, 16 bits`, { rows: 9, columns: 11, components: 1, precision: 16, predictor: p, samples: image(9, 11, 1, 65535, 0, p) }]);
  cases.push(['12 bits, point transform 2, restart every 3 lines', { rows: 10, columns: 7, components: 1, precision: 12, predictor: 6, pt: 2, restartLines: 3, samples: image(10, 7, 1, 4095, 2) }]);
  cases.push(['8 bits, three interleaved components, restart every line', { rows: 5, columns: 6, components: 3, precision: 8, predictor: 4, restartLines: 1, samples: image(5, 6, 3, 255) }]);
  cases.push(['category 16 (a difference of 32768)', { rows: 2, columns: 3, components: 1, precision: 16, predictor: 1, samples: Uint16Array.from([0, 32768, 0, 65535, 32767, 32767]) }]);

  it.each(cases)('decodes %s to the encoded samples, as the general decoder does', (_name, s) => {
    // Arrange
    const stream = encode(s);
    // Act
    const fast = decodeJpegLosslessFrame(stream, 2);
    const general = decodeJpegLosslessGeneral(stream, 2);
    // Assert
    expect(fast).toMatchObject({ width: s.columns, height: s.rows, components: s.components, precision: s.precision });
    expect(Array.from(fast.samples)).toEqual(Array.from(s.samples));
    if ((s.pt ?? 0) === 0 && s.restartLines === undefined) expect(Array.from(new Uint16Array(general.data.buffer, general.data.byteOffset, general.data.length / 2))).toEqual(Array.from(s.samples));
  });

  it('hands 8-bit samples back one byte each through the codec entry', () => {
    const s: Stream = { rows: 4, columns: 5, components: 1, precision: 8, predictor: 1, samples: image(4, 5, 1, 255) };
    const frame = decodeJpegLossless(encode(s), 1);
    expect(frame).toMatchObject({ width: 5, height: 4, bitsPerSample: 8, components: 1 });
    expect(Array.from(frame.data)).toEqual(Array.from(s.samples));
  });

  it('refuses what it does not decode (the codec entry then uses the general decoder) and damaged streams', () => {
    const s: Stream = { rows: 2, columns: 2, components: 1, precision: 8, predictor: 1, samples: Uint16Array.from([1, 2, 3, 4]) };
    const subsampled = encode(s);
    // SOF3's first component: sampling factors 2×1.
    const sof = subsampled.findIndex((b, i) => b === 0xff && subsampled[i + 1] === 0xc3);
    subsampled[sof + 4 + 7] = 0x21;
    expect(() => decodeJpegLosslessFrame(subsampled, 1)).toThrow(JpegLosslessUnsupported);
    expect(() => decodeJpegLosslessFrame(Uint8Array.from([0xff, 0xd8, 0xff, 0xc1, 0, 2]), 1)).toThrow(JpegLosslessUnsupported);
    expect(() => decodeJpegLosslessFrame(Uint8Array.from([0x00, 0x01]), 1)).toThrow(/not a JPEG stream/);
    expect(() => decodeJpegLosslessFrame(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]), 1)).toThrow(/no SOF3/);
  });
});
