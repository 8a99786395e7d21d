/**
 * Step 2: the Modality LUT (PS3.3 C.11.1): stored values → modality values (Hounsfield units for CT).
 * A Modality LUT Sequence wins over Rescale Slope/Intercept, as in pydicom's `apply_modality_lut`; rescale
 * applies only when both attributes are present (the Modality LUT module makes them type 1 together).
 */
import { getNumber, type DicomDataset } from '../dicom/dataset.js';
import { Tags, tag } from '../dicom/dictionary.js';

/** Modality LUT Sequence, LUT Descriptor, LUT Data (PS3.3 C.11.1). */
export const LutTags = {
  ModalityLUTSequence: tag(0x0028, 0x3000),
  LUTDescriptor: tag(0x0028, 0x3002),
  LUTData: tag(0x0028, 0x3006),
  VOILUTSequence: tag(0x0028, 0x3010),
  VOILUTFunction: tag(0x0028, 0x1056),
} as const;

/** A LUT from a sequence item: entries, first stored value mapped, bits per entry, the table. */
export interface LutTable {
  readonly firstMapped: number;
  readonly bits: number;
  readonly data: Uint16Array;
}

/** How stored values become modality values. */
export type ModalityTransform =
  | { readonly kind: 'identity' }
  | { readonly kind: 'rescale'; readonly slope: number; readonly intercept: number }
  | { readonly kind: 'table'; readonly table: LutTable };

/**
 * Reads a LUT item (LUT Descriptor and LUT Data); `undefined` when either is missing or inconsistent.
 * A descriptor's first value 0 means 65536 entries; its second is read signed when `signedFirst`.
 */
export function readLutItem(item: DicomDataset, signedFirst: boolean): LutTable | undefined {
  const desc = item.get(LutTags.LUTDescriptor)?.value;
  const data = item.get(LutTags.LUTData)?.value;
  if (desc === undefined || data === undefined || desc.length < 6) return undefined;
  const view = new DataView(desc.buffer, desc.byteOffset, desc.length);
  const entries = view.getUint16(0, true) || 65536;
  const firstMapped = signedFirst ? view.getInt16(2, true) : view.getUint16(2, true);
  const bits = view.getUint16(4, true);
  if (bits < 1 || bits > 16) return undefined;
  // LUT Data is US or OW, 16 bits per entry whatever `bits` says (PS3.3 C.11.1.1.1).
  if (data.length < entries * 2) return undefined;
  const table = new Uint16Array(entries);
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < entries; i++) table[i] = dv.getUint16(i * 2, true);
  return { firstMapped, bits, data: table };
}

/** The modality transform the header describes. */
export function modalityTransformOf(ds: DicomDataset, signed: boolean): ModalityTransform {
  const seq = ds.get(LutTags.ModalityLUTSequence)?.items?.[0];
  if (seq !== undefined) {
    const table = readLutItem(seq, signed);
    if (table !== undefined) return { kind: 'table', table };
  }
  const slope = getNumber(ds, Tags.RescaleSlope);
  const intercept = getNumber(ds, Tags.RescaleIntercept);
  if (slope !== undefined && intercept !== undefined) return { kind: 'rescale', slope, intercept };
  return { kind: 'identity' };
}

/** Looks `v` up in a LUT: values below the first mapped take entry 0, values past the end the last entry. */
export function lookUp(table: LutTable, v: number): number {
  const i = v - table.firstMapped;
  const n = table.data.length;
  return table.data[i <= 0 ? 0 : i >= n ? n - 1 : i] as number;
}

/** Applies the transform to stored values (grey images; colour samples pass through as numbers). */
export function applyModalityLut(values: Int32Array, transform: ModalityTransform): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  switch (transform.kind) {
    case 'identity':
      out.set(values);
      break;
    case 'rescale': {
      const { slope, intercept } = transform;
      for (let i = 0; i < n; i++) out[i] = (values[i] as number) * slope + intercept;
      break;
    }
    case 'table':
      for (let i = 0; i < n; i++) out[i] = lookUp(transform.table, values[i] as number);
      break;
  }
  return out;
}

/**
 * The range of modality values the stored range maps to (pydicom's `y_min`/`y_max` in `apply_windowing`):
 * the LUT's output range for a table, else the stored range (Bits Stored, signed or not) through the rescale.
 */
export function modalityRange(transform: ModalityTransform, bitsStored: number, signed: boolean): [number, number] {
  if (transform.kind === 'table') return [0, 2 ** transform.table.bits - 1];
  let lo = signed ? -(2 ** (bitsStored - 1)) : 0;
  let hi = signed ? 2 ** (bitsStored - 1) - 1 : 2 ** bitsStored - 1;
  if (transform.kind === 'rescale') {
    [lo, hi] = [lo * transform.slope + transform.intercept, hi * transform.slope + transform.intercept];
    if (lo > hi) [lo, hi] = [hi, lo];
  }
  return [lo, hi];
}
