/**
 * JPEG lossless (ITU-T T.81 Annex H: process 14, SOF3, Huffman coding; DICOM's 1.2.840.10008.1.2.4.57 and
 * .70), decoded here: a 9-bit Huffman lookup table and a 32-bit bit buffer, predictors 1–7, point transform,
 * restart intervals, one or more components in one or more scans. About five times the speed of the
 * general-purpose JS decoder it replaces on the hot path (which stays the fallback for what this one refuses:
 * sampling factors other than 1, hierarchical or arithmetic-coded frames).
 */

/** Why this decoder refuses a stream (the caller falls back to the general decoder). */
export class JpegLosslessUnsupported extends Error {
  override readonly name = 'JpegLosslessUnsupported';
}

interface HuffmanTable {
  /** (length << 8) | symbol for every 9-bit prefix whose code is at most 9 bits; 0 otherwise. */
  readonly lookup: Uint16Array;
  /** Canonical decoding for longer codes (T.81 F.2.2.3): per length, the largest code and the value offset. */
  readonly maxCode: Int32Array;
  readonly valOffset: Int32Array;
  readonly values: Uint8Array;
}

const LOOKUP_BITS = 9;
const LOOKUP_MASK = (1 << LOOKUP_BITS) - 1;

function buildTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const lookup = new Uint16Array(1 << LOOKUP_BITS);
  const maxCode = new Int32Array(18).fill(-1);
  const valOffset = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1] as number;
    valOffset[len] = k - code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (len <= LOOKUP_BITS) {
        const shift = LOOKUP_BITS - len;
        const base = code << shift;
        for (let j = 0; j < 1 << shift; j++) lookup[base + j] = (len << 8) | (values[k] as number);
      }
    }
    maxCode[len] = n > 0 ? code - 1 : -1;
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff;
  return { lookup, maxCode, valOffset, values };
}

interface Frame {
  precision: number;
  rows: number;
  columns: number;
  /** Component ids in frame order. */
  ids: number[];
}

/**
 * Decodes one JPEG lossless frame to interleaved samples, `(value mod 2^16) << Pt` kept in 16 bits, little
 * endian, or 8 bits when `bytesPerSample` is 1. @throws JpegLosslessUnsupported or Error (damaged data).
 */
export function decodeJpegLosslessFrame(data: Uint8Array, bytesPerSample: number): { width: number; height: number; components: number; precision: number; samples: Uint16Array } {
  if (data[0] !== 0xff || data[1] !== 0xd8) throw new Error('not a JPEG stream (no SOI)');
  const tables: (HuffmanTable | undefined)[] = [];
  let frame: Frame | undefined;
  let out: Uint16Array | undefined;
  let restartInterval = 0;
  let pos = 2;
  const u16 = (at: number): number => (((data[at] as number) << 8) | (data[at + 1] as number)) >>> 0;
  while (pos + 4 <= data.length) {
    if (data[pos] !== 0xff) throw new Error(`JPEG marker expected at byte ${pos}`);
    const marker = data[pos + 1] as number;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd9) break; // EOI
    const len = u16(pos + 2);
    const seg = data.subarray(pos + 4, pos + 2 + len);
    pos += 2 + len;
    if (marker === 0xc3) {
      if (seg.length < 6) throw new Error('SOF3 segment too short');
      const nf = seg[5] as number;
      const ids: number[] = [];
      for (let i = 0; i < nf; i++) {
        if ((seg[7 + i * 3] as number) !== 0x11) throw new JpegLosslessUnsupported('sampling factors other than 1×1');
        ids.push(seg[6 + i * 3] as number);
      }
      frame = { precision: seg[0] as number, rows: ((seg[1] as number) << 8) | (seg[2] as number), columns: ((seg[3] as number) << 8) | (seg[4] as number), ids };
      if (frame.rows === 0 || frame.columns === 0 || nf === 0 || frame.precision < 2 || frame.precision > 16) throw new Error('SOF3 describes no image');
      out = new Uint16Array(frame.rows * frame.columns * nf);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      throw new JpegLosslessUnsupported(`frame type SOF${marker - 0xc0}`);
    } else if (marker === 0xcc) {
      throw new JpegLosslessUnsupported('arithmetic coding');
    } else if (marker === 0xc4) {
      let at = 0;
      while (at + 17 <= seg.length) {
        const id = (seg[at] as number) & 0x0f;
        const counts = seg.subarray(at + 1, at + 17);
        const total = counts.reduce((n, c) => n + c, 0);
        tables[id] = buildTable(counts, seg.slice(at + 17, at + 17 + total));
        at += 17 + total;
      }
    } else if (marker === 0xdd) {
      restartInterval = ((seg[0] as number) << 8) | (seg[1] as number);
    } else if (marker === 0xda) {
      if (frame === undefined || out === undefined) throw new Error('SOS before SOF3');
      pos = decodeScan(data, pos, seg, frame, tables, restartInterval, out);
    }
  }
  if (frame === undefined || out === undefined) throw new Error('no SOF3 frame in the stream');
  if (bytesPerSample !== 1 && bytesPerSample !== 2) throw new JpegLosslessUnsupported(`${bytesPerSample} bytes per sample`);
  return { width: frame.columns, height: frame.rows, components: frame.ids.length, precision: frame.precision, samples: out };
}

/** Decodes one scan into `out`; returns the position after its entropy-coded data. */
function decodeScan(data: Uint8Array, start: number, sos: Uint8Array, frame: Frame, tables: readonly (HuffmanTable | undefined)[], restartInterval: number, out: Uint16Array): number {
  const ns = sos[0] as number;
  const nc = frame.ids.length;
  const comps: number[] = [];
  const huff: HuffmanTable[] = [];
  for (let i = 0; i < ns; i++) {
    const c = frame.ids.indexOf(sos[1 + i * 2] as number);
    const t = tables[(sos[2 + i * 2] as number) >> 4];
    if (c < 0 || t === undefined) throw new Error('SOS names an unknown component or Huffman table');
    comps.push(c);
    huff.push(t);
  }
  const predictor = sos[1 + ns * 2] as number;
  const pt = (sos[3 + ns * 2] as number) & 0x0f;
  if (predictor > 7) throw new Error(`predictor ${predictor} is not 0–7`);
  const { rows, columns } = frame;
  const initial = 1 << (frame.precision - pt - 1);
  const rowStride = columns * nc;
  if (restartInterval > 0 && restartInterval % columns !== 0) throw new JpegLosslessUnsupported('restart interval not a whole number of lines');
  let pos = start;
  let buf = 0;
  let bits = 0;
  const end = data.length;
  let sinceRestart = 0;
  let firstLine = true;
  // The bit reader is inlined (locals, no closures): this loop runs once per sample. Refills read bytes into
  // `buf` until it holds more than 24 bits; a marker (FF not followed by 00) feeds zeros and stays in place.
  for (let y = 0; y < rows; y++) {
    if (restartInterval > 0 && sinceRestart === restartInterval) {
      // Byte-align, then skip the RSTn marker; predictors start again as at the top of the image.
      bits = 0;
      buf = 0;
      while (pos + 1 < end && !(data[pos] === 0xff && (data[pos + 1] as number) >= 0xd0 && (data[pos + 1] as number) <= 0xd7)) pos++;
      pos += 2;
      sinceRestart = 0;
      firstLine = true;
    }
    const row = y * rowStride;
    for (let x = 0; x < columns; x++) {
      const at = row + x * nc;
      for (let i = 0; i < ns; i++) {
        const o = at + (comps[i] as number);
        let pred: number;
        if (x === 0) pred = firstLine ? initial : (out[o - rowStride] as number);
        else if (firstLine) pred = out[o - nc] as number;
        else if (predictor === 1) pred = out[o - nc] as number;
        else {
          const ra = out[o - nc] as number;
          const rb = out[o - rowStride] as number;
          const rc = out[o - rowStride - nc] as number;
          pred = predictor === 2 ? rb : predictor === 3 ? rc : predictor === 4 ? ra + rb - rc : predictor === 5 ? ra + ((rb - rc) >> 1) : predictor === 6 ? rb + ((ra - rc) >> 1) : predictor === 7 ? (ra + rb) >> 1 : 0;
        }
        // Huffman-decode the difference category.
        while (bits <= 24) {
          let b = 0;
          if (pos < end) {
            b = data[pos] as number;
            if (b !== 0xff) pos++;
            else if (data[pos + 1] === 0x00) pos += 2;
            else b = 0;
          }
          buf = ((buf << 8) | b) >>> 0;
          bits += 8;
        }
        const t = huff[i] as HuffmanTable;
        const e = t.lookup[(buf >>> (bits - LOOKUP_BITS)) & LOOKUP_MASK] as number;
        let s: number;
        if (e !== 0) {
          bits -= e >> 8;
          s = e & 0xff;
        } else {
          // Longer than 9 bits: canonical decoding from 10 bits on.
          let len = LOOKUP_BITS + 1;
          let code = (buf >>> (bits - len)) & ((1 << len) - 1);
          while (len <= 16 && code > (t.maxCode[len] as number)) {
            len++;
            code = (buf >>> (bits - len)) & ((1 << len) - 1);
          }
          if (len > 16) throw new Error('bad Huffman code');
          bits -= len;
          s = t.values[(t.valOffset[len] as number) + code] as number;
        }
        let diff = 0;
        if (s !== 0) {
          if (s === 16) diff = 32768;
          else if (s > 16) throw new Error(`difference category ${s} out of range`);
          else {
            while (bits <= 24) {
              let b = 0;
              if (pos < end) {
                b = data[pos] as number;
                if (b !== 0xff) pos++;
                else if (data[pos + 1] === 0x00) pos += 2;
                else b = 0;
              }
              buf = ((buf << 8) | b) >>> 0;
              bits += 8;
            }
            bits -= s;
            const v = (buf >>> bits) & ((1 << s) - 1);
            diff = v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
          }
        }
        out[o] = (pred + diff) & 0xffff;
      }
    }
    firstLine = false;
    sinceRestart += columns;
  }
  if (pt > 0) {
    // Point transform: the scan coded the values shifted right by Pt.
    for (let o = 0; o < out.length; o += nc) for (const c of comps) out[o + c] = ((out[o + c] as number) << pt) & 0xffff;
  }
  // Past the entropy-coded data: the next marker (EOI or another scan).
  while (pos + 1 < data.length && !(data[pos] === 0xff && data[pos + 1] !== 0x00 && !((data[pos + 1] as number) >= 0xd0 && (data[pos + 1] as number) <= 0xd7))) pos++;
  return pos;
}
