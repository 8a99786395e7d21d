import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { InputError } from '../../../../shared/src/errors.js';

/**
 * A reader for NumPy `.npz` archives (a zip of `.npy` arrays): stored or deflated entries, CRC-checked,
 * `.npy` format versions 1–3, C order, little-endian or byte dtypes. Enough for MedMNIST; no new
 * dependency (node:zlib inflates).
 */

/** The element types this reader decodes. */
export type NpyDtype = 'u1' | 'i1' | 'u2' | 'i2' | 'u4' | 'i4' | 'i8' | 'f4' | 'f8' | 'b1';

/** One array: values in C (row-major) order. `i8` values are converted to `number` (must be safe integers). */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
}

const MAX_ENTRY_BYTES = 1 << 30;

function bad(file: string, message: string, context: Record<string, string | number> = {}): never {
  throw new InputError('TESSERA_INPUT_NPZ_INVALID', `${file}: ${message}`, { file, ...context });
}

let crcTable: Uint32Array | undefined;
function crc32(buf: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < buf.length; i++) crc = (crcTable[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The entries of a zip archive, by name, decompressed and CRC-checked (central directory, so entries
 * written with data descriptors read correctly). Zip64, encryption and methods other than stored (0)
 * and deflate (8) are refused.
 * @throws InputError `TESSERA_INPUT_NPZ_INVALID` naming the file and the entry.
 */
export function readZipEntries(buf: Buffer, file: string): Map<string, Buffer> {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad(file, 'is not a zip archive (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || p === 0xffffffff) bad(file, 'is a zip64 archive, which is not supported');
  const out = new Map<string, Buffer>();
  for (let e = 0; e < count; e++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) bad(file, `central directory entry ${e} is damaged`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const compSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) bad(file, `entry '${name}' is encrypted`, { entry: name });
    if (size > MAX_ENTRY_BYTES || compSize === 0xffffffff) bad(file, `entry '${name}' is too large`, { entry: name });
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) bad(file, `entry '${name}' has no local header`, { entry: name });
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + compSize > buf.length) bad(file, `entry '${name}' is truncated`, { entry: name });
    const raw = buf.subarray(start, start + compSize);
    let data: Buffer;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
      } catch (err) {
        bad(file, `entry '${name}' does not inflate (${err instanceof Error ? err.message : String(err)})`, { entry: name });
      }
    } else bad(file, `entry '${name}' uses compression method ${method} (only stored and deflate are supported)`, { entry: name });
    if (data.length !== size) bad(file, `entry '${name}' has ${data.length} bytes, the directory says ${size}`, { entry: name });
    if (crc32(data) !== crc) bad(file, `entry '${name}' fails its CRC-32 check`, { entry: name });
    out.set(name, data);
  }
  return out;
}

const DTYPES: Record<string, { dtype: NpyDtype; bytes: number }> = {
  '|u1': { dtype: 'u1', bytes: 1 },
  '|i1': { dtype: 'i1', bytes: 1 },
  '|b1': { dtype: 'b1', bytes: 1 },
  '<u2': { dtype: 'u2', bytes: 2 },
  '<i2': { dtype: 'i2', bytes: 2 },
  '<u4': { dtype: 'u4', bytes: 4 },
  '<i4': { dtype: 'i4', bytes: 4 },
  '<i8': { dtype: 'i8', bytes: 8 },
  '<f4': { dtype: 'f4', bytes: 4 },
  '<f8': { dtype: 'f8', bytes: 8 },
};

/**
 * Parses one `.npy` array (format 1.0, 2.0 or 3.0).
 * @throws InputError `TESSERA_INPUT_NPZ_INVALID` naming `where` for a bad magic, header, dtype,
 * Fortran order or a data length that does not match the shape.
 */
export function parseNpy(buf: Buffer, where: string): NpyArray {
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') bad(where, 'is not a .npy array (bad magic)');
  const major = buf.readUInt8(6);
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) bad(where, 'has a truncated header');
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  } else bad(where, `has unsupported .npy format version ${major}`);
  if (offset + headerLen > buf.length) bad(where, 'has a truncated header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', offset, offset + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) bad(where, 'has a header without descr, fortran_order or shape');
  if (fortran === 'True') bad(where, 'is in Fortran order (only C order is supported)');
  const type = DTYPES[descr];
  if (type === undefined) bad(where, `has unsupported dtype '${descr}'`, { dtype: descr });
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(where, 'has an invalid shape');
  const count = shape.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  if (buf.length - start !== count * type.bytes) {
    bad(where, `holds ${buf.length - start} data bytes, shape (${shape.join(', ')}) needs ${count * type.bytes}`);
  }
  // Copy into a fresh, aligned buffer (the zip entry's offset is arbitrary).
  const bytes = new Uint8Array(buf.subarray(start));
  const ab = bytes.buffer;
  let data: NpyArray['data'];
  switch (type.dtype) {
    case 'u1':
    case 'b1':
      data = bytes;
      break;
    case 'i1':
      data = new Int8Array(ab);
      break;
    case 'u2':
      data = new Uint16Array(ab);
      break;
    case 'i2':
      data = new Int16Array(ab);
      break;
    case 'u4':
      data = new Uint32Array(ab);
      break;
    case 'i4':
      data = new Int32Array(ab);
      break;
    case 'f4':
      data = new Float32Array(ab);
      break;
    case 'f8':
      data = new Float64Array(ab);
      break;
    case 'i8': {
      const big = new BigInt64Array(ab);
      const f = new Float64Array(big.length);
      for (let i = 0; i < big.length; i++) {
        const v = Number(big[i]);
        if (!Number.isSafeInteger(v)) bad(where, `value at index ${i} is not a safe integer`);
        f[i] = v;
      }
      data = f;
      break;
    }
  }
  return { dtype: type.dtype, shape, data };
}

/**
 * Reads every array of an `.npz` file, keyed by name without the `.npy` suffix.
 * @throws InputError `TESSERA_INPUT_FILE_UNREADABLE` when the file cannot be read;
 * `TESSERA_INPUT_NPZ_INVALID` when the archive or an array is malformed.
 */
export async function readNpz(file: string): Promise<Map<string, NpyArray>> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `cannot read ${file}`, { file }, { cause: err });
  }
  const out = new Map<string, NpyArray>();
  for (const [name, data] of readZipEntries(buf, file)) {
    if (!name.endsWith('.npy')) continue;
    out.set(name.slice(0, -4), parseNpy(data, `${file}:${name}`));
  }
  return out;
}
