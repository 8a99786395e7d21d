import { InputError } from '../../../../shared/src/errors.js';
import { readNpz, type NpyArray } from './npz.js';

/** The three official MedMNIST splits. */
export const MEDMNIST_SPLITS = ['train', 'val', 'test'] as const;
export type MedmnistSplit = (typeof MEDMNIST_SPLITS)[number];

/** One split: `n` images of `height × width × channels` uint8 pixels (row-major HWC) and integer labels. */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  height: number;
  width: number;
  channels: number;
}

export type MedmnistData = Record<MedmnistSplit, ImageSet>;

function bad(file: string, message: string): never {
  throw new InputError('TESSERA_INPUT_NPZ_INVALID', `${file}: ${message}`, { file });
}

function toSet(file: string, split: MedmnistSplit, images: NpyArray | undefined, labels: NpyArray | undefined): ImageSet {
  if (images === undefined || labels === undefined) bad(file, `has no ${split}_images / ${split}_labels arrays`);
  if (images.dtype !== 'u1') bad(file, `${split}_images must be uint8, got ${images.dtype}`);
  const [n = 0, height = 0, width = 0, channels = 1] = images.shape;
  if ((images.shape.length !== 3 && images.shape.length !== 4) || n < 1 || height < 1 || width < 1 || channels < 1) {
    bad(file, `${split}_images must have shape (N, H, W) or (N, H, W, C), got (${images.shape.join(', ')})`);
  }
  // Labels are (N,) in some copies and (N, 1) officially; multi-label (N, K > 1) is not supported.
  if (labels.shape[0] !== n || labels.shape.length > 2 || (labels.shape.length === 2 && labels.shape[1] !== 1)) {
    bad(file, `${split}_labels must have shape (${n},) or (${n}, 1), got (${labels.shape.join(', ')})`);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i] as number;
    if (!Number.isInteger(v) || v < 0 || v > 255) bad(file, `${split}_labels[${i}] is not a class index`);
    out[i] = v;
  }
  return { images: images.data as Uint8Array, labels: out, n, height, width, channels };
}

/**
 * Reads a MedMNIST `.npz` (e.g. `breastmnist.npz`) with its official train/val/test split.
 * @throws InputError `TESSERA_INPUT_FILE_UNREADABLE` or `TESSERA_INPUT_NPZ_INVALID` naming the file.
 */
export async function loadMedmnist(file: string): Promise<MedmnistData> {
  const arrays = await readNpz(file);
  const sets = MEDMNIST_SPLITS.map((s) => toSet(file, s, arrays.get(`${s}_images`), arrays.get(`${s}_labels`)));
  const [train, val, test] = sets as [ImageSet, ImageSet, ImageSet];
  for (const s of [val, test]) {
    if (s.height !== train.height || s.width !== train.width || s.channels !== train.channels) bad(file, 'splits differ in image size');
  }
  return { train, val, test };
}

/**
 * Pixels scaled to [0, 1] as float32 rows of `height · width · channels` (the layout image model specs
 * reshape), with 0/1 labels.
 */
export function imageSetToTrainingData(set: ImageSet): { x: Float32Array; y: Float32Array; n: number; d: number } {
  const d = set.height * set.width * set.channels;
  const x = new Float32Array(set.n * d);
  for (let i = 0; i < x.length; i++) x[i] = (set.images[i] as number) / 255;
  return { x, y: Float32Array.from(set.labels), n: set.n, d };
}
