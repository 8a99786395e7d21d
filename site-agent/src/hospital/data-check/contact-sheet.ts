/**
 * The contact sheet of `tessera data check`: the preprocessed model inputs as a person would look at them, a
 * grid of tiles (grey or RGB, 0 → black, 1 → white), each tile the whole tensor shrunk by area averaging to at
 * most `tile` pixels a side, on a dark background. Encoded with pngjs.
 */
import { PNG } from 'pngjs';
import { resample } from '../dicom/pixels.js';

/** One tile: an `H × W × C` tensor with values in [0, 1]. */
export interface SheetTile {
  readonly tensor: Float32Array;
  readonly shape: readonly [number, number, number];
}

/** Options of {@link renderContactSheet}. */
export interface ContactSheetOptions {
  /** Largest tile side in pixels. @default 128 */
  readonly tile?: number;
  /** Tiles per row. @default ceil(sqrt(n)), at most 10 */
  readonly columns?: number;
  /** Gap between tiles in pixels. @default 4 */
  readonly gap?: number;
}

/** One channel of an interleaved tensor, resampled to `rows × cols`. */
function channel(t: SheetTile, c: number, rows: number, cols: number): Float32Array {
  const [h, w, channels] = t.shape;
  const plane = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) plane[i] = t.tensor[i * channels + c] as number;
  return rows === h && cols === w ? plane : resample(plane, h, w, rows, cols);
}

/** Renders the tiles as one PNG (an empty sheet is one dark tile). */
export function renderContactSheet(tiles: readonly SheetTile[], opts: ContactSheetOptions = {}): Buffer {
  const side = opts.tile ?? 128;
  const gap = opts.gap ?? 4;
  const n = Math.max(1, tiles.length);
  const columns = opts.columns ?? Math.min(10, Math.ceil(Math.sqrt(n)));
  const rowsOfTiles = Math.ceil(n / columns);
  const width = columns * (side + gap) + gap;
  const height = rowsOfTiles * (side + gap) + gap;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let i = 0; i < png.data.length; i += 4) {
    png.data[i] = 32;
    png.data[i + 1] = 32;
    png.data[i + 2] = 40;
    png.data[i + 3] = 255;
  }
  tiles.forEach((t, k) => {
    const [h, w, c] = t.shape;
    const scale = Math.min(1, side / Math.max(h, w));
    const rows = Math.max(1, Math.round(h * scale));
    const cols = Math.max(1, Math.round(w * scale));
    const planes = c >= 3 ? [0, 1, 2].map((ch) => channel(t, ch, rows, cols)) : [channel(t, 0, rows, cols)];
    const x0 = gap + (k % columns) * (side + gap) + Math.floor((side - cols) / 2);
    const y0 = gap + Math.floor(k / columns) * (side + gap) + Math.floor((side - rows) / 2);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const at = ((y0 + y) * width + (x0 + x)) * 4;
        for (let ch = 0; ch < 3; ch++) {
          const v = (planes[planes.length === 3 ? ch : 0] as Float32Array)[y * cols + x] as number;
          png.data[at + ch] = Math.round(Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * 255);
        }
        png.data[at + 3] = 255;
      }
    }
  });
  return PNG.sync.write(png);
}
