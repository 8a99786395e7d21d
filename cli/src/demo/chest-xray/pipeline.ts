/**
 * The one place the chest-xray demo turns a DICOM image into a model input outside a site (the held-out
 * evaluation). It calls the function the site agent's training loader uses, so held-out images are
 * preprocessed exactly as the sites preprocess their training images.
 */
import type { ParsedDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { cachedImageInput } from '../../../../site-agent/src/hospital/ingest/image-study.js';

/** `[height, width, channels]` input in [0, 1], row-major. */
export function chestModelInput(parsed: ParsedDicom, source: string, shape: readonly [number, number, number]): Promise<Float32Array> {
  return cachedImageInput(parsed, source, shape);
}
