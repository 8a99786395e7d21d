/**
 * Writes `.npy` arrays and `.npz` (zip) archives by hand, as numpy's `np.savez` would, so tests can build
 * small MedMNIST-shaped files without the public data sets.
 */
import { writeFile } from 'node:fs/promises';
import { deflateRawSync } from 'node:zlib';

/** A .npy v1 file for `data` with the given descr and shape. */
export function npy(descr: string, shape: number[], data: Uint8Array): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.writeUInt8(0x93, 0);
  head.write('NUMPY', 1, 'latin1');
  head.writeUInt8(1, 6);
  head.writeUInt8(0, 7);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

function crc32(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip with the given entries (deflated when `deflate`), written by hand as numpy's zipfile would. */
export function zip(entries: [string, Buffer][], deflate: boolean): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const body = deflate ? deflateRawSync(data) : data;
    const nameBuf = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, body);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/**
 * A small MedMNIST-shaped `.npz` (28 × 28 grey images, labels 0/1 alternating, official split names) with a
 * learnable signal: label 1 images are bright in the centre. `n` gives the images per split.
 */
export async function writeTinyMedmnist(file: string, n: { train: number; val: number; test: number }): Promise<void> {
  const side = 28;
  const entries: [string, Buffer][] = [];
  for (const split of ['train', 'val', 'test'] as const) {
    const count = n[split];
    const images = new Uint8Array(count * side * side);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const label = i % 2;
      labels[i] = label;
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const centre = Math.abs(x - 14) < 7 && Math.abs(y - 14) < 7;
          images[i * side * side + y * side + x] = ((centre && label === 1 ? 200 : 40) + ((x * 7 + y * 13 + i * 29) % 30)) & 0xff;
        }
      }
    }
    entries.push([`${split}_images.npy`, npy('|u1', [count, side, side], images)], [`${split}_labels.npy`, npy('|u1', [count, 1], labels)]);
  }
  await writeFile(file, zip(entries, true));
}
