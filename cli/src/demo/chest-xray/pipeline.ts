/**
 * The one place the chest-xray demo turns a DICOM image into a model input outside a site (the held-out
 * evaluation). It calls the site agent's own pipeline, so held-out images are preprocessed exactly as the
 * sites preprocess their training images.
 */
import { decodeModelInput } from '../../../../site-agent/src/hospital/dicom/pixels.js';
import type { ParsedDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';

/** `[height, width, 1]` grey input in [0, 1], row-major. */
export async function chestModelInput(parsed: ParsedDicom, source: string, shape: readonly [number, number, number]): Promise<Float32Array> {
  if (shape[2] !== 1) throw new Error(`chest radiographs are grey: the model must take one channel, not ${shape[2]}`);
  return decodeModelInput(parsed, source, { size: [shape[0], shape[1]] });
}
