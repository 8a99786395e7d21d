/**
 * Reading DICOM with `dicom-parser`: Part 10 files (and DICOMDIR, which is one), implicit and explicit VR
 * little endian, explicit VR big endian (values are swapped to little endian on the way in), deflated
 * explicit VR little endian (inflated with node:zlib) and encapsulated pixel data with or without a basic
 * offset table. The result is a {@link DicomDataset} whose values are views into the (inflated) buffer.
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';

import { InputError } from '../../../../shared/src/errors.js';
import { decodeText, type DicomDataset, type DicomElement } from './dataset.js';
import { Tags, TransferSyntax, tagFromParserKey, type Tag } from './dictionary.js';

/** A parsed Part 10 file. */
export interface ParsedDicom {
  /** File meta information (group 0002). */
  readonly meta: DicomDataset;
  /** The data set (everything after the file meta). */
  readonly dataset: DicomDataset;
  /** Transfer syntax UID from the file meta. */
  readonly transferSyntaxUid: string;
  /** Whether the file is a DICOMDIR (Media Storage Directory Storage). */
  readonly isDicomdir: boolean;
  /** Warnings dicom-parser raised while reading (recoverable oddities). */
  readonly warnings: readonly string[];
  /**
   * With {@link ParseOptions.dropPrivate}: the private elements left out of each data set (top level and
   * sequence items), as their count and where the first was. Data sets without any are absent.
   */
  readonly droppedPrivate?: ReadonlyMap<DicomDataset, DroppedPrivate>;
}

/** Private elements left out of one data set by {@link parseDicom} with `dropPrivate`. */
export interface DroppedPrivate {
  count: number;
  /** How many kept elements of the data set come before the first one left out (in file order). */
  readonly at: number;
}

/** Options for {@link parseDicom}. */
export interface ParseOptions {
  /**
   * Leave private elements (odd groups) other than sequences out of the data set model, at any depth,
   * and count them in `droppedPrivate` instead: for de-identification, which removes them anyway.
   * @default false
   */
  readonly dropPrivate?: boolean;
}

/** What the conversion of one file carries along. */
interface Conversion {
  readonly bigEndian: boolean;
  readonly dropped: Map<DicomDataset, DroppedPrivate> | undefined;
}

/** The inflater dicom-parser calls for the deflated transfer syntax: meta bytes followed by the inflated data set. */
export function zlibInflater(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateRawSync(bytes.subarray(position));
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position), 0);
  full.set(inflated, position);
  return full;
}

/** dicom-parser's options for Node: the zlib inflater for deflated files. */
export const DICOM_PARSER_OPTIONS = { inflater: zlibInflater } as const;

/** Byte width to swap per VR when converting big endian values to little endian. */
const SWAP_WIDTH: Readonly<Record<string, number>> = {
  US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8,
};

function swapped(bytes: Uint8Array, width: number): Uint8Array {
  if (bytes.length <= 64) {
    // Short values (most of a header): a loop beats making a Buffer to call swap16/32/64 on.
    const copy = new Uint8Array(bytes.length);
    const whole = bytes.length - (bytes.length % width);
    for (let i = 0; i < whole; i += width) for (let j = 0; j < width; j++) copy[i + j] = bytes[i + width - 1 - j] as number;
    for (let i = whole; i < bytes.length; i++) copy[i] = bytes[i] as number;
    return copy;
  }
  const out = Buffer.from(bytes); // a copy: the file buffer is never modified
  const whole = out.subarray(0, out.length - (out.length % width));
  if (width === 2) whole.swap16();
  else if (width === 4) whole.swap32();
  else whole.swap64();
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

function describe(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message;
  // dicom-parser wraps failures after the file meta as { exception, dataSet }.
  if (typeof err === 'object' && err !== null && 'exception' in err) return describe((err).exception);
  return 'unknown parser failure';
}

/**
 * Parses a Part 10 file. Throws {@link InputError} `TESSERA_INPUT_DICOM_INVALID` naming `source` and the
 * reason (no `DICM` prefix, missing transfer syntax, truncated data, …); never throws anything else.
 */
export function parseDicom(bytes: Uint8Array, source: string, options: ParseOptions = {}): ParsedDicom {
  let raw: TopLevel;
  try {
    // A plain Uint8Array view (not a Buffer): its subarrays are cheaper to make, and there are thousands.
    raw = readTopLevel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch (err) {
    throw new InputError('TESSERA_INPUT_DICOM_INVALID', `${source}: not a readable DICOM Part 10 file: ${describe(err)}`, {
      source,
    });
  }
  try {
    const tsElement = raw.transferSyntax;
    const transferSyntaxUid = tsElement ? decodeText(raw.byteArray.subarray(tsElement.dataOffset, tsElement.dataOffset + tsElement.length)).trim() : '';
    if (transferSyntaxUid === '') {
      throw new Error('file meta has no Transfer Syntax UID (0002,0010)');
    }
    const bigEndian = transferSyntaxUid === TransferSyntax.ExplicitVRBigEndian;
    const meta: DicomDataset = new Map();
    const cx: Conversion = { bigEndian, dropped: options.dropPrivate === true ? new Map() : undefined };
    const dataset = convertElements(raw.byteArray, raw.elements, cx, meta, 0);
    const sopClass = meta.get(Tags.MediaStorageSOPClassUID)?.value;
    const isDicomdir = sopClass !== undefined && decodeText(sopClass) === '1.2.840.10008.1.3.10';
    return { meta, dataset, transferSyntaxUid, isDicomdir, warnings: raw.warnings, ...(cx.dropped === undefined ? {} : { droppedPrivate: cx.dropped }) };
  } catch (err) {
    throw new InputError('TESSERA_INPUT_DICOM_INVALID', `${source}: malformed DICOM data set: ${describe(err)}`, { source });
  }
}

/** The top level of a file as dicom-parser's `parseDicom` reads it, with the elements in a list. */
interface TopLevel {
  /** The bytes the elements' offsets refer to (for a deflated file, the file meta followed by the inflated data set). */
  readonly byteArray: Uint8Array;
  /** The elements in the order of `parseDicom`'s element index: the data set's, then the file meta's not already there. */
  readonly elements: readonly dicomParser.Element[];
  /** The file meta's Transfer Syntax UID element. */
  readonly transferSyntax: dicomParser.Element;
  readonly warnings: string[];
}

const DEFLATED = '1.2.840.10008.1.2.1.99';

/**
 * What `dicomParser.parseDicom(bytes, DICOM_PARSER_OPTIONS)` does, step by step with dicom-parser's own
 * readers (`readPart10Header`, `readDicomElementExplicit`/`Implicit`, its byte streams, the same errors),
 * except that the top-level elements are collected in a list, not stored one by one in an object keyed
 * by tag: that object grows into a dictionary, and filling it and reading it back cost more than the rest
 * of the conversion. Where a file repeats a tag or is out of tag order, the list is built the way the
 * index would list it (later elements replace earlier ones in place, file meta last), so the result is
 * the same element for element. Sequence items are still read by dicom-parser into its own data sets.
 */
function readTopLevel(bytes: Uint8Array): TopLevel {
  const metaSet = dicomParser.readPart10Header(bytes);
  const metaElements = metaSet.elements;
  const transferSyntax = metaElements['x00020010'];
  if (transferSyntax === undefined) throw new Error('dicomParser.parseDicom: missing required meta header attribute 0002,0010');
  const ts = dicomParser.readFixedString(bytes, transferSyntax.dataOffset, transferSyntax.length);
  const position = (metaSet as unknown as { position: number }).position;
  const stream =
    ts === DEFLATED
      ? new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, zlibInflater(bytes, position), 0)
      : new dicomParser.ByteStream(
          ts === TransferSyntax.ExplicitVRBigEndian ? dicomParser.bigEndianByteArrayParser : dicomParser.littleEndianByteArrayParser,
          bytes,
          position,
        );
  const byteArray = stream.byteArray as Uint8Array;
  const end = byteArray.length;
  const list: dicomParser.Element[] = [];
  // Whether every tag so far is after the previous one and after the file meta's (then no index entry is replaced).
  let ordered = true;
  let last = 'x0002ffff';
  if (ts === TransferSyntax.ImplicitVRLittleEndian) {
    while (stream.position < end) {
      const el = dicomParser.readDicomElementImplicit(stream);
      if (ordered && el.tag > last) last = el.tag;
      else ordered = false;
      list.push(el);
    }
  } else {
    while (stream.position < end) {
      const el = dicomParser.readDicomElementExplicit(stream, stream.warnings);
      if (ordered && el.tag > last) last = el.tag;
      else ordered = false;
      list.push(el);
    }
    // dicom-parser's own check (its message kept).
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    if (stream.position > end) throw 'dicomParser:parseDicomDataSetExplicit: buffer overrun';
  }
  const warnings = metaSet.warnings.concat(stream.warnings);
  if (ordered) {
    for (const key of Object.keys(metaElements)) list.push(metaElements[key] as dicomParser.Element);
    return { byteArray, elements: list, transferSyntax, warnings };
  }
  // A repeated or out-of-order tag: list the elements exactly as parseDicom's index holds them.
  const index: Record<string, dicomParser.Element> = {};
  for (const el of list) index[el.tag] = el;
  for (const key of Object.keys(metaElements)) index[key] = metaElements[key] as dicomParser.Element;
  return { byteArray, elements: Object.values(index), transferSyntax, warnings };
}

/** Deepest sequence nesting accepted (real files nest a handful of levels; this bounds crafted input). */
const MAX_DEPTH = 64;

/** Value of one hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/**
 * The tag of a dicom-parser element key (`xggggeeee`), read digit by digit: the keys are fresh strings in
 * every parse, so this is cheaper than hashing them for a cache (and allocates nothing).
 */
function tagOf(key: string): Tag {
  if (key.length !== 9) return tagFromParserKey(key);
  let t = 0;
  for (let i = 1; i < 9; i++) {
    const d = hexDigit(key.charCodeAt(i));
    if (d < 0) return tagFromParserKey(key);
    t = t * 16 + d;
  }
  return t;
}

/**
 * `bytes.subarray(start, start + length)`. In range, the view is made with the constructor, cheaper than
 * `subarray` (which looks up a species constructor); out of range, `subarray` clamps as before.
 */
function view(bytes: Uint8Array, start: number, length: number): Uint8Array {
  if (start >= 0 && length >= 0 && start + length <= bytes.length) return new Uint8Array(bytes.buffer, bytes.byteOffset + start, length);
  return bytes.subarray(start, start + length);
}

/** Converts a sequence item's data set (dicom-parser's element index). */
function convertDataSet(ds: dicomParser.DataSet, cx: Conversion, depth: number): DicomDataset {
  // Object.keys, not for-in or Object.values: the element index is a dictionary-mode object, whose for-in
  // re-checks every key and whose Object.values measured slower than these lookups.
  const elements = ds.elements;
  const keys = Object.keys(elements);
  const list: dicomParser.Element[] = [];
  for (let k = 0; k < keys.length; k++) list.push(elements[keys[k] as string] as dicomParser.Element);
  return convertElements(ds.byteArray, list, cx, undefined, depth);
}

/** Converts elements (in index order; an element's `tag` is its index key) into a data set; group 0002 goes to `meta` when given. */
function convertElements(
  bytes: Uint8Array,
  list: readonly dicomParser.Element[],
  cx: Conversion,
  meta: DicomDataset | undefined,
  depth: number,
): DicomDataset {
  if (depth > MAX_DEPTH) throw new Error(`sequences nested deeper than ${MAX_DEPTH} levels`);
  const out: DicomDataset = new Map();
  for (let k = 0; k < list.length; k++) {
    const el = list[k];
    if (el === undefined) continue;
    const t = tagOf(el.tag);
    if (t >>> 16 === 0xfffe) continue;
    if (cx.dropped !== undefined && ((t >>> 16) & 1) === 1 && el.items === undefined && el.encapsulatedPixelData !== true) {
      // Checked as if it were kept: a file is refused for the same damage either way.
      if (el.dataOffset + el.length > bytes.length || el.length < 0) throw new Error(`element ${el.tag} runs past the end of the file`);
      const d = cx.dropped.get(out);
      if (d === undefined) cx.dropped.set(out, { count: 1, at: out.size });
      else d.count++;
      continue;
    }
    const element = convertElement(el, t, bytes, cx, depth);
    if (meta !== undefined && t >>> 16 === 0x0002) meta.set(t, element);
    else out.set(t, element);
  }
  return out;
}

function convertElement(el: dicomParser.Element, t: Tag, bytes: Uint8Array, cx: Conversion, depth: number): DicomElement {
  // Every element gets the same five fields (one object shape keeps the walkers' property access monomorphic).
  if (el.items !== undefined) {
    const items = el.items.map((item) => (item.dataSet ? convertDataSet(item.dataSet, cx, depth + 1) : new Map<Tag, DicomElement>()));
    return { tag: t, vr: el.vr ?? 'SQ', value: undefined, items, encapsulated: undefined, undefinedLength: undefined };
  }
  if (el.encapsulatedPixelData === true && el.fragments !== undefined) {
    const botLength = (el.basicOffsetTable?.length ?? 0) * 4;
    const offsetTable = view(bytes, el.dataOffset + 8, botLength);
    const fragments = el.fragments.map((f) => {
      if (f.position + f.length > bytes.length) throw new Error(`pixel data fragment at ${f.position} runs past the end of the file`);
      return view(bytes, f.position, f.length);
    });
    return { tag: t, vr: el.vr, value: undefined, items: undefined, encapsulated: { offsetTable, fragments }, undefinedLength: undefined };
  }
  if (el.dataOffset + el.length > bytes.length || el.length < 0) {
    throw new Error(`element ${el.tag} runs past the end of the file`);
  }
  let value = view(bytes, el.dataOffset, el.length);
  const width = cx.bigEndian && el.vr !== undefined ? SWAP_WIDTH[el.vr] : undefined;
  if (width !== undefined) value = swapped(value, width);
  return { tag: t, vr: el.vr, value, items: undefined, encapsulated: undefined, undefinedLength: el.hadUndefinedLength === true ? true : undefined };
}
