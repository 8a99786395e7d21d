/**
 * The pipeline as a one-tensor preprocessor for callers that want exactly one model input per instance
 * (`tessera data check`, the agent's imaging datasets): `(bytes, source, [h, w, c]) → { tensor, shape, notes }`,
 * the shape of the data check's `InstancePreprocessor`, so switching that step to the pipeline is one line.
 */
import { ConfigError } from '../../../../shared/src/errors.js';
import { compilePreprocessOptions, type CompiledPreprocessOptions, type PreprocessOptions } from './options.js';
import { preprocessInstance } from './preprocess.js';

/** One model input and the fallbacks taken to make it (no PHI). */
export interface ModelInput {
  readonly tensor: Float32Array;
  readonly shape: readonly [number, number, number];
  /** `<step>: <reason>` for every fallback (e.g. a missing window normalised by percentiles). */
  readonly notes: readonly string[];
}

/** What the study may set besides the input shape and the instance's name. */
export type ModelInputDefaults = Omit<PreprocessOptions, 'size' | 'channels' | 'source' | 'frames'> & { readonly frames?: 'first' | 'middle' | 'max-intensity' };

/**
 * A preprocessor with the study's settings (window source, fallback, frame policy among first, middle
 * and max-intensity, fit): each call makes one `h × w × c` tensor of an instance.
 * @throws ConfigError for a shape with other than 1 or 3 channels or bad settings (at the first call);
 * ImagePipelineError with its reason for an instance that cannot become a tensor.
 */
export function modelInputPreprocessor(defaults: ModelInputDefaults = {}): (bytes: Uint8Array, source: string, shape: readonly [number, number, number]) => Promise<ModelInput> {
  const compiled = new Map<string, CompiledPreprocessOptions>();
  return async (bytes, source, shape) => {
    const [h, w, c] = shape;
    if (c !== 1 && c !== 3) throw new ConfigError("'image.channels' must be 1 or 3", { field: 'image.channels' });
    const key = `${h}x${w}x${c}`;
    let base = compiled.get(key);
    if (base === undefined) {
      base = compilePreprocessOptions({ ...defaults, size: [h, w], channels: c });
      compiled.set(key, base);
    }
    const r = await preprocessInstance(bytes, { ...base, source });
    return { tensor: r.tensors[0] as Float32Array, shape: r.shape, notes: r.reasons.map((x) => `${x.step}: ${x.message}`) };
  };
}

/** The pipeline with its defaults (header window, percentile fallback, first frame, letterbox). */
export const preprocessToModelInput = modelInputPreprocessor();
