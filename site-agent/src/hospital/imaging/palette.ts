/**
 * PALETTE COLOR (PS3.3 C.7.6.3.1.5, C.7.9): stored values index red, green and blue lookup tables, plain or
 * segmented (discrete, linear and indirect segments, C.7.9.2), as pydicom's `apply_color_lut` reads them.
 */
import type { DicomDataset } from '../dicom/dataset.js';
import { tag } from '../dicom/dictionary.js';

/** The three tables of a palette, each as long as its descriptor says, and their nominal depth. */
export interface Palette {
  readonly firstMapped: number;
  readonly bits: number;
  readonly red: Uint16Array;
  readonly green: Uint16Array;
  readonly blue: Uint16Array;
}

const DESCRIPTOR = [tag(0x0028, 0x1101), tag(0x0028, 0x1102), tag(0x0028, 0x1103)] as const;
const DATA = [tag(0x0028, 0x1201), tag(0x0028, 0x1202), tag(0x0028, 0x1203)] as const;
const SEGMENTED = [tag(0x0028, 0x1221), tag(0x0028, 0x1222), tag(0x0028, 0x1223)] as const;

function words(bytes: Uint8Array, eight: boolean): number[] {
  if (eight) return Array.from(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: bytes.length >> 1 }, (_, i) => view.getUint16(i * 2, true));
}

/** Expands a segmented LUT (PS3.3 C.7.9.2): discrete (0), linear (1) and indirect (2) segments. */
export function expandSegmented(data: readonly number[], maxSegments = Number.POSITIVE_INFINITY, previous?: number, depth = 0): number[] {
  const lut: number[] = [];
  let offset = 0;
  let segments = 0;
  while (offset + 1 < data.length && segments < maxSegments) {
    const opcode = data[offset] as number;
    const length = data[offset + 1] as number;
    offset += 2;
    if (opcode === 0) {
      lut.push(...data.slice(offset, offset + length));
      offset += length;
    } else if (opcode === 1) {
      const y0 = lut.length > 0 ? (lut[lut.length - 1] as number) : previous;
      if (y0 === undefined) throw new Error('linear segment with no previous value');
      const y1 = data[offset++] as number;
      for (let i = 1; i <= length; i++) lut.push(Math.round(y0 + ((y1 - y0) * i) / length));
    } else if (opcode === 2) {
      if (depth > 4) throw new Error('indirect segments nest too deep');
      const at = (data[offset] as number) | ((data[offset + 1] as number) << 16);
      offset += 2;
      lut.push(...expandSegmented(data.slice(at), length, lut[lut.length - 1] ?? previous, depth + 1));
    } else {
      throw new Error(`unknown segment opcode ${opcode}`);
    }
    segments++;
  }
  return lut;
}

/** Reads the palette of a PALETTE COLOR image; a string says why it cannot be used. */
export function readPalette(ds: DicomDataset): Palette | string {
  const tables: Uint16Array[] = [];
  let firstMapped = 0;
  let bits = 16;
  for (let c = 0; c < 3; c++) {
    const desc = ds.get(DESCRIPTOR[c] as number)?.value;
    if (desc === undefined || desc.length < 6) return 'no Palette Color Lookup Table Descriptor';
    const view = new DataView(desc.buffer, desc.byteOffset, desc.length);
    const entries = view.getUint16(0, true) || 65536;
    firstMapped = view.getUint16(2, true);
    bits = view.getUint16(4, true);
    if (bits !== 8 && bits !== 16) return `palette entries of ${bits} bits (8 or 16 expected)`;
    const plain = ds.get(DATA[c] as number)?.value;
    const segmented = ds.get(SEGMENTED[c] as number)?.value;
    let values: number[];
    try {
      if (plain !== undefined) values = words(plain, bits === 8 && plain.length === entries);
      else if (segmented !== undefined) values = expandSegmented(words(segmented, bits === 8));
      else return 'no Palette Color Lookup Table Data';
    } catch (err) {
      return `segmented palette: ${err instanceof Error ? err.message : 'unreadable'}`;
    }
    if (values.length < entries) return `palette has ${values.length} entries, its descriptor says ${entries}`;
    tables.push(Uint16Array.from(values.slice(0, entries)));
  }
  const [red, green, blue] = tables as [Uint16Array, Uint16Array, Uint16Array];
  return { firstMapped, bits, red, green, blue };
}

/** Stored indices → interleaved RGB in [0, 1] (indices outside the table take its first or last entry). */
export function paletteToUnit(values: Int32Array, p: Palette): Float32Array {
  const max = 2 ** p.bits - 1;
  const n = p.red.length;
  const out = new Float32Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const k = (values[i] as number) - p.firstMapped;
    const j = k <= 0 ? 0 : k >= n ? n - 1 : k;
    out[i * 3] = (p.red[j] as number) / max;
    out[i * 3 + 1] = (p.green[j] as number) / max;
    out[i * 3 + 2] = (p.blue[j] as number) / max;
  }
  return out;
}
