/**
 * Options of the image pipeline: what a study (or `tessera data check`) asks for, validated once into a
 * frozen, fully-defaulted object (`PreprocessOptions` → {@link CompiledPreprocessOptions}); messages name
 * the field.
 */
import { ConfigError } from '../../../../shared/src/errors.js';
import type { FitMode } from './resample.js';
import { NAMED_WINDOWS, type VoiSource } from './voi-lut.js';

/** Which frames of a multi-frame instance become tensors. */
export type FramePolicy = 'first' | 'middle' | 'all' | 'max-intensity';

/** What the pipeline does when the chosen VOI source is missing or unusable. */
export type VoiFallbackPolicy = Extract<VoiSource, { kind: 'percentile' | 'range' | 'stored-range' }> | 'error';

/** Options for `preprocessInstance`. */
export interface PreprocessOptions {
  /** Model input `[height, width]` in pixels, each 1..4096 (the registry's models take 64–224). */
  readonly size: readonly [number, number];
  /** Output channels: grey, or grey replicated / RGB. @default 1 */
  readonly channels?: 1 | 3;
  /** Where the window comes from. @default { kind: 'header' } */
  readonly voi?: VoiSource;
  /** When the window source is missing: a normalisation (per frame, or the stored range), or `error` to refuse the instance. @default { kind: 'percentile', low: 0.5, high: 99.5 } */
  readonly fallback?: VoiFallbackPolicy;
  /** @default 'first' */
  readonly frames?: FramePolicy;
  /** @default 'letterbox' */
  readonly fit?: FitMode;
  /** Value of the letterbox padding, in [0, 1]. @default 0 */
  readonly pad?: number;
  /** Invert MONOCHROME1 so that 1 is always bright. @default true */
  readonly invertMonochrome1?: boolean;
  /** Names the instance in errors and reasons (a pseudonymous id or file name, never PHI). @default 'instance' */
  readonly source?: string;
}

/** {@link PreprocessOptions} with every default filled in; frozen. */
export interface CompiledPreprocessOptions {
  readonly size: readonly [number, number];
  readonly channels: 1 | 3;
  readonly voi: VoiSource;
  readonly fallback: VoiFallbackPolicy;
  readonly frames: FramePolicy;
  readonly fit: FitMode;
  readonly pad: number;
  readonly invertMonochrome1: boolean;
  readonly source: string;
}

const MAX_SIDE = 4096;
const FRAME_POLICIES: readonly FramePolicy[] = ['first', 'middle', 'all', 'max-intensity'];

function fail(field: string, rule: string): never {
  throw new ConfigError(`'image.${field}' ${rule}`, { field: `image.${field}` });
}

function checkPercentiles(v: { low?: number; high?: number }, field: string): void {
  const low = v.low ?? 0.5;
  const high = v.high ?? 99.5;
  if (!(low >= 0 && low < high && high <= 100)) fail(field, 'must have 0 ≤ low < high ≤ 100');
}

function checkVoi(voi: VoiSource): void {
  switch (voi.kind) {
    case 'header':
      if (voi.index !== undefined && !(Number.isInteger(voi.index) && voi.index >= 0)) fail('voi.index', 'must be an integer ≥ 0');
      return;
    case 'named':
      if (!Object.hasOwn(NAMED_WINDOWS, voi.name)) fail('voi.name', `must be one of ${Object.keys(NAMED_WINDOWS).join(', ')}`);
      return;
    case 'window':
      if (!Number.isFinite(voi.center)) fail('voi.center', 'must be a finite number');
      if (!(Number.isFinite(voi.width) && voi.width >= 1)) fail('voi.width', 'must be a finite number ≥ 1');
      if (voi.function !== undefined && !['LINEAR', 'LINEAR_EXACT', 'SIGMOID'].includes(voi.function)) fail('voi.function', 'must be LINEAR, LINEAR_EXACT or SIGMOID');
      return;
    case 'percentile':
      checkPercentiles(voi, 'voi');
      return;
    case 'range':
    case 'stored-range':
      return;
    default:
      fail('voi.kind', 'must be header, named, window, percentile, range or stored-range');
  }
}

/** Options objects this module compiled (so a caller may pass them again without a second validation). */
const compiled = new WeakSet<object>();

/** Whether `o` came out of {@link compilePreprocessOptions}. */
export function isCompiledPreprocessOptions(o: object): o is CompiledPreprocessOptions {
  return compiled.has(o);
}

/** Validates and freezes pipeline options (compiled options pass through). @throws ConfigError naming the field. */
export function compilePreprocessOptions(o: PreprocessOptions | CompiledPreprocessOptions): CompiledPreprocessOptions {
  if (compiled.has(o)) return o as CompiledPreprocessOptions;
  const [h, w] = o.size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1 && h <= MAX_SIDE && w <= MAX_SIDE)) fail('size', `must be [height, width], integers in 1..${MAX_SIDE}`);
  const channels = o.channels ?? 1;
  if (channels !== 1 && channels !== 3) fail('channels', 'must be 1 or 3');
  const voi = o.voi ?? { kind: 'header' };
  checkVoi(voi);
  const fallback = o.fallback ?? { kind: 'percentile', low: 0.5, high: 99.5 };
  if (fallback !== 'error') {
    if (fallback.kind !== 'percentile' && fallback.kind !== 'range' && fallback.kind !== 'stored-range') fail('fallback', "must be a percentile, range or stored-range normalisation, or 'error'");
    if (fallback.kind === 'percentile') checkPercentiles(fallback, 'fallback');
  }
  const frames = o.frames ?? 'first';
  if (!FRAME_POLICIES.includes(frames)) fail('frames', `must be one of ${FRAME_POLICIES.join(', ')}`);
  const fit = o.fit ?? 'letterbox';
  if (fit !== 'letterbox' && fit !== 'stretch') fail('fit', "must be 'letterbox' or 'stretch'");
  const pad = o.pad ?? 0;
  if (!(pad >= 0 && pad <= 1)) fail('pad', 'must be in [0, 1]');
  const out: CompiledPreprocessOptions = Object.freeze({
    size: Object.freeze([h, w] as const),
    channels,
    voi: Object.freeze({ ...voi }),
    fallback: fallback === 'error' ? fallback : Object.freeze({ ...fallback }),
    frames,
    fit,
    pad,
    invertMonochrome1: o.invertMonochrome1 ?? true,
    source: o.source ?? 'instance',
  });
  compiled.add(out);
  return out;
}
