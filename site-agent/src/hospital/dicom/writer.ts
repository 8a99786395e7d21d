/**
 * Encoding a {@link DicomDataset} as a DICOM Part 10 file: 128-byte preamble, `DICM`, file meta
 * information (explicit VR little endian, with its group length) and the data set in implicit or explicit
 * VR little endian. Sequences and items are written with undefined length and delimiters; encapsulated
 * pixel data as its offset table item, one item per fragment and a sequence delimiter (PS3.5 §A.4).
 *
 * The encoder produces a list of chunks: headers and small values packed into one growing buffer, bulk
 * values (pixel data, fragments) referenced where they lie, so writing a file never copies its pixel
 * data in memory ({@link writeFileAtomic} hands the chunks to one `writev`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { InputError } from '../../../../shared/src/errors.js';
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
const LONG_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT']);
/**
 * VRs written as they are. Anything else (a damaged VR, or SV/UV/OV, which dicom-parser 1.8 reads with a
 * 2-byte length although PS3.5 gives them 4) is written as UN, which every reader skips by its 4-byte length.
 */
const WRITABLE_VRS: ReadonlySet<string> = new Set([
  ...LONG_VRS, 'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US',
]);
const UNDEFINED = 0xffffffff;

/** Flags per VR, indexed by its two character codes (`c0 << 8 | c1`): set lookups cost more on the fresh VR strings of a parse. */
const VR_WRITABLE = 1;
const VR_LONG = 2;
const VR_FLAGS = new Uint8Array(65536);
for (const vr of WRITABLE_VRS) VR_FLAGS[vrCode(vr)] = VR_WRITABLE | (LONG_VRS.has(vr) ? VR_LONG : 0);

function vrCode(vr: string): number {
  return ((vr.charCodeAt(0) & 0xff) << 8) | (vr.charCodeAt(1) & 0xff);
}

/** {@link VR_FLAGS} of `vr` (0 for anything that is not two characters). */
function vrFlags(vr: string): number {
  return vr.length === 2 ? (VR_FLAGS[vrCode(vr)] as number) : 0;
}

/** Values at least this long are referenced, not copied, by the encoder. */
const BULK_BYTES = 2048;

/**
 * The buffer encoders pack into, reused from file to file (encoding is synchronous, so one is in use at a
 * time); {@link ChunkEncoder.chunks} copies what was written out of it. Allocating and zeroing a fresh
 * buffer per file cost more than that one exact-size copy. A buffer grown past {@link SCRATCH_KEEP} is
 * used once and not kept.
 */
let scratch = new Uint8Array(16 * 1024);
let scratchView = new DataView(scratch.buffer);
const SCRATCH_KEEP = 1024 * 1024;

/** Chunked encoder: see the module comment. */
class ChunkEncoder {
  private buf = scratch;
  private view = scratchView;
  private pos = 0;
  private segmentStart = 0;
  /** Finished pieces: a [start, end) range of `buf`, or a referenced bulk value. */
  private readonly pieces: (readonly [number, number] | Uint8Array)[] = [];

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    if (size <= SCRATCH_KEEP) {
      scratch = next;
      scratchView = this.view;
    }
  }

  get position(): number {
    return this.pos;
  }

  raw(b: Uint8Array | readonly number[]): void {
    const n = b.length;
    this.ensure(n);
    if (n <= 32) {
      // Most header values are a few bytes: a loop beats the call into TypedArray#set.
      const buf = this.buf;
      let at = this.pos;
      for (let i = 0; i < n; i++) buf[at++] = b[i] as number;
    } else {
      this.buf.set(b, this.pos);
    }
    this.pos += n;
  }

  uint32At(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }

  value(b: Uint8Array): void {
    if (b.length < BULK_BYTES) {
      this.raw(b);
      return;
    }
    if (this.pos > this.segmentStart) this.pieces.push([this.segmentStart, this.pos]);
    this.pieces.push(b);
    this.segmentStart = this.pos;
  }

  tagHeader(t: Tag, length: number): void {
    this.ensure(8);
    this.view.setUint16(this.pos, t >>> 16, true);
    this.view.setUint16(this.pos + 2, t & 0xffff, true);
    this.view.setUint32(this.pos + 4, length, true);
    this.pos += 8;
  }

  header(explicit: boolean, t: Tag, vr: string, length: number): void {
    if (!explicit) {
      this.tagHeader(t, length);
      return;
    }
    this.ensure(12);
    this.view.setUint16(this.pos, t >>> 16, true);
    this.view.setUint16(this.pos + 2, t & 0xffff, true);
    this.buf[this.pos + 4] = vr.charCodeAt(0);
    this.buf[this.pos + 5] = vr.charCodeAt(1);
    if ((vrFlags(vr) & VR_LONG) !== 0) {
      this.view.setUint16(this.pos + 6, 0, true);
      this.view.setUint32(this.pos + 8, length, true);
      this.pos += 12;
    } else {
      this.view.setUint16(this.pos + 6, length, true);
      this.pos += 8;
    }
  }

  /** Writes the elements of `ds` in tag order (an element's tag is its key), skipping tags below `minTag`. */
  dataset(explicit: boolean, ds: DicomDataset, minTag = 0): void {
    // Parsed data sets are in tag order; an edited one is in order up to the elements added to it.
    let ordered = 0;
    let prev = -1;
    for (const el of ds.values()) {
      if (el.tag < prev) break;
      prev = el.tag;
      ordered++;
    }
    if (ordered === ds.size) {
      for (const el of ds.values()) if (el.tag >= minTag) this.element(explicit, el);
      return;
    }
    // Sort only the rest (after de-identification, the handful of attributes it adds) and merge it in.
    const rest: DicomElement[] = [];
    let i = 0;
    for (const el of ds.values()) if (i++ >= ordered) rest.push(el);
    rest.sort(byTag);
    let j = 0;
    i = 0;
    for (const el of ds.values()) {
      if (i++ >= ordered) break;
      while (j < rest.length && (rest[j] as DicomElement).tag < el.tag) this.elementFrom(explicit, rest[j++] as DicomElement, minTag);
      this.elementFrom(explicit, el, minTag);
    }
    while (j < rest.length) this.elementFrom(explicit, rest[j++] as DicomElement, minTag);
  }

  private elementFrom(explicit: boolean, el: DicomElement, minTag: number): void {
    if (el.tag >= minTag) this.element(explicit, el);
  }

  element(explicit: boolean, el: DicomElement): void {
    if (el.items !== undefined) {
      this.header(explicit, el.tag, 'SQ', UNDEFINED);
      for (const item of el.items) {
        this.tagHeader(Tags.Item, UNDEFINED);
        this.dataset(explicit, item);
        this.tagHeader(Tags.ItemDelimitationItem, 0);
      }
      this.tagHeader(Tags.SequenceDelimitationItem, 0);
      return;
    }
    if (el.encapsulated !== undefined) {
      this.header(explicit, el.tag, 'OB', UNDEFINED);
      this.tagHeader(Tags.Item, el.encapsulated.offsetTable.length);
      this.value(el.encapsulated.offsetTable);
      for (const fragment of el.encapsulated.fragments) {
        this.tagHeader(Tags.Item, fragment.length + (fragment.length % 2));
        this.value(fragment);
        if (fragment.length % 2 === 1) this.raw(PAD_NUL);
      }
      this.tagHeader(Tags.SequenceDelimitationItem, 0);
      return;
    }
    const value = el.value ?? EMPTY;
    if (el.undefinedLength === true) {
      // A VR UN value of undefined length already ends with its sequence delimitation item.
      this.header(explicit, el.tag, 'UN', UNDEFINED);
      this.value(value);
      return;
    }
    const length = value.length + (value.length % 2);
    const vr = writtenVr(el, explicit, length);
    this.header(explicit, el.tag, vr, length);
    this.value(value);
    if (value.length % 2 === 1) this.raw(isStringVr(vr) && vr !== 'UI' ? PAD_SPACE : PAD_NUL);
  }

  /** The encoded file as chunks, in order (packed pieces are views of one copy of what was written). */
  chunks(): Uint8Array[] {
    if (this.pos > this.segmentStart) this.pieces.push([this.segmentStart, this.pos]);
    this.segmentStart = this.pos;
    const packed = this.buf.slice(0, this.pos);
    return this.pieces.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(packed.buffer, p[0], p[1] - p[0])));
  }
}

const byTag = (a: DicomElement, b: DicomElement): number => a.tag - b.tag;

const EMPTY = new Uint8Array(0);
const PREAMBLE = new Uint8Array(128);
const DICM = encodeText('DICM');
const PAD_NUL = [0];
const PAD_SPACE = [0x20];

/** The VR written for a plain value: unknown or damaged VRs, and short VRs too long for a 2-byte length, as UN. */
function writtenVr(el: DicomElement, explicit: boolean, length: number): string {
  const vr = el.vr !== undefined && (vrFlags(el.vr) & VR_WRITABLE) !== 0 ? el.vr : 'UN';
  return explicit && length > 0xffff && (vrFlags(vr) & VR_LONG) === 0 ? 'UN' : vr;
}

function requiredUid(ds: DicomDataset, t: Tag, what: string): string {
  const v = ds.get(t)?.value;
  const uid = v === undefined ? '' : decodeText(v).trim();
  if (uid === '') throw new InputError('TESSERA_INPUT_DICOM_INVALID', `cannot write DICOM: ${what} ${formatTag(t)} is missing`);
  return uid;
}

/** Concatenates chunks into one array. */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Encodes `dataset` as a Part 10 file, as chunks (bulk values are views of the data set's own buffers,
 * not copies). The file meta is built here from the data set's SOP Class UID and SOP Instance UID (any
 * group 0002 elements in `dataset` are ignored), so meta and data set always agree. Throws
 * {@link InputError} `TESSERA_INPUT_DICOM_INVALID` when either UID is missing.
 */
export function encodeDicomChunks(dataset: DicomDataset, options: EncodeOptions = {}): Uint8Array[] {
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
  const enc = new ChunkEncoder();
  enc.raw(PREAMBLE);
  enc.raw(DICM);
  // (0002,0000) UL 4 <group length>, patched once the meta is written.
  enc.raw([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00, 0, 0, 0, 0]);
  const metaStart = enc.position;
  enc.dataset(true, meta);
  enc.uint32At(140, enc.position - metaStart);
  // Groups 0000 (command, never valid in a file) and 0002 (the meta, written above) are not part of a data set;
  // a group 0000 element right after the meta would even be read back as meta by dicom-parser.
  enc.dataset(transferSyntaxUid !== TransferSyntax.ImplicitVRLittleEndian, dataset, 0x00030000);
  return enc.chunks();
}

/** {@link encodeDicomChunks}, concatenated into one array. */
export function encodeDicom(dataset: DicomDataset, options: EncodeOptions = {}): Uint8Array {
  return concatChunks(encodeDicomChunks(dataset, options));
}

/**
 * Writes `dataset` to `path` as a Part 10 file (see {@link encodeDicom}). The file is written under a
 * temporary name and renamed into place, so a reader never sees half a file. Parent folders are created.
 */
export async function writeDicomFile(path: string, dataset: DicomDataset, options: EncodeOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodeDicomChunks(dataset, options));
}

/** What {@link writeFileAtomic} names its temporaries: `<final name>.<12 hex digits>.tmp`. */
export const ATOMIC_TEMPORARY = /\.[0-9a-f]{12}\.tmp$/;

/**
 * Writes bytes (one array or chunks, written with one `writev`) under a temporary name in the same folder
 * (`<path>.<12 hex>.tmp`, mode 0600), flushes them to the disk, then renames into place. The flush before the
 * rename is what makes the rename crash-safe: without it a crash can leave the final name on a file whose data
 * never reached the disk (empty or cut short), which a reader would take as complete. A crash before the rename
 * leaves only the temporary, which {@link sweepAtomicTemporaries} removes at the next start.
 * Parent folders are created unless `createParent` is false (a caller that made the folder itself, with its
 * own mode, saves the call per file).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[], opts: { readonly createParent?: boolean } = {}): Promise<void> {
  if (opts.createParent !== false) await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const chunks = bytes instanceof Uint8Array ? [bytes] : [...bytes];
  const fh = await open(tmp, 'wx', 0o600);
  try {
    let total = chunks.reduce((n, c) => n + c.length, 0);
    let pending = chunks;
    while (total > 0) {
      const { bytesWritten } = await fh.writev(pending);
      total -= bytesWritten;
      pending = remaining(pending, bytesWritten);
    }
    await fh.datasync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/**
 * Removes the temporaries {@link writeFileAtomic} left in `dir` (not its subfolders) when the process died
 * mid-write; returns how many. Other files are left alone. A missing folder holds none.
 */
export async function sweepAtomicTemporaries(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let swept = 0;
  for (const name of names.filter((n) => ATOMIC_TEMPORARY.test(n))) {
    await rm(join(dir, name), { force: true });
    swept++;
  }
  return swept;
}

/** The chunks left after `written` bytes (writev may write less than asked). */
function remaining(chunks: Uint8Array[], written: number): Uint8Array[] {
  let skip = written;
  let i = 0;
  while (i < chunks.length && skip >= (chunks[i] as Uint8Array).length) skip -= (chunks[i++] as Uint8Array).length;
  const rest = chunks.slice(i);
  if (rest.length > 0 && skip > 0) rest[0] = (rest[0] as Uint8Array).subarray(skip);
  return rest;
}
