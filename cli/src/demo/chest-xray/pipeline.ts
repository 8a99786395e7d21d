/**
 * The one place the chest-xray demo turns a DICOM image into a model input outside a site (the held-out
 * evaluation). It runs the clinical image pipeline with the options the site agent's training loader uses
 * (`cachePipelineOptions`), so held-out images are preprocessed exactly as the sites' training images.
 */
import type { ParsedDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { preprocessInstance } from '../../../../site-agent/src/hospital/imaging/index.js';
import { cachePipelineOptions } from '../../../../site-agent/src/hospital/ingest/image-study.js';

/** `[height, width, channels]` input in [0, 1], row-major. */
export async function chestModelInput(parsed: ParsedDicom, source: string, shape: readonly [number, number, number]): Promise<Float32Array> {
  const out = await preprocessInstance(parsed, { ...cachePipelineOptions(shape), source });
  const first = out.tensors[0];
  if (first === undefined) throw new Error(`${source}: no frame to score`);
  return first;
}
