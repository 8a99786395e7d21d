/**
 * Encoding a {@link DicomDataset} as a DICOM Part 10 file: 128-byte preamble, `DICM`, file meta
 * information (explicit VR little endian, with its group length) and the data set in implicit or explicit
 * VR little endian. Sequences and items are written with undefined length and delimiters; encapsulated
 * pixel data as its offset table item, one item per fragment and a sequence delimiter (PS3.5 §A.4).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { InputError } from '../errors.js';
import { decodeText, encodeText, isStringVr, textElement, type DicomDataset, type DicomElement } from './dataset.js';
import { Tags, TransferSyntax, formatTag, type Tag } from './dictionary.js';

/** Tessera's implementation class UID (0002,0012): a fixed UUID-derived UID (PS3.5 §B.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.229665092357614862410458553632931734081';
/** Tessera's implementation version name (0002,0013), at most 16 characters. */
export const IMPLEMENTATION_VERSION_NAME = 'TESSERA-0.1';

/** Options for {@link encodeDicom}. */
export interface EncodeOptions {
  /**
   * Transfer syntax of the written data set. Implicit VR little endian writes VRs nowhere; any other UID
   * is written as explicit VR little endian (encapsulated syntaxes keep their fragments as they are).
   * @default '1.2.840.10008.1.2.1' (explicit VR little endian)
   */
  readonly transferSyntaxUid?: string;
}

/** VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 Table 7.1-1). */
const LONG_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const UNDEFINED = 0xffffffff;

class ByteSink {
  readonly parts: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function tagHeader(sink: ByteSink, t: Tag, length: number): void {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint16(0, t >>> 16, true);
  v.setUint16(2, t & 0xffff, true);
  v.setUint32(4, length, true);
  sink.push(b);
}

function explicitHeader(sink: ByteSink, t: Tag, vr: string, length: number): void {
  const long = LONG_VRS.has(vr);
  const b = new Uint8Array(long ? 12 : 8);
  const v = new DataView(b.buffer);
  v.setUint16(0, t >>> 16, true);
  v.setUint16(2, t & 0xffff, true);
  b[4] = vr.charCodeAt(0);
  b[5] = vr.charCodeAt(1);
  if (long) v.setUint32(8, length, true);
  else v.setUint16(6, length, true);
  sink.push(b);
}

const PAD_NUL = new Uint8Array([0]);
const PAD_SPACE = new Uint8Array([0x20]);

class DatasetEncoder {
  constructor(private readonly explicit: boolean) {}

  header(sink: ByteSink, t: Tag, vr: string, length: number): void {
    if (this.explicit) explicitHeader(sink, t, vr, length);
    else tagHeader(sink, t, length);
  }

  dataset(sink: ByteSink, ds: DicomDataset): void {
    const tags = [...ds.keys()].sort((a, b) => a - b);
    for (const t of tags) this.element(sink, ds.get(t) as DicomElement);
  }

  element(sink: ByteSink, el: DicomElement): void {
    if (el.items !== undefined) {
      this.header(sink, el.tag, 'SQ', UNDEFINED);
      for (const item of el.items) {
        tagHeader(sink, Tags.Item, UNDEFINED);
        this.dataset(sink, item);
        tagHeader(sink, Tags.ItemDelimitationItem, 0);
      }
      tagHeader(sink, Tags.SequenceDelimitationItem, 0);
      return;
    }
    if (el.encapsulated !== undefined) {
      this.header(sink, el.tag, 'OB', UNDEFINED);
      tagHeader(sink, Tags.Item, el.encapsulated.offsetTable.length);
      sink.push(el.encapsulated.offsetTable);
      for (const fragment of el.encapsulated.fragments) {
        const odd = fragment.length % 2 === 1;
        tagHeader(sink, Tags.Item, fragment.length + (odd ? 1 : 0));
        sink.push(fragment);
        if (odd) sink.push(PAD_NUL);
      }
      tagHeader(sink, Tags.SequenceDelimitationItem, 0);
      return;
    }
    const value = el.value ?? new Uint8Array(0);
    let vr = el.vr ?? 'UN';
    if (el.undefinedLength === true) {
      // A VR UN value of undefined length already ends with its sequence delimitation item.
      this.header(sink, el.tag, 'UN', UNDEFINED);
      sink.push(value);
      return;
    }
    const odd = value.length % 2 === 1;
    const length = value.length + (odd ? 1 : 0);
    if (this.explicit && !LONG_VRS.has(vr) && length > 0xffff) vr = 'UN';
    this.header(sink, el.tag, vr, length);
    sink.push(value);
    if (odd) sink.push(isStringVr(vr) && vr !== 'UI' ? PAD_SPACE : PAD_NUL);
  }
}

function requiredUid(ds: DicomDataset, t: Tag, what: string): string {
  const v = ds.get(t)?.value;
  const uid = v === undefined ? '' : decodeText(v).trim();
  if (uid === '') throw new InputError('TESSERA_INPUT_DICOM_INVALID', `cannot write DICOM: ${what} ${formatTag(t)} is missing`);
  return uid;
}

/**
 * Encodes `dataset` as a Part 10 file. The file meta is built here from the data set's SOP Class UID and
 * SOP Instance UID (any group 0002 elements in `dataset` are ignored), so meta and data set always agree.
 * Throws {@link InputError} `TESSERA_INPUT_DICOM_INVALID` when either UID is missing.
 */
export function encodeDicom(dataset: DicomDataset, options: EncodeOptions = {}): Uint8Array {
  const transferSyntaxUid = options.transferSyntaxUid ?? TransferSyntax.ExplicitVRLittleEndian;
  const meta: DicomDataset = new Map();
  meta.set(Tags.FileMetaInformationVersion, { tag: Tags.FileMetaInformationVersion, vr: 'OB', value: new Uint8Array([0, 1]) });
  meta.set(Tags.MediaStorageSOPClassUID, textElement(Tags.MediaStorageSOPClassUID, 'UI', requiredUid(dataset, Tags.SOPClassUID, 'SOP Class UID')));
  meta.set(
    Tags.MediaStorageSOPInstanceUID,
    textElement(Tags.MediaStorageSOPInstanceUID, 'UI', requiredUid(dataset, Tags.SOPInstanceUID, 'SOP Instance UID')),
  );
  meta.set(Tags.TransferSyntaxUID, textElement(Tags.TransferSyntaxUID, 'UI', transferSyntaxUid));
  meta.set(Tags.ImplementationClassUID, textElement(Tags.ImplementationClassUID, 'UI', IMPLEMENTATION_CLASS_UID));
  meta.set(Tags.ImplementationVersionName, textElement(Tags.ImplementationVersionName, 'SH', IMPLEMENTATION_VERSION_NAME));
  return encodeWithMeta(meta, dataset, transferSyntaxUid);
}

/**
 * Encodes a file with the given file meta (used for DICOMDIR-free rewrites that must keep a media storage
 * SOP class other than the data set's). The group length is computed here.
 * @internal
 */
export function encodeWithMeta(meta: DicomDataset, dataset: DicomDataset, transferSyntaxUid: string): Uint8Array {
  const metaSink = new ByteSink();
  const metaEncoder = new DatasetEncoder(true);
  const metaOnly: DicomDataset = new Map([...meta].filter(([t]) => t !== Tags.FileMetaInformationGroupLength));
  metaEncoder.dataset(metaSink, metaOnly);
  const sink = new ByteSink();
  const preamble = new Uint8Array(132);
  preamble.set(encodeText('DICM'), 128);
  sink.push(preamble);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaSink.length, true);
  explicitHeader(sink, Tags.FileMetaInformationGroupLength, 'UL', 4);
  sink.push(groupLength);
  for (const p of metaSink.parts) sink.push(p);
  const body: DicomDataset = new Map([...dataset].filter(([t]) => t >>> 16 !== 0x0002));
  new DatasetEncoder(transferSyntaxUid !== TransferSyntax.ImplicitVRLittleEndian).dataset(sink, body);
  return sink.concat();
}

/**
 * Writes `dataset` to `path` as a Part 10 file (see {@link encodeDicom}). The file is written under a
 * temporary name and renamed into place, so a reader never sees half a file. Parent folders are created.
 */
export async function writeDicomFile(path: string, dataset: DicomDataset, options: EncodeOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodeDicom(dataset, options));
}

/** Writes bytes under a temporary name in the same folder, then renames into place. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, bytes, { mode: 0o600 });
  await rename(tmp, path);
}

