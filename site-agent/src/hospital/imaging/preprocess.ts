/**
 * The image pipeline's single entry: a de-identified DICOM instance → model input tensors. One function
 * per step, each in its own module: check and decode (`decode.ts`), Modality LUT (`modality-lut.ts`), VOI
 * LUT (`voi-lut.ts`), MONOCHROME1 inversion and colour (`photometric.ts`), the frame policy (`frames.ts`),
 * resampling (`resample.ts`) and channels. Every step that ran is recorded, with every fallback's reason.
 */
import { getString } from '../dicom/dataset.js';
import { tag } from '../dicom/dictionary.js';
import { parseDicom, type ParsedDicom } from '../dicom/parse.js';
import { checkPixelData, decodeFrame, modalityOf, type DecodedColour } from './decode.js';
import { ImagePipelineError } from './errors.js';
import { framesToDecode, maxIntensity } from './frames.js';
import { applyModalityLut, modalityRange, modalityTransformOf, type ModalityTransform } from './modality-lut.js';
import { compilePreprocessOptions, type CompiledPreprocessOptions, type PreprocessOptions } from './options.js';
import { paletteToUnit, readPalette } from './palette.js';
import { colourToUnit, invertMonochrome1, toChannels } from './photometric.js';
import { fitImage, placement } from './resample.js';
import { applyRescaleAndVoi, applyVoi, frameTransform, missingWindow, resolveVoi, type FusableVoi, type RescaleOrIdentity, type VoiTransform } from './voi-lut.js';

/** The steps of the pipeline, in order. */
export type PipelineStepName = 'decode' | 'modality-lut' | 'voi-lut' | 'photometric' | 'frames' | 'resample' | 'channels';

/** One step that ran, and what it did (numbers and attribute names only: no PHI). */
export interface PipelineStep {
  readonly step: PipelineStepName;
  readonly detail: string;
}

/** Why a step did something other than what the options asked (a fallback). */
export interface PipelineReason {
  readonly step: PipelineStepName;
  readonly message: string;
}

/** What the pipeline read from the header and decided. */
export interface ImageMetadata {
  readonly transferSyntaxUid: string;
  readonly modality: string;
  readonly rows: number;
  readonly columns: number;
  readonly frames: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly signed: boolean;
  readonly photometric: string;
  /** The colour space of the decoded samples (JPEG codecs return RGB whatever YBR the header names). */
  readonly decodedColour: DecodedColour;
  readonly modalityLut: ModalityTransform['kind'];
  /** The VOI transform of the first output frame (`undefined` for colour images). */
  readonly voi?: { readonly kind: VoiTransform['kind']; readonly origin: string; readonly center?: number; readonly width?: number; readonly function?: string };
  /** Pixel spacing used for the aspect ratio, row then column (mm), or [1, 1] when absent. */
  readonly spacing: readonly [number, number];
}

/** The result of {@link preprocessInstance}. */
export interface PreprocessResult {
  /** One tensor per output frame: `height × width × channels` float32, row-major, values in [0, 1]. */
  readonly tensors: Float32Array[];
  /** `[height, width, channels]` of every tensor. */
  readonly shape: readonly [number, number, number];
  /** The source frame of each tensor (`-1` for a maximum-intensity projection). */
  readonly frameIndices: readonly number[];
  readonly steps: readonly PipelineStep[];
  readonly metadata: ImageMetadata;
  readonly reasons: readonly PipelineReason[];
}

const PixelSpacing = tag(0x0028, 0x0030);
const ImagerPixelSpacing = tag(0x0018, 0x1164);

function spacingOf(parsed: ParsedDicom): [number, number] {
  for (const t of [PixelSpacing, ImagerPixelSpacing]) {
    const parts = (getString(parsed.dataset, t) ?? '').split('\\').map(Number);
    const [r, c] = parts;
    if (parts.length === 2 && r !== undefined && c !== undefined && r > 0 && c > 0 && Number.isFinite(r) && Number.isFinite(c)) return [r, c];
  }
  return [1, 1];
}

function describeVoi(t: VoiTransform): string {
  if (t.kind === 'window') return `${t.origin}: centre ${t.center}, width ${t.width}, ${t.function}`;
  if (t.kind === 'table') return `${t.origin}: ${t.table.data.length} entries of ${t.table.bits} bits`;
  return `${t.origin}: ${t.low.toPrecision(6)}..${t.high.toPrecision(6)}`;
}

/** The window {@link applyRescaleAndVoi} can apply in one pass for this instance, or `undefined` (the steps run one by one). */
function fusableVoi(parsed: ParsedDicom, voi: CompiledPreprocessOptions['voi'], modality: string, signed: boolean, m: ModalityTransform, bitsStored: number): FusableVoi | undefined {
  if (m.kind === 'table') return undefined;
  const resolved = resolveVoi(parsed.dataset, voi, modality, signed, modalityRange(m, bitsStored, signed));
  if (resolved === 'per-frame' || !('kind' in resolved)) return undefined;
  if (resolved.kind === 'linear') return resolved;
  if (resolved.kind === 'window' && resolved.function !== 'SIGMOID') return { ...resolved, function: resolved.function };
  return undefined;
}

/**
 * Preprocesses one instance (Part 10 bytes or an already parsed data set) into model input tensors.
 *
 * @throws ImagePipelineError with `reason` `zero-size`, `unsupported-transfer-syntax`, `pixel-length`,
 * `unsupported-pixels`, `decode-failed`, or `missing-window` (only with `fallback: 'error'`);
 * InputError `TESSERA_INPUT_DICOM_INVALID` for bytes that are not DICOM; ConfigError for bad options.
 */
export async function preprocessInstance(input: Uint8Array | ParsedDicom, options: PreprocessOptions | CompiledPreprocessOptions): Promise<PreprocessResult> {
  const o = compilePreprocessOptions(options);
  const parsed = input instanceof Uint8Array ? parseDicom(input, o.source) : input;
  const check = checkPixelData(parsed, o.source);
  const d = check.description;
  const steps: PipelineStep[] = [];
  const reasons: PipelineReason[] = [];
  const modality = modalityOf(parsed);
  const palette = check.colour === 'PALETTE COLOR' ? readPalette(parsed.dataset) : undefined;
  if (typeof palette === 'string') throw new ImagePipelineError('unsupported-pixels', o.source, `PALETTE COLOR: ${palette}`);
  const grey = d.samplesPerPixel === 1 && palette === undefined;
  const signed = d.pixelRepresentation === 1;

  const indices = framesToDecode(o.frames, d.frames);
  const stored: Int32Array[] = [];
  for (const i of indices) stored.push(await decodeFrame(parsed, check, i, o.source));
  steps.push({ step: 'decode', detail: `${check.transferSyntaxUid}: ${d.rows}×${d.columns}, ${d.samplesPerPixel} sample(s), ${d.bitsAllocated} bits allocated, ${d.bitsStored} stored, high bit ${d.highBit}, ${signed ? 'signed' : 'unsigned'}, ${indices.length} of ${d.frames} frame(s)` });

  // Grey: modality values; colour: RGB in [0, 1] (no LUTs apply to colour in the pipeline).
  const modalityT = grey ? modalityTransformOf(parsed.dataset, signed) : ({ kind: 'identity' } as const);
  let planes: Float32Array[];
  // A fixed window through a rescale: Modality LUT, VOI LUT and MONOCHROME1 inversion in one pass per frame (same
  // float32 values as the three steps one after the other), not three passes and two more frame-sized arrays.
  const fused = grey && o.frames !== 'max-intensity' ? fusableVoi(parsed, o.voi, modality, signed, modalityT, d.bitsStored) : undefined;
  const invert = check.colour === 'MONOCHROME1' && o.invertMonochrome1;
  if (grey && fused !== undefined) {
    planes = stored.map((s) => applyRescaleAndVoi(s, modalityT as RescaleOrIdentity, fused, invert));
    steps.push({ step: 'modality-lut', detail: modalityT.kind === 'rescale' ? `rescale slope ${modalityT.slope}, intercept ${modalityT.intercept}` : 'identity (no rescale or LUT in the header)' });
  } else if (grey) {
    planes = stored.map((s) => applyModalityLut(s, modalityT));
    steps.push({ step: 'modality-lut', detail: modalityT.kind === 'rescale' ? `rescale slope ${modalityT.slope}, intercept ${modalityT.intercept}` : modalityT.kind === 'table' ? `Modality LUT Sequence, ${modalityT.table.data.length} entries` : 'identity (no rescale or LUT in the header)' });
  } else if (palette !== undefined) {
    planes = stored.map((s) => paletteToUnit(s, palette));
    steps.push({ step: 'photometric', detail: `PALETTE COLOR: ${palette.red.length}-entry tables of ${palette.bits} bits → RGB` });
  } else {
    planes = stored.map((s) => colourToUnit(s, d.bitsStored, check.colour === 'YBR_FULL'));
    steps.push({ step: 'photometric', detail: `${d.photometric} decoded as ${check.colour}${check.colour === 'YBR_FULL' ? ', converted to RGB' : ''}, scaled by 2^${d.bitsStored} − 1` });
  }

  let frameIndices: number[] = indices;
  if (o.frames === 'max-intensity' && planes.length > 1) {
    planes = [maxIntensity(planes)];
    frameIndices = [-1];
  }
  steps.push({ step: 'frames', detail: `${o.frames}: ${frameIndices.length} tensor(s) from ${d.frames} frame(s)` });

  let firstVoi: VoiTransform | undefined;
  if (grey && fused !== undefined) {
    firstVoi = fused;
    steps.push({ step: 'voi-lut', detail: describeVoi(fused) });
    if (check.colour === 'MONOCHROME1') steps.push({ step: 'photometric', detail: o.invertMonochrome1 ? 'MONOCHROME1 inverted' : 'MONOCHROME1 kept (inversion off)' });
  } else if (grey) {
    const storedRange = modalityRange(modalityT, d.bitsStored, signed);
    const resolved = resolveVoi(parsed.dataset, o.voi, modality, signed, storedRange);
    let perFrame: Extract<typeof o.voi, { kind: 'percentile' | 'range' }> | undefined;
    let fixed: VoiTransform | undefined;
    if (resolved === 'per-frame') perFrame = o.voi as Extract<typeof o.voi, { kind: 'percentile' | 'range' }>;
    else if ('kind' in resolved) fixed = resolved;
    else {
      if (o.fallback === 'error') missingWindow(o.source, resolved.reason);
      if (o.fallback.kind === 'stored-range') fixed = { kind: 'linear', low: storedRange[0], high: storedRange[1], origin: 'stored range' };
      else perFrame = o.fallback;
      const to = o.fallback.kind === 'range' ? 'the frame range' : o.fallback.kind === 'stored-range' ? 'the stored range' : 'percentile normalisation';
      reasons.push({ step: 'voi-lut', message: `${resolved.reason}; fell back to ${to}` });
    }
    planes = planes.map((p) => {
      const t = fixed ?? frameTransform(p, perFrame ?? { kind: 'range' });
      firstVoi ??= t;
      const out = applyVoi(p, t);
      return check.colour === 'MONOCHROME1' && o.invertMonochrome1 ? invertMonochrome1(out) : out;
    });
    if (firstVoi !== undefined) steps.push({ step: 'voi-lut', detail: describeVoi(firstVoi) });
    if (check.colour === 'MONOCHROME1') steps.push({ step: 'photometric', detail: o.invertMonochrome1 ? 'MONOCHROME1 inverted' : 'MONOCHROME1 kept (inversion off)' });
  }

  // Channel conversion before resampling when it shrinks the data (RGB → grey), after when it grows it.
  const from: 1 | 3 = grey ? 1 : 3;
  let channels: 1 | 3 = from;
  if (o.channels < from) {
    planes = planes.map((p) => toChannels(p, from, o.channels));
    channels = o.channels;
  }
  const [outRows, outCols] = o.size;
  const spacing = spacingOf(parsed);
  const place = placement(d.rows, d.columns, outRows, outCols, o.fit, spacing);
  planes = planes.map((p) => fitImage(p, d.rows, d.columns, channels, outRows, outCols, place, o.pad));
  const shrink = d.rows > place.contentRows || d.columns > place.contentCols;
  steps.push({ step: 'resample', detail: `${d.rows}×${d.columns} → ${place.contentRows}×${place.contentCols} (${shrink ? 'area average' : 'bilinear'}) on ${outRows}×${outCols}, ${o.fit}, offset ${place.top},${place.left}, spacing ${spacing[0]}×${spacing[1]}` });
  if (o.channels > channels) {
    planes = planes.map((p) => toChannels(p, channels, o.channels));
    channels = o.channels;
  }
  if (from !== o.channels) steps.push({ step: 'channels', detail: `${from} → ${o.channels}` });

  const voi = firstVoi === undefined ? undefined : firstVoi.kind === 'window' ? { kind: firstVoi.kind, origin: firstVoi.origin, center: firstVoi.center, width: firstVoi.width, function: firstVoi.function } : { kind: firstVoi.kind, origin: firstVoi.origin };
  return {
    tensors: planes,
    shape: [outRows, outCols, channels],
    frameIndices,
    steps,
    reasons,
    metadata: {
      transferSyntaxUid: check.transferSyntaxUid,
      modality,
      rows: d.rows,
      columns: d.columns,
      frames: d.frames,
      samplesPerPixel: d.samplesPerPixel,
      bitsAllocated: d.bitsAllocated,
      bitsStored: d.bitsStored,
      highBit: d.highBit,
      signed,
      photometric: d.photometric,
      decodedColour: check.colour,
      modalityLut: modalityT.kind,
      ...(voi !== undefined ? { voi } : {}),
      spacing,
    },
  };
}
