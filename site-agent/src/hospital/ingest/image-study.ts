/**
 * A site's imaging study data: DICOM images plus FHIR records, both through the de-identification gate
 * into the site's cache, then read back from the cache (and only from it) as training tensors.
 *
 * Linkage is by the keyed patient pseudonym: the DICOM gate replaces PatientID with it and the Safe
 * Harbor gate adds it as a `urn:tessera:pseudonym` identifier on the Patient; the label and the split
 * come from the patient's DiagnosticReport. Nothing identifying is read after the gate.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { IngestReport, SiteDataset } from '../datasets/tabular.js';
import { MEDMNIST_LABEL_SYSTEM, MEDMNIST_SPLIT_SYSTEM } from '../datasets/medmnist-convert.js';
import { getString } from '../dicom/dataset.js';
import { Tags } from '../dicom/dictionary.js';
import { parseDicom } from '../dicom/parse.js';
import type { BurnedInPolicy } from '../deid/burned-in.js';
import { loadConfidentialityProfile, type DeidOption } from '../deid/dicom-profile.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../deid/pseudonym.js';
import { PSEUDONYM_SYSTEM, SafeHarbor } from '../deid/safe-harbor.js';
import { mergeParsed, parseFhirJson, parseFhirNdjson } from '../emr/fhir-parse.js';
import type { FhirResource } from '../emr/fhir-resource.js';
import { ConfigError, InputError } from '../../../../shared/src/errors.js';
import { compilePreprocessOptions, ImagePipelineError, type CompiledPreprocessOptions } from '../imaging/index.js';
import { PreprocessPool } from '../imaging/preprocess-pool.js';
import type { Logger } from '../../../../shared/src/logging.js';
import { runDicomDeid, type DeidReport } from './dicom-deid-gate.js';

/** Where a site's imaging study lives and where its de-identified cache goes. */
export interface ImageStudySource {
  /** Folder of original DICOM files (read-only). */
  dicom: string;
  /** Folder of FHIR R4 exports: `*.json` Bundles and `*.ndjson` bulk files (read-only). Without it the images carry no labels. */
  fhir?: string;
  /** The site's de-identified cache: `dicom/` and `emr/resources.ndjson` are (re)written here. */
  cache: string;
  /** Site secret file (pseudonyms, UIDs, date shifts); created 0600 when absent. */
  secret: string;
  /** PS3.15 options. @default [] */
  options?: readonly DeidOption[];
  /** What the site accepts of images that may carry burned-in text. @default quarantine all of them */
  burnedIn?: BurnedInPolicy;
}

/** Counts of one ingest, safe to log (no values). */
export interface ImageIngestSummary {
  dicomIn: number;
  dicomWritten: number;
  dicomQuarantined: number;
  dicomFailed: number;
  fhirResources: number;
  fhirRefused: number;
  fhirIssues: number;
}

const CACHE_EMR = path.join('emr', 'resources.ndjson');
/** (0018,0015) Body Part Examined. */
const BODY_PART_EXAMINED = 0x00180015;

async function readFhirFolder(dir: string): Promise<ReturnType<typeof mergeParsed>> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `cannot read FHIR folder ${dir}`, { file: dir }, { cause: err });
  }
  const parts = [];
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.ndjson')) parts.push(parseFhirNdjson(await readFile(file, 'utf8'), file));
    else if (name.endsWith('.json')) parts.push(parseFhirJson(await readFile(file, 'utf8'), file));
  }
  return mergeParsed(parts);
}

/**
 * Runs both gates: DICOM (PS3.15 Basic Profile) into `cache/dicom`, FHIR (Safe Harbor, dates shifted
 * by the same per-patient shift) into `cache/emr/resources.ndjson`. The cache is rebuilt from scratch
 * each time, so it never holds anything a previous, different gate run let through.
 */
export async function ingestImageStudy(src: ImageStudySource, logger?: Logger): Promise<{ summary: ImageIngestSummary; deid: DeidReport }> {
  const secret = await loadOrCreateSiteSecret(src.secret);
  const pseudonymizer = new PatientPseudonymizer({ secret });
  await rm(path.join(src.cache, 'dicom'), { recursive: true, force: true });
  await rm(path.join(src.cache, 'emr'), { recursive: true, force: true });
  const deid = await runDicomDeid({
    inDir: src.dicom,
    outDir: path.join(src.cache, 'dicom'),
    profile: loadConfidentialityProfile(),
    pseudonymizer,
    options: src.options ?? [],
    ...(src.burnedIn !== undefined ? { burnedIn: src.burnedIn } : {}),
  });
  for (const e of [...deid.quarantined, ...deid.failed]) {
    if (e.status !== 'written') logger?.warn({ file: e.file, status: e.status, reasons: e.reasons.map((r) => r.code) }, 'DICOM file not admitted to the cache');
  }
  const accepted = deid.written.filter((e) => e.status === 'written' && e.acceptedRisk !== undefined).length;
  if (accepted > 0) logger?.warn({ accepted }, 'images that may carry burned-in text admitted by the site\'s burnedInAnnotation policy');
  const out = await ingestStudyEmr(src.fhir, src.cache, pseudonymizer);
  const summary: ImageIngestSummary = {
    dicomIn: deid.filesIn,
    dicomWritten: deid.written.length,
    dicomQuarantined: deid.quarantined.length,
    dicomFailed: deid.failed.length,
    fhirResources: out.resources,
    fhirRefused: out.refused,
    fhirIssues: out.issues,
  };
  logger?.info(summary, 'imaging study ingested through the de-identification gate');
  return { summary, deid };
}

/**
 * The EMR half of an imaging study: FHIR exports through the Safe Harbor gate (dates shifted by the same
 * per-patient shift as the images) into `cache/emr/resources.ndjson`, rewritten each time; without a FHIR folder
 * the file is written empty (images then carry no labels).
 */
export async function ingestStudyEmr(
  fhir: string | undefined,
  cache: string,
  pseudonymizer: PatientPseudonymizer,
): Promise<{ resources: number; refused: number; issues: number }> {
  await rm(path.join(cache, 'emr'), { recursive: true, force: true });
  await mkdir(path.join(cache, 'emr'), { recursive: true });
  if (fhir === undefined) {
    await writeFile(path.join(cache, CACHE_EMR), '', { mode: 0o600 });
    return { resources: 0, refused: 0, issues: 0 };
  }
  const parsed = await readFhirFolder(fhir);
  const gate = new SafeHarbor({ pseudonymizer });
  const out = gate.deidentify(parsed.resources);
  await writeFile(path.join(cache, CACHE_EMR), out.resources.map((r) => JSON.stringify(r)).join('\n') + '\n', { mode: 0o600 });
  return { resources: out.resources.length, refused: out.refused.length, issues: parsed.issues.length };
}

interface Coding {
  system?: unknown;
  code?: unknown;
}

function codings(value: unknown): Coding[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((cc: unknown) => {
    const c = (cc as { coding?: unknown } | null)?.coding;
    return Array.isArray(c) ? (c as Coding[]) : [];
  });
}

/** Patient pseudonym → { label, split } from the de-identified FHIR resources. */
function labelsByPseudonym(resources: FhirResource[]): Map<string, { label: number; split: string }> {
  const pseudonymOf = new Map<string, string>();
  for (const r of resources) {
    if (r.resourceType !== 'Patient') continue;
    const ids = Array.isArray(r['identifier']) ? (r['identifier'] as { system?: unknown; value?: unknown }[]) : [];
    const p = ids.find((i) => i.system === PSEUDONYM_SYSTEM)?.value;
    if (typeof p === 'string' && r.id !== undefined) pseudonymOf.set(`Patient/${r.id}`, p);
  }
  const out = new Map<string, { label: number; split: string }>();
  for (const r of resources) {
    if (r.resourceType !== 'DiagnosticReport') continue;
    const ref = (r['subject'] as { reference?: unknown } | undefined)?.reference;
    const pseudonym = typeof ref === 'string' ? (pseudonymOf.get(ref) ?? (ref.startsWith('Patient/') ? ref.slice(8) : undefined)) : undefined;
    const code = codings(r['conclusionCode']).find((c) => c.system === MEDMNIST_LABEL_SYSTEM)?.code;
    const split = codings(r['category']).find((t) => t.system === MEDMNIST_SPLIT_SYSTEM)?.code;
    if (pseudonym === undefined || (code !== '0' && code !== '1') || typeof split !== 'string') continue;
    out.set(pseudonym, { label: Number(code), split });
  }
  return out;
}

/**
 * The pipeline options training reads a cache with: the model's size and channels, the header's window,
 * else the stored range. Anything that must preprocess as training does (the chest-xray demo's held-out
 * scoring) takes them from here.
 */
export function cachePipelineOptions(shape: readonly [number, number, number]): CompiledPreprocessOptions {
  const [h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new InputError('TESSERA_INPUT_DICOM_PIXELS', `a model input has 1 or 3 channels, not ${c}`);
  return compilePreprocessOptions({ size: [h, w], channels: c, fallback: { kind: 'stored-range' }, source: 'cache' });
}

/** Options for {@link loadImageCache}. */
export interface LoadImageCacheOptions {
  /** `[height, width, channels]` the model expects (1 or 3 channels); other sizes are resampled (letterbox). */
  shape: readonly [number, number, number];
  /** Name reported as the dataset. */
  dataset: string;
  /** Splits that train (official MedMNIST split names). @default ['train'] */
  trainSplits?: readonly string[];
  /** Splits held out for evaluation. @default ['test'] */
  testSplits?: readonly string[];
  /** Splits evaluated for model selection (reported apart from the test split). @default ['val'] */
  valSplits?: readonly string[];
  /**
   * Label vector and split per patient pseudonym from a study's `data:` (study-data/study-source.ts),
   * instead of the MedMNIST DiagnosticReport codes; images of other patients are skipped, and each image
   * becomes the model input through the clinical image pipeline (site-agent/src/hospital/imaging).
   */
  links?: ReadonlyMap<string, { readonly y: readonly number[]; readonly split: string; readonly features?: Float32Array }>;
  /** With `links` carrying `features`: their length, appended after each image's pixels (a model's feature input). @default 0 */
  featureDim?: number;
  /** With `links`: DICOM modalities (0008,0060) and body parts (0018,0015) that count; others are skipped. */
  select?: { readonly modality?: readonly string[]; readonly bodyPart?: readonly string[] };
  /**
   * Threads decoding and preprocessing the images (worker threads, so the agent's event loop keeps answering
   * the coordinator meanwhile; 0: on the calling thread). @default min(cores, 4)
   */
  preprocessThreads?: number;
}

/**
 * Reads the de-identified cache as training data through the image pipeline (`../imaging`): every transfer
 * syntax a bundled codec decodes, 8 to 16 bits, rescale, the header's window or else the stored range
 * (8-bit images without a window: value / 255), MONOCHROME1 inverted, first frame, letterboxed to `shape`;
 * labels and splits from the linked FHIR DiagnosticReport. Files without a linked report or that the
 * pipeline refuses are reported with the reason and skipped.
 */
export async function loadImageCache(cacheDir: string, opts: LoadImageCacheOptions): Promise<SiteDataset> {
  const emrText = await readFile(path.join(cacheDir, CACHE_EMR), 'utf8').catch((err: unknown) => {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `cannot read the de-identified EMR in ${cacheDir}`, { file: path.join(cacheDir, CACHE_EMR) }, { cause: err });
  });
  const emr = parseFhirNdjson(emrText, path.join(cacheDir, CACHE_EMR));
  const labels: ReadonlyMap<string, { y: readonly number[]; split: string; features?: Float32Array }> =
    opts.links ?? new Map([...labelsByPseudonym(emr.resources.map((r) => r.resource))].map(([p, l]) => [p, { y: [l.label], split: l.split }]));
  const dicomDir = path.join(cacheDir, 'dicom');
  const files = (await readdir(dicomDir)).filter((f) => f.endsWith('.dcm')).sort();
  const [h, w, c] = opts.shape;
  const pixels = h * w * c;
  const size = pixels + (opts.featureDim ?? 0);
  if (c !== 1 && c !== 3) throw new ConfigError(`image datasets have 1 or 3 channels, not ${c}`, { field: 'shape' });
  // The same options as cachePipelineOptions(shape): the header's window, else the stored range.
  const pool = PreprocessPool.create({ defaults: { fallback: { kind: 'stored-range' } }, ...(opts.preprocessThreads !== undefined ? { threads: opts.preprocessThreads } : {}) });
  const trainSplits = new Set(opts.trainSplits ?? ['train']);
  const testSplits = new Set(opts.testSplits ?? ['test']);
  const valSplits = new Set(opts.valSplits ?? ['val']);
  const rows: Record<'train' | 'test' | 'val', { x: Float32Array; y: readonly number[] }[]> = { train: [], test: [], val: [] };
  const report: IngestReport = { file: dicomDir, rowsRead: files.length, rowsAccepted: 0, rowsWithMissing: 0, rowsRejected: 0, problems: [] };
  type Outcome =
    | { readonly kind: 'reject'; readonly reason: string }
    | { readonly kind: 'row'; readonly target: 'train' | 'test' | 'val'; readonly x: Float32Array; readonly y: readonly number[]; readonly features: Float32Array | undefined };
  // One outcome per file, by index: the images are decoded on the pool's threads in parallel, and the rows,
  // the rejections and their order come out as if they had been made one after the other.
  const outcomes: (Outcome | undefined)[] = new Array<Outcome | undefined>(files.length);
  const jobs: Promise<void>[] = [];
  try {
    for (const [i, file] of files.entries()) {
      let parsed;
      let bytes: Uint8Array;
      try {
        bytes = await readFile(path.join(dicomDir, file));
        parsed = parseDicom(bytes, file);
      } catch {
        outcomes[i] = { kind: 'reject', reason: `${file}: not readable DICOM` };
        continue;
      }
      const ds = parsed.dataset;
      const pseudonym = getString(ds, Tags.PatientID)?.trim();
      const link = pseudonym === undefined ? undefined : labels.get(pseudonym);
      if (link === undefined) {
        outcomes[i] = { kind: 'reject', reason: opts.links !== undefined ? `${file}: patient not in the study's cohort with a label` : `${file}: no linked DiagnosticReport with a label and split` };
        continue;
      }
      const sel = opts.select;
      if (sel?.modality !== undefined && !sel.modality.includes(getString(ds, Tags.Modality)?.trim() ?? '')) {
        outcomes[i] = { kind: 'reject', reason: `${file}: modality not selected by the study` };
        continue;
      }
      if (sel?.bodyPart !== undefined && !sel.bodyPart.some((b) => b.toUpperCase() === (getString(ds, BODY_PART_EXAMINED)?.trim().toUpperCase() ?? ''))) {
        outcomes[i] = { kind: 'reject', reason: `${file}: body part not selected by the study` };
        continue;
      }
      const target = trainSplits.has(link.split) ? 'train' : testSplits.has(link.split) ? 'test' : valSplits.has(link.split) ? 'val' : undefined;
      if (target === undefined) continue;
      // The clinical image pipeline: any bundled transfer syntax and bit depth, rescale, the header's window
      // (else the stored range: an 8-bit image without one becomes value / 255), MONOCHROME1, letterboxed to shape.
      // The bytes go to a pool thread (transferred): nothing reads `parsed` after this point.
      await pool.whenReady();
      jobs.push(
        pool.run(bytes, file, opts.shape).then(
          (input) => {
            outcomes[i] = { kind: 'row', target, x: input.tensor, y: link.y, features: link.features };
          },
          (err: unknown) => {
            if (!(err instanceof ImagePipelineError)) throw err;
            outcomes[i] = { kind: 'reject', reason: err.message };
          },
        ),
      );
    }
    await Promise.all(jobs);
  } finally {
    await pool.close();
  }
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome === undefined) continue;
    if (outcome.kind === 'reject') {
      report.rowsRejected++;
      if (report.problems.length < 100) report.problems.push({ line: i + 1, reason: outcome.reason });
      continue;
    }
    let x = outcome.x;
    if (size > pixels) {
      const row = new Float32Array(size);
      row.set(x);
      if (outcome.features?.length !== size - pixels) throw new ConfigError(`the study's feature vector has ${outcome.features?.length ?? 0} values, not ${size - pixels}`, { field: 'featureDim' });
      row.set(outcome.features, pixels);
      x = row;
    }
    rows[outcome.target].push({ x, y: outcome.y });
    report.rowsAccepted++;
  }
  const toSplit = (list: { x: Float32Array; y: readonly number[] }[]): SiteDataset['train'] => {
    const x = new Float32Array(list.length * size);
    list.forEach((r, j) => x.set(r.x, j * size));
    return { x, y: Float32Array.from(list.flatMap((r) => r.y)), n: list.length, d: size };
  };
  if (rows.train.length === 0) {
    // Say why: each reason with how many files gave it (the per-file lines are in report.problems).
    const why = new Map<string, number>();
    for (const p of report.problems) {
      const reason = p.reason.replace(/^[^:]*\.dcm: /, '');
      why.set(reason, (why.get(reason) ?? 0) + 1);
    }
    const reasons = [...why].map(([r, n]) => `${n} × ${r}`).join('; ');
    throw new InputError(
      'TESSERA_INPUT_NO_ROWS',
      `no trainable images in ${dicomDir}: ${files.length} file(s) in the cache, ${report.rowsAccepted} accepted, none in a train split${reasons !== '' ? ` (${reasons})` : ''}`,
      { file: dicomDir, files: files.length, rejected: report.rowsRejected },
    );
  }
  return {
    dataset: opts.dataset,
    featureNames: [],
    train: toSplit(rows.train),
    test: toSplit(rows.test),
    ...(rows.val.length > 0 ? { val: toSplit(rows.val) } : {}),
    report,
    normalization: { mean: [], std: [] },
  };
}
