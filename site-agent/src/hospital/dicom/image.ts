/**
 * Building a new DICOM image from pixels plus attributes (used by converters that turn other image
 * formats into DICOM, e.g. MedMNIST arrays). Writes a single-frame grayscale or RGB image, 8 or 16 bits,
 * native (uncompressed) pixel data; the SOP class defaults to Secondary Capture Image Storage.
 */
import { randomBytes } from 'node:crypto';

import { ConfigError } from '../../../../shared/src/errors.js';
import { put, textElement, uint16Element, type DicomDataset } from './dataset.js';
import { KEYWORDS, SopClass, Tags } from './dictionary.js';

/** Input for {@link createImageDataset}. */
export interface ImageInput {
  readonly rows: number;
  readonly columns: number;
  /** Row-major pixels: Uint8Array for 8-bit, Uint16Array/Int16Array for 16-bit; RGB interleaved (R,G,B per pixel). */
  readonly pixels: Uint8Array | Uint16Array | Int16Array;
  /** @default 'MONOCHROME2' */
  readonly photometricInterpretation?: 'MONOCHROME2' | 'MONOCHROME1' | 'RGB';
  /** @default Secondary Capture Image Storage '1.2.840.10008.5.1.4.1.1.7' */
  readonly sopClassUid?: string;
  /** @default a new random `2.25.` UID */
  readonly sopInstanceUid?: string;
  /** @default a new random `2.25.` UID */
  readonly studyInstanceUid?: string;
  /** @default a new random `2.25.` UID */
  readonly seriesInstanceUid?: string;
  /**
   * Further attributes by PS3.6 keyword (see `KEYWORDS` in dictionary.ts for those supported), as their
   * DICOM string form: `{ PatientName: 'Doe^Jane', PatientID: 'MRN123', Modality: 'US', StudyDate: '20240131',
   * BurnedInAnnotation: 'NO' }`. Set `BurnedInAnnotation: 'NO'` for pixels known to carry no text, or the
   * de-identification gate quarantines high-risk modalities (US, secondary capture, …).
   */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** A fresh random UID (`2.25.` + 128 random bits as a decimal, PS3.5 §B.2). */
export function randomUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString(10)}`;
}

/**
 * Builds the data set of a new image: Patient, General Study, General Series, General Equipment,
 * SC Equipment, General Image and Image Pixel modules (the attributes given plus the pixel description).
 * Throws {@link ConfigError} on inconsistent sizes or an unknown attribute keyword.
 */
export function createImageDataset(input: ImageInput): DicomDataset {
  const photometric = input.photometricInterpretation ?? 'MONOCHROME2';
  const samples = photometric === 'RGB' ? 3 : 1;
  const bits = input.pixels instanceof Uint8Array ? 8 : 16;
  if (!Number.isInteger(input.rows) || !Number.isInteger(input.columns) || input.rows < 1 || input.columns < 1 || input.rows > 0xffff || input.columns > 0xffff) {
    throw new ConfigError('image rows and columns must be integers in [1, 65535]', { rows: input.rows, columns: input.columns });
  }
  if (input.pixels.length !== input.rows * input.columns * samples) {
    throw new ConfigError('pixel count does not match rows × columns × samples', { pixels: input.pixels.length, rows: input.rows, columns: input.columns, samples });
  }
  if (samples === 3 && bits !== 8) throw new ConfigError('RGB images must be 8-bit');
  const ds: DicomDataset = new Map();
  put(ds, textElement(Tags.SOPClassUID, 'UI', input.sopClassUid ?? SopClass.SecondaryCaptureImage));
  put(ds, textElement(Tags.SOPInstanceUID, 'UI', input.sopInstanceUid ?? randomUid()));
  put(ds, textElement(Tags.StudyInstanceUID, 'UI', input.studyInstanceUid ?? randomUid()));
  put(ds, textElement(Tags.SeriesInstanceUID, 'UI', input.seriesInstanceUid ?? randomUid()));
  put(ds, textElement(Tags.Modality, 'CS', 'OT'));
  put(ds, textElement(Tags.ConversionType, 'CS', 'WSD'));
  put(ds, textElement(Tags.PatientName, 'PN', ''));
  put(ds, textElement(Tags.PatientID, 'LO', ''));
  const utf8 = Object.values(input.attributes ?? {}).some((v) => /[^\x20-\x7e]/.test(v));
  if (utf8) put(ds, textElement(Tags.SpecificCharacterSet, 'CS', 'ISO_IR 192'));
  for (const [keyword, value] of Object.entries(input.attributes ?? {})) {
    const entry = KEYWORDS[keyword];
    if (entry === undefined) throw new ConfigError(`unknown DICOM attribute keyword '${keyword}'`, { keyword });
    put(ds, textElement(entry[0], entry[1], value, utf8));
  }
  put(ds, uint16Element(Tags.SamplesPerPixel, samples));
  put(ds, textElement(Tags.PhotometricInterpretation, 'CS', photometric));
  if (samples === 3) put(ds, uint16Element(Tags.PlanarConfiguration, 0));
  put(ds, uint16Element(Tags.Rows, input.rows));
  put(ds, uint16Element(Tags.Columns, input.columns));
  put(ds, uint16Element(Tags.BitsAllocated, bits));
  put(ds, uint16Element(Tags.BitsStored, bits));
  put(ds, uint16Element(Tags.HighBit, bits - 1));
  put(ds, uint16Element(Tags.PixelRepresentation, input.pixels instanceof Int16Array ? 1 : 0));
  const bytes = new Uint8Array(input.pixels.buffer, input.pixels.byteOffset, input.pixels.byteLength).slice();
  put(ds, { tag: Tags.PixelData, vr: bits === 8 ? 'OB' : 'OW', value: bytes });
  return ds;
}
