import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InputError } from '../../../../shared/src/errors.js';
import { imageSetToTrainingData, loadMedmnist } from '../../../../site-agent/src/hospital/datasets/medmnist.js';
import { parseNpy, readNpz } from '../../../../site-agent/src/hospital/datasets/npz.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { npy, zip } from '../../../helpers/npz-fixture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-npz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseNpy', () => {
  it('reads uint8, little-endian float32 and int64 arrays', () => {
    const u8 = parseNpy(npy('|u1', [2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6])), 'a.npy');
    expect(u8).toMatchObject({ dtype: 'u1', shape: [2, 3] });
    expect(Array.from(u8.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const f4 = parseNpy(npy('<f4', [2], new Uint8Array(Float32Array.from([1.5, -2]).buffer)), 'b.npy');
    expect(Array.from(f4.data)).toEqual([1.5, -2]);
    const i8 = parseNpy(npy('<i8', [2], new Uint8Array(BigInt64Array.from([7n, -3n]).buffer)), 'c.npy');
    expect(Array.from(i8.data)).toEqual([7, -3]);
  });

  it.each([
    ['bad magic', Buffer.from('PK\x03\x04 not an npy file'), /bad magic/],
    ['a length that does not match the shape', npy('|u1', [4], Uint8Array.from([1, 2, 3])), /needs 4/],
    ['an unsupported dtype', npy('>f8', [1], new Uint8Array(8)), /unsupported dtype/],
    ['Fortran order', Buffer.from(npy('|u1', [1], Uint8Array.from([1])).toString('latin1').replace('False', 'True '), 'latin1'), /Fortran/],
  ])('refuses %s with TESSERA_INPUT_NPZ_INVALID naming the array', (_label, buf, msg) => {
    expect(() => parseNpy(buf, 'x.npz:a.npy')).toThrow(msg);
    try {
      parseNpy(buf, 'x.npz:a.npy');
    } catch (err) {
      expect((err as InputError).code).toBe('TESSERA_INPUT_NPZ_INVALID');
      expect((err as InputError).message).toContain('x.npz:a.npy');
    }
  });
});

describe('readNpz', () => {
  it.each([true, false])('reads stored and deflated entries (deflate %s)', async (deflate) => {
    const file = path.join(dir, `t-${deflate}.npz`);
    await writeFile(file, zip([['a.npy', npy('|u1', [3], Uint8Array.from([9, 8, 7]))], ['b.npy', npy('|u1', [1], Uint8Array.from([1]))]], deflate));
    const arrays = await readNpz(file);
    expect([...arrays.keys()]).toEqual(['a', 'b']);
    expect(Array.from(arrays.get('a')!.data)).toEqual([9, 8, 7]);
  });

  it('detects a corrupted entry by its CRC and a missing file by path', async () => {
    const good = zip([['a.npy', npy('|u1', [3], Uint8Array.from([9, 8, 7]))]], false);
    const idx = good.indexOf(Buffer.from([9, 8, 7]));
    good[idx] = 10;
    const file = path.join(dir, 'crc.npz');
    await writeFile(file, good);
    await expect(readNpz(file)).rejects.toThrow(/CRC-32/);
    await writeFile(path.join(dir, 'junk.npz'), Buffer.from('not a zip at all, just text'));
    await expect(readNpz(path.join(dir, 'junk.npz'))).rejects.toMatchObject({ code: 'TESSERA_INPUT_NPZ_INVALID' });
    await expect(readNpz(path.join(dir, 'absent.npz'))).rejects.toMatchObject({ code: 'TESSERA_INPUT_FILE_UNREADABLE' });
  });

  it('refuses a MedMNIST file without a test split', async () => {
    const file = path.join(dir, 'partial.npz');
    const img = npy('|u1', [1, 2, 2], Uint8Array.from([0, 1, 2, 3]));
    const lab = npy('|u1', [1], Uint8Array.from([1]));
    await writeFile(file, zip([['train_images.npy', img], ['train_labels.npy', lab], ['val_images.npy', img], ['val_labels.npy', lab]], true));
    await expect(loadMedmnist(file)).rejects.toThrow(/test_images/);
  });
});

const breast = path.join(sharedDataDir(), 'medmnist', 'breastmnist.npz');
describe.skipIf(!existsSync(breast))('BreastMNIST (../shared/data)', () => {
  it('has the official split 546 / 78 / 156 of 28×28 images with 0/1 labels', async () => {
    const d = await loadMedmnist(breast);
    expect([d.train.n, d.val.n, d.test.n]).toEqual([546, 78, 156]);
    expect([d.train.height, d.train.width, d.train.channels]).toEqual([28, 28, 1]);
    // SOURCES.md: train labels 147 malignant (0) / 399 normal-benign (1).
    expect(d.train.labels.reduce((a, b) => a + b, 0)).toBe(399);
    const t = imageSetToTrainingData(d.test);
    expect(t.d).toBe(784);
    expect(Math.max(...t.x)).toBeLessThanOrEqual(1);
    expect(Math.min(...t.x)).toBeGreaterThanOrEqual(0);
  });
});
