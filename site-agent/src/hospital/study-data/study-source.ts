/**
 * Where a site resolves a study's `data:` section: its EMR records (an `emr` dataset in agent.yaml, through
 * the Safe Harbor gate into the cache at start) or the EMR half of an imaging study's cache, the site's
 * mapping file and secret. {@link buildStudyDataset} turns one study contract into training data, or
 * declines the study with a reason.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig, AgentEmrDatasetConfig, AgentImagingDatasetConfig, PacsQuery } from '../../../../shared/src/config/agent-config.js';
import { validateConfig } from '../../../../shared/src/config/validate.js';
import { ConfigError } from '../../../../shared/src/errors.js';
import type { Logger } from '../../../../shared/src/logging.js';
import { StudyDataSchema, studyFeatureColumns, type StudyData } from '../../../../shared/src/study/study-data-spec.js';
import type { SiteDataset } from '../datasets/tabular.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../deid/pseudonym.js';
import { parseFhirNdjson } from '../emr/fhir-parse.js';
import type { FhirResource } from '../emr/fhir-resource.js';
import { ingestEmr, readEmrCache, readEmrPatientKeys } from '../ingest/emr-ingest.js';
import { fillImagingCache } from '../ingest/imaging-cache.js';
import { loadImageCache } from '../ingest/image-study.js';
import { StudyDataError } from './errors.js';
import { evaluateStudyData, requireTrainable, type ReportLabeler, type StudyDataResult } from './evaluate.js';
import { cohortImagingQuery, narrowPacsQuery } from './imaging-query.js';
import { EMPTY_MAPPING, loadSiteMapping, type SiteMapping } from './mapping.js';
import { studyImagingFeatures, studySiteDataset } from './study-dataset.js';

/** A site's records that study contracts are evaluated on. */
export interface StudyDataSource {
  readonly name: string;
  readonly kind: 'emr' | 'imaging';
  readonly mapping: SiteMapping;
  readonly secret: Uint8Array;
  /** The de-identified resources (read from the cache). */
  readonly resources: readonly FhirResource[];
  /** Imaging studies: the de-identified image cache and the model's input shape. */
  readonly images?: { readonly cacheDir: string; readonly shape: readonly [number, number, number] };
  /**
   * Imaging datasets pulled per study (`pull: study`): pulls the evaluated cohort's studies from the PACS into
   * the cache before its images are read (the dataset's `query` narrowed to the cohort, {@link narrowPacsQuery}).
   */
  readonly pullCohort?: (data: StudyData, result: StudyDataResult) => Promise<void>;
}

/** What a `pull: study` imaging dataset needs to pull a cohort: the agent's PACS sources, and the linked emr dataset's raw export. */
export interface CohortPullOptions {
  readonly sources: AgentConfig['sources'];
  /** The raw export folder of the `emr` dataset the imaging dataset names (its patient keys join the cohort to PACS patient IDs). */
  readonly emrInput?: string;
  readonly logger?: Logger;
}

/**
 * The dataset's PACS query narrowed to an evaluated cohort ({@link narrowPacsQuery}; undefined: pull nothing),
 * from the patient keys of the site's own exports (`fhir`, and the linked emr dataset's `input`). Identified:
 * in memory only, for the site's own PACS.
 */
export async function cohortPullQuery(cfg: AgentImagingDatasetConfig, baseDir: string, pseudonymizer: PatientPseudonymizer, emrInput: string | undefined, data: StudyData, result: StudyDataResult): Promise<PacsQuery | undefined> {
  const folders = [cfg.fhir, emrInput].filter((f): f is string => f !== undefined).map((f) => path.resolve(baseDir, f));
  const keys = (await Promise.all(folders.map((f) => readEmrPatientKeys(f)))).flat();
  return narrowPacsQuery(cfg.query ?? {}, cohortImagingQuery(data, result, keys, (id) => pseudonymizer.pseudonym(id)));
}

/**
 * The cohort pull of a `pull: study` dataset: the site's own patient keys (its exports' MRNs, identified, read
 * into memory only) whose keyed pseudonym is a cohort patient become the PACS query's patient IDs. Pulls run
 * one at a time (two studies share the cache and its state file).
 */
function cohortPuller(name: string, cfg: AgentImagingDatasetConfig, baseDir: string, secret: Uint8Array, pull: CohortPullOptions): StudyDataSource['pullCohort'] {
  let queue: Promise<unknown> = Promise.resolve();
  const pseudonymizer = new PatientPseudonymizer({ secret });
  return (data, result) => {
    const run = async (): Promise<void> => {
      const query = await cohortPullQuery(cfg, baseDir, pseudonymizer, pull.emrInput, data, result);
      // Counts only: the query itself holds patient IDs.
      pull.logger?.info({ dataset: name, cohortPatients: result.rows.length, patientIds: query?.patientIds?.length ?? 0 }, 'pulling the study cohort\'s images from the PACS');
      if (query === undefined) return;
      await fillImagingCache(name, cfg, baseDir, pull.sources, pull.logger, { pacsQuery: query, onPacsUnavailable: 'use-cache' });
    };
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  };
}

/** Ingests an `emr` dataset through the Safe Harbor gate into its cache and opens it. The mapping file is validated first. */
export async function openEmrSource(name: string, cfg: AgentEmrDatasetConfig, baseDir: string, logger?: Logger): Promise<StudyDataSource> {
  const mapping = cfg.mapping !== undefined ? await loadSiteMapping(path.resolve(baseDir, cfg.mapping)) : EMPTY_MAPPING;
  const secret = await loadOrCreateSiteSecret(path.resolve(baseDir, cfg.secret));
  const cache = path.resolve(baseDir, cfg.cache);
  const report = await ingestEmr({ inDir: path.resolve(baseDir, cfg.input), outDir: cache, pseudonymizer: new PatientPseudonymizer({ secret }) });
  logger?.info({ dataset: name, filesRead: report.filesRead, resourcesRead: report.resourcesRead, patients: report.patients, refused: report.refused.length, skipped: Object.values(report.skipped).reduce((a, b) => a + b, 0) }, 'EMR records ingested through the Safe Harbor gate');
  for (const issue of report.refused.slice(0, 20)) logger?.warn({ dataset: name, file: issue.file, location: issue.location, resourceType: issue.resourceType, field: issue.field, reason: issue.reason }, 'EMR record refused');
  const parsed = await readEmrCache(cache);
  return { name, kind: 'emr', mapping, secret, resources: parsed.resources.map((r) => r.resource) };
}

/**
 * Opens an imaging study for `data:` contracts: its image cache (already written by the gate at start) and
 * the records that give cohort and labels, from the cache's own EMR half and, when `cfg.emr` names one, an
 * `emr` dataset's records (`emrSource`, which must share the site secret so the pseudonyms meet).
 */
export async function openImagingSource(name: string, cfg: AgentImagingDatasetConfig, baseDir: string, emrSource?: StudyDataSource, pull?: CohortPullOptions): Promise<StudyDataSource> {
  const mapping = cfg.mapping !== undefined ? await loadSiteMapping(path.resolve(baseDir, cfg.mapping)) : (emrSource?.mapping ?? EMPTY_MAPPING);
  const secret = await loadOrCreateSiteSecret(path.resolve(baseDir, cfg.secret));
  if (cfg.emr !== undefined) {
    if (emrSource === undefined) throw new StudyDataError('TESSERA_STUDYDATA_NO_SOURCE', `'datasets.${name}.emr' names '${cfg.emr}', which is not a loaded emr dataset`, { field: `datasets.${name}.emr` });
    if (Buffer.compare(Buffer.from(emrSource.secret), Buffer.from(secret)) !== 0) {
      throw new StudyDataError('TESSERA_STUDYDATA_NO_SOURCE', `'datasets.${name}' and its emr dataset '${cfg.emr}' use different site secrets, so their pseudonyms cannot meet`, { field: `datasets.${name}.secret` });
    }
  }
  const cacheDir = path.resolve(baseDir, cfg.cache);
  const file = path.join(cacheDir, 'emr', 'resources.ndjson');
  const text = await readFile(file, 'utf8').catch(() => '');
  const own = parseFhirNdjson(text, file).resources.map((r) => r.resource);
  const pullCohort = cfg.pull === 'study' && cfg.source !== undefined && pull !== undefined ? cohortPuller(name, cfg, baseDir, secret, pull) : undefined;
  return { name, kind: 'imaging', mapping, secret, resources: [...own, ...(emrSource?.resources ?? [])], images: { cacheDir, shape: cfg.inputShape }, ...(pullCohort !== undefined ? { pullCohort } : {}) };
}

/** Parses and validates a study's `data:` as it arrived in a task (JSON). @throws StudyDataError `TESSERA_STUDYDATA_INVALID` naming the field. */
export function parseStudyData(json: string, studyId: string): StudyData {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new StudyDataError('TESSERA_STUDYDATA_INVALID', `study ${studyId}: 'data' is not JSON`, { studyId });
  }
  try {
    return validateConfig(StudyDataSchema, raw, `study ${studyId} data`);
  } catch (err) {
    if (err instanceof ConfigError) throw new StudyDataError('TESSERA_STUDYDATA_INVALID', err.message, err.context, { cause: err });
    throw err;
  }
}

/**
 * Evaluates the contract on the source and builds the training data: a feature table for an `emr` study,
 * the cached images of the cohort's patients (labels and split from the contract) for an `imaging` one.
 * @throws StudyDataError when the contract is invalid here or the site declines it (empty cohort, one class).
 */
export async function buildStudyDataset(
  source: StudyDataSource,
  data: StudyData,
  studyId: string,
  options: { reportLabeler?: ReportLabeler } = {},
): Promise<{ dataset: SiteDataset; result: StudyDataResult }> {
  if (data.kind !== source.kind) {
    throw new StudyDataError('TESSERA_STUDYDATA_NO_SOURCE', `study ${studyId}: 'data.kind' is ${data.kind}, but dataset '${source.name}' at this site is ${source.kind === 'emr' ? 'EMR records' : 'an imaging study'}`, { studyId, field: 'data.kind' });
  }
  const result = evaluateStudyData(data, source.resources, {
    studyId,
    secret: source.secret,
    mapping: source.mapping,
    source: `study ${studyId}`,
    ...(options.reportLabeler !== undefined ? { reportLabeler: options.reportLabeler } : {}),
  });
  requireTrainable(result, studyId);
  if (data.kind === 'emr') return { dataset: studySiteDataset(source.name, data, result), result };
  const images = source.images;
  if (images === undefined) throw new StudyDataError('TESSERA_STUDYDATA_NO_SOURCE', `study ${studyId}: dataset '${source.name}' has no images`, { studyId });
  // A `pull: study` dataset fetches the cohort's studies now, and only those.
  if (source.pullCohort !== undefined) await source.pullCohort(data, result);
  // With data.features, each image carries its patient's feature vector after its pixels (a model's feature input).
  const columns = studyFeatureColumns(data);
  const features = columns.length > 0 ? studyImagingFeatures(data, result) : undefined;
  const links = new Map(result.rows.map((r) => [r.patient, { y: r.y, split: r.split, ...(features !== undefined ? { features: features.byPatient.get(r.patient) as Float32Array } : {}) }]));
  const sel = data.cohort.imaging;
  let dataset: SiteDataset;
  try {
    dataset = await loadImageCache(images.cacheDir, {
      shape: images.shape,
      dataset: source.name,
      links,
      ...(features !== undefined ? { featureDim: columns.length } : {}),
      ...(sel !== undefined ? { select: { ...(sel.modality !== undefined ? { modality: sel.modality } : {}), ...(sel.bodyPart !== undefined ? { bodyPart: sel.bodyPart } : {}) } } : {}),
    });
  } catch (err) {
    throw new StudyDataError('TESSERA_STUDYDATA_EMPTY_COHORT', `study ${studyId}: no image of a cohort patient can train at this site (${result.rows.length} patients in the cohort)`, { studyId }, { cause: err });
  }
  if (features !== undefined) dataset = { ...dataset, featureNames: columns, normalization: features.normalization };
  return { dataset, result };
}
