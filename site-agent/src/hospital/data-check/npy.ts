/**
 * NumPy `.npy` format version 1.0 (numpy/lib/format.py): magic `\x93NUMPY`, version 1.0, a little-endian
 * uint16 header length, a Python dict literal header padded with spaces and ended by `\n` so that the data
 * starts on a 64-byte boundary, then the C-order data.
 */
import { ConfigError } from '../../../../shared/src/errors.js';

/** Encodes a float32 array of `shape` (C order) as a version 1.0 `.npy` file. */
export function encodeNpyFloat32(data: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ConfigError(`npy shape (${shape.join(', ')}) does not hold ${data.length} values`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i] as number, i * 4);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}
