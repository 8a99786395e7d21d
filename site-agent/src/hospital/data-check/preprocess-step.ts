/**
 * The preprocessing step of `tessera data check` (and the agent's imaging datasets): a de-identified instance →
 * one `H × W × C` model input in [0, 1], by the clinical image pipeline (site-agent/src/hospital/imaging). The
 * older decoder (dicom/pixels.ts) stays available behind the same interface.
 */
import { parseDicom } from '../dicom/parse.js';
import { decodeModelInput } from '../dicom/pixels.js';
import { preprocessToModelInput } from '../imaging/index.js';

/** A preprocessed instance. */
export interface PreprocessedInstance {
  readonly tensor: Float32Array;
  readonly shape: readonly [number, number, number];
  /** Fallbacks the step took (no PHI), e.g. a window from the frame's range. */
  readonly notes: readonly string[];
}

/** De-identified Part 10 bytes → one model input of `shape`; throws a TesseraError with a reason when it cannot. */
export type InstancePreprocessor = (bytes: Uint8Array, source: string, shape: readonly [number, number, number]) => Promise<PreprocessedInstance>;

/** Today's decoder (dicom/pixels.ts): frame 0, rescale, the file's window or the frame's range, MONOCHROME1 inverted, resampled; grey copied to C channels. */
export const decoderPreprocess: InstancePreprocessor = async (bytes, source, shape) => {
  const [h, w, c] = shape;
  const parsed = parseDicom(bytes, source);
  const grey = await decodeModelInput(parsed, source, { size: [h, w] });
  if (c === 1) return { tensor: grey, shape: [h, w, 1], notes: [] };
  const tensor = new Float32Array(h * w * c);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) tensor[i * c + k] = grey[i] as number;
  return { tensor, shape: [h, w, c], notes: [] };
};

/** The step `tessera data check` uses: the clinical image pipeline with its defaults. */
export const preprocessInstanceStep: InstancePreprocessor = preprocessToModelInput;
