/**
 * Step 3: the VOI LUT (PS3.3 C.11.2): modality values → display values in [0, 1]. Sources, in the order a
 * study may ask for them: the header's window (one of several Window Center/Width values, with its VOI LUT
 * Function LINEAR, LINEAR_EXACT or SIGMOID) or its VOI LUT Sequence; a named window (lung, mediastinum,
 * bone, brain… in Hounsfield units, for CT); an explicit centre and width; percentile normalisation; the
 * frame's range. When the chosen source is missing or unusable the fallback applies and the reason is
 * recorded (or, with fallback `error`, {@link ImagePipelineError} `missing-window` is thrown).
 */
import { getNumber, getString, type DicomDataset } from '../dicom/dataset.js';
import { Tags } from '../dicom/dictionary.js';
import { ImagePipelineError } from './errors.js';
import { LutTags, lookUp, readLutItem, type LutTable, type ModalityTransform } from './modality-lut.js';

/** VOI LUT Function (0028,1056). */
export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

/** Named CT windows, centre and width in Hounsfield units (common radiology presets). */
export const NAMED_WINDOWS = {
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 50, width: 350 },
  bone: { center: 400, width: 1800 },
  brain: { center: 40, width: 80 },
  subdural: { center: 75, width: 215 },
  stroke: { center: 40, width: 40 },
  abdomen: { center: 40, width: 400 },
  liver: { center: 60, width: 160 },
  'soft-tissue': { center: 50, width: 400 },
} as const satisfies Record<string, { center: number; width: number }>;
export type NamedWindow = keyof typeof NAMED_WINDOWS;

/** Where the VOI transform comes from. */
export type VoiSource =
  /** The header: Window Center/Width value `index` (default 0), or the VOI LUT Sequence when `preferLut` and present. */
  | { readonly kind: 'header'; readonly index?: number; readonly preferLut?: boolean }
  /** A named CT window ({@link NAMED_WINDOWS}); only for modality values in Hounsfield units (CT). */
  | { readonly kind: 'named'; readonly name: NamedWindow }
  /** An explicit window. */
  | { readonly kind: 'window'; readonly center: number; readonly width: number; readonly function?: VoiFunction }
  /** Linear from the `low`-th to the `high`-th percentile of the frame's modality values (defaults 0.5 and 99.5). */
  | { readonly kind: 'percentile'; readonly low?: number; readonly high?: number }
  /** Linear from the frame's minimum to its maximum. */
  | { readonly kind: 'range' }
  /**
   * Linear over the whole range stored values can take, through the Modality LUT (pydicom's output range:
   * 0..2^BitsStored − 1, or signed, through the rescale; a Modality LUT's 0..2^bits − 1): 8-bit images
   * without a window become value / 255, as MedMNIST-style datasets expect.
   */
  | { readonly kind: 'stored-range' };

/** The VOI transform actually applied to a frame. */
export type VoiTransform =
  | { readonly kind: 'window'; readonly center: number; readonly width: number; readonly function: VoiFunction; readonly origin: string }
  | { readonly kind: 'table'; readonly table: LutTable; readonly origin: string }
  | { readonly kind: 'linear'; readonly low: number; readonly high: number; readonly origin: string };

/** A window that could not be used, and why. */
export interface VoiFallback {
  readonly reason: string;
}

function headerWindow(ds: DicomDataset, index: number): { center: number; width: number; function: VoiFunction } | string {
  const center = getNumber(ds, Tags.WindowCenter, index);
  const width = getNumber(ds, Tags.WindowWidth, index);
  if (center === undefined || width === undefined) {
    return getNumber(ds, Tags.WindowCenter) === undefined ? 'no Window Center/Width in the header' : `no Window Center/Width value ${index} in the header`;
  }
  const fn = (getString(ds, LutTags.VOILUTFunction) ?? 'LINEAR').toUpperCase() || 'LINEAR';
  if (fn !== 'LINEAR' && fn !== 'LINEAR_EXACT' && fn !== 'SIGMOID') return `VOI LUT Function ${fn.slice(0, 16)} is not LINEAR, LINEAR_EXACT or SIGMOID`;
  if (fn === 'LINEAR' ? width < 1 : width <= 0) return `Window Width ${index} is out of range for ${fn}`;
  return { center, width, function: fn };
}

/**
 * Resolves `source` for one instance; `modality` is the Modality attribute (named windows need CT).
 * Returns the transform, or a reason the source cannot be used (the caller applies the fallback).
 * Percentile and range transforms are resolved per frame by {@link frameTransform}.
 */
export function resolveVoi(ds: DicomDataset, source: VoiSource, modality: string, signed: boolean, storedRange?: readonly [number, number]): VoiTransform | VoiFallback | 'per-frame' {
  switch (source.kind) {
    case 'header': {
      const index = source.index ?? 0;
      const lutItem = ds.get(LutTags.VOILUTSequence)?.items?.[0];
      if ((source.preferLut ?? true) && lutItem !== undefined) {
        const table = readLutItem(lutItem, signed);
        if (table !== undefined) return { kind: 'table', table, origin: 'header VOI LUT Sequence' };
      }
      const w = headerWindow(ds, index);
      return typeof w === 'string' ? { reason: w } : { kind: 'window', ...w, origin: `header window ${index}` };
    }
    case 'named': {
      if (modality !== 'CT') return { reason: `named window '${source.name}' is in Hounsfield units; modality is ${modality === '' ? 'absent' : modality.slice(0, 8)}` };
      const w = NAMED_WINDOWS[source.name];
      return { kind: 'window', center: w.center, width: w.width, function: 'LINEAR', origin: `named window ${source.name}` };
    }
    case 'window':
      return { kind: 'window', center: source.center, width: source.width, function: source.function ?? 'LINEAR', origin: 'study window' };
    case 'stored-range':
      return storedRange === undefined ? { reason: 'no stored range known' } : { kind: 'linear', low: storedRange[0], high: storedRange[1], origin: 'stored range' };
    case 'percentile':
    case 'range':
      return 'per-frame';
  }
}

/**
 * Moves the `k`-th smallest of `a[left..right]` to `a[k]`, smaller-or-equal ones before it and greater-or-equal
 * ones after (Hoare's FIND as Wirth writes it: duplicates split evenly, no recursion). In place, O(n) expected:
 * what `sort()` then indexing gives, without sorting a whole frame (a 2048² frame sorted was most of the
 * percentile fallback's time).
 */
function selectInPlace(a: Float32Array, k: number, left: number, right: number): void {
  let l = left;
  let r = right;
  while (l < r) {
    // Median of three as the pivot: sorted or constant regions (common in images) stay linear.
    const m = (l + r) >>> 1;
    const x0 = a[l] as number;
    const x1 = a[m] as number;
    const x2 = a[r] as number;
    const x = x0 < x1 ? (x1 < x2 ? x1 : x0 < x2 ? x2 : x0) : x0 < x2 ? x0 : x1 < x2 ? x2 : x1;
    let i = l;
    let j = r;
    do {
      while ((a[i] as number) < x) i++;
      while (x < (a[j] as number)) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) r = j;
  }
}

/** The smallest of `a[from..to]`. */
function minOf(a: Float32Array, from: number, to: number): number {
  let m = a[from] as number;
  for (let i = from + 1; i <= to; i++) if ((a[i] as number) < m) m = a[i] as number;
  return m;
}

/**
 * The `lowP`-th and `highP`-th percentiles of `values` (numpy's default: linear interpolation between the two
 * order statistics around the position), exactly what sorting and indexing gives. `values` is not modified.
 */
export function percentiles(values: Float32Array, lowP: number, highP: number): [number, number] {
  const n = values.length;
  const a = Float32Array.from(values);
  // NaN breaks the partition's comparisons; sort() puts it last, so keep the sort's answer for such frames.
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(a[i])) {
      a.sort();
      return [interpolate(a, lowP, (lo) => a[lo + 1] as number), interpolate(a, highP, (lo) => a[lo + 1] as number)];
    }
  }
  const at = (p: number): { pos: number; lo: number } => {
    const pos = (p / 100) * (n - 1);
    return { pos, lo: Math.floor(pos) };
  };
  const [first, second] = lowP <= highP ? [lowP, highP] : [highP, lowP];
  // The larger percentile over the whole frame; then the smaller one among what lies at or below it.
  const hi = at(second);
  selectInPlace(a, hi.lo, 0, n - 1);
  const hiValue = pointValue(a, hi, n - 1);
  const lo = at(first);
  selectInPlace(a, lo.lo, 0, hi.lo);
  // The next order statistic after lo.lo lies in lo.lo+1..hi.lo, or is a[hi.lo + 1 …] when lo.lo = hi.lo.
  const loValue = lo.lo === hi.lo ? pointValue(a, lo, n - 1) : valueAt(a, lo, minOf(a, lo.lo + 1, hi.lo));
  return lowP <= highP ? [loValue, hiValue] : [hiValue, loValue];
}

/** The interpolated value at `p` once `a[lo]` holds its order statistic; `next` gives the following one. */
function interpolate(a: Float32Array, p: number, next: (lo: number) => number): number {
  const pos = (p / 100) * (a.length - 1);
  const lo = Math.floor(pos);
  const hi = lo + 1 < a.length ? next(lo) : (a[lo] as number);
  return (a[lo] as number) + (hi - (a[lo] as number)) * (pos - lo);
}

/** `a[at.lo]` selected: interpolates towards the smallest of what follows it (`a[at.lo + 1 .. last]`). */
function pointValue(a: Float32Array, at: { pos: number; lo: number }, last: number): number {
  return valueAt(a, at, at.lo + 1 <= last ? minOf(a, at.lo + 1, last) : (a[at.lo] as number));
}

function valueAt(a: Float32Array, at: { pos: number; lo: number }, next: number): number {
  const v = a[at.lo] as number;
  return v + (next - v) * (at.pos - at.lo);
}

/** A percentile or range transform computed from one frame's modality values. */
export function frameTransform(values: Float32Array, source: Extract<VoiSource, { kind: 'percentile' | 'range' }>): VoiTransform {
  if (source.kind === 'range') {
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (v < low) low = v;
      if (v > high) high = v;
    }
    return { kind: 'linear', low, high, origin: 'frame range' };
  }
  const lowP = source.low ?? 0.5;
  const highP = source.high ?? 99.5;
  const [low, high] = percentiles(values, lowP, highP);
  return { kind: 'linear', low, high, origin: `percentiles ${lowP}–${highP}` };
}

/** Applies a VOI transform: modality values → [0, 1]. A zero-width linear range maps everything to 0. */
export function applyVoi(values: Float32Array, t: VoiTransform): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  switch (t.kind) {
    case 'window': {
      if (t.function === 'SIGMOID') {
        // PS3.3 C.11.2.1.3.1
        for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp((-4 * ((values[i] as number) - t.center)) / t.width));
        break;
      }
      // PS3.3 C.11.2.1.2.1 (LINEAR: centre − 0.5, width − 1) and C.11.2.1.3.2 (LINEAR_EXACT).
      const c = t.function === 'LINEAR' ? t.center - 0.5 : t.center;
      const w = t.function === 'LINEAR' ? t.width - 1 : t.width;
      const lo = c - w / 2;
      const hi = c + w / 2;
      for (let i = 0; i < n; i++) {
        const x = values[i] as number;
        out[i] = x <= lo ? 0 : x > hi ? 1 : (x - c) / w + 0.5;
      }
      break;
    }
    case 'table': {
      const max = 2 ** t.table.bits - 1;
      for (let i = 0; i < n; i++) out[i] = lookUp(t.table, Math.round(values[i] as number)) / max;
      break;
    }
    case 'linear': {
      const span = t.high - t.low;
      for (let i = 0; i < n; i++) {
        const v = span > 0 ? ((values[i] as number) - t.low) / span : 0;
        out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
      break;
    }
  }
  return out;
}

/** A modality transform {@link applyRescaleAndVoi} takes. */
export type RescaleOrIdentity = Extract<ModalityTransform, { kind: 'rescale' | 'identity' }>;
/** A VOI transform {@link applyRescaleAndVoi} takes: a LINEAR or LINEAR_EXACT window, or a linear range. */
export type FusableVoi = Extract<VoiTransform, { kind: 'linear' }> | (Extract<VoiTransform, { kind: 'window' }> & { readonly function: 'LINEAR' | 'LINEAR_EXACT' });

/**
 * Stored values → display values in [0, 1] in one pass: the rescale (rounded to float32, as the Modality LUT step
 * stores it), the window or range exactly as {@link applyVoi}, then `1 − v` when `invert` (MONOCHROME1), each
 * intermediate rounded as the separate steps round it, so the result is the same to the bit.
 */
export function applyRescaleAndVoi(stored: Int32Array, m: RescaleOrIdentity, t: FusableVoi, invert: boolean): Float32Array {
  const n = stored.length;
  const out = new Float32Array(n);
  const slope = m.kind === 'rescale' ? m.slope : 1;
  const intercept = m.kind === 'rescale' ? m.intercept : 0;
  // Both transforms are `x <= lo → 0, x > hi → 1, else (x − c) / w + 0.5` (window) or the clamp of `(x − low) / span` (range).
  if (t.kind === 'window') {
    const c = t.function === 'LINEAR' ? t.center - 0.5 : t.center;
    const w = t.function === 'LINEAR' ? t.width - 1 : t.width;
    const lo = c - w / 2;
    const hi = c + w / 2;
    for (let i = 0; i < n; i++) {
      const x = Math.fround((stored[i] as number) * slope + intercept);
      const y = x <= lo ? 0 : x > hi ? 1 : Math.fround((x - c) / w + 0.5);
      out[i] = invert ? 1 - y : y;
    }
    return out;
  }
  const span = t.high - t.low;
  for (let i = 0; i < n; i++) {
    const x = Math.fround((stored[i] as number) * slope + intercept);
    const v = span > 0 ? (x - t.low) / span : 0;
    const y = v < 0 ? 0 : v > 1 ? 1 : Math.fround(v);
    out[i] = invert ? 1 - y : y;
  }
  return out;
}

/** Throws the typed error a study gets when it forbids falling back from a missing window. */
export function missingWindow(source: string, reason: string): never {
  throw new ImagePipelineError('missing-window', source, `no usable window: ${reason}`);
}
