/**
 * The site's feasibility look at a study contract, for `tessera data check --study`: how many patients and
 * images are in the cohort, labels per class, features missing, codes unmapped, images skipped. Counts only,
 * each below the site's minimum cell count (agent.yaml `policy.minCellCount`, default 10) shown as
 * suppressed (`"<10"`), never as the number and never as 0. A suppressed class next to a shown total is
 * known only to a range of `minCellCount` values (docs/reference/study-data.md, "Limits").
 */
import type { AgentConfig } from '../../../../shared/src/config/agent-config.js';
import type { Logger } from '../../../../shared/src/logging.js';
import type { StudyData } from '../../../../shared/src/study/study-data-spec.js';
import type { StudySpec } from '../../../../shared/src/study/study-spec.js';
import { StudyDataError } from './errors.js';
import { errorMessage, TesseraError } from '../../../../shared/src/errors.js';
import { loadImageCache } from '../ingest/image-study.js';
import { evaluateStudyData, requireTrainable, type ReportLabeler, type StudyDataCounts } from './evaluate.js';
import { openEmrSource, openImagingSource, type StudyDataSource } from './study-source.js';

/** A count, or the suppressed form `<k`. */
export type ReportedCount = number | `<${number}`;

/** The `study` section's contract part of `report.json`. */
export interface StudyFeasibility {
  readonly studyId: string;
  readonly kind: StudyData['kind'];
  readonly minCellCount: number;
  /** Whether this site would take part, and if not, the code and reason it would decline with. */
  readonly trainable: boolean;
  readonly declined?: { readonly code: string; readonly reason: string };
  readonly patients: { readonly total: ReportedCount; readonly withIndexEvent: ReportedCount; readonly inCohort: ReportedCount; readonly labelled: ReportedCount };
  /** Patients left out, by reason. */
  readonly excluded: Readonly<Record<string, ReportedCount>>;
  readonly labelsPerClass: Readonly<Record<string, ReportedCount>>;
  readonly splits: Readonly<Record<string, ReportedCount>>;
  /** Rows with no value for each feature, before filling. */
  readonly featuresMissing: Readonly<Record<string, ReportedCount>>;
  readonly unmapped: {
    /** Per study concept (feature or criterion): records of the type it reads, coded by no standard or mapped code. */
    readonly perConcept: Readonly<Record<string, ReportedCount>>;
    /** Per resource type: coded records with no standard code, and distinct such codes. */
    readonly resources: Readonly<Record<string, ReportedCount>>;
    readonly distinctCodes: Readonly<Record<string, ReportedCount>>;
    /** Observation values whose unit could not be converted into the study's, per concept. */
    readonly unitsNotConverted: Readonly<Record<string, ReportedCount>>;
    readonly unknownUnits: ReportedCount;
  };
  /** Imaging studies: images of cohort patients used, and skipped by reason. */
  readonly images?: { readonly used: ReportedCount; readonly skipped: ReportedCount; readonly skippedByReason: Readonly<Record<string, ReportedCount>> };
}

/** One count as reported: below `min` (0 included) it is `<min`. */
export function suppress(n: number, min: number): ReportedCount {
  return n < min ? `<${min}` : n;
}

function suppressAll(counts: Readonly<Record<string, number>>, min: number): Record<string, ReportedCount> {
  return Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, suppress(n, min)]));
}

/** Evaluates the contract on the source and returns the counts as the site may show them. Never throws for a declined study. */
export async function studyFeasibility(
  source: StudyDataSource,
  data: StudyData,
  studyId: string,
  options: { minCellCount?: number; reportLabeler?: ReportLabeler } = {},
): Promise<StudyFeasibility> {
  const min = options.minCellCount ?? 10;
  const result = evaluateStudyData(data, source.resources, {
    studyId,
    secret: source.secret,
    mapping: source.mapping,
    source: `study ${studyId}`,
    ...(options.reportLabeler !== undefined ? { reportLabeler: options.reportLabeler } : {}),
  });
  let declined: { code: string; reason: string } | undefined;
  try {
    requireTrainable(result, studyId);
  } catch (err) {
    declined = { code: err instanceof TesseraError ? err.code : 'TESSERA_STUDYDATA_INVALID', reason: errorMessage(err) };
  }
  let images: StudyFeasibility['images'];
  if (data.kind === 'imaging' && source.images !== undefined) {
    const links = new Map(result.rows.map((r) => [r.patient, { y: r.y, split: r.split }]));
    const sel = data.cohort.imaging;
    try {
      const ds = await loadImageCache(source.images.cacheDir, {
        shape: source.images.shape,
        dataset: source.name,
        links,
        ...(sel !== undefined ? { select: { ...(sel.modality !== undefined ? { modality: sel.modality } : {}), ...(sel.bodyPart !== undefined ? { bodyPart: sel.bodyPart } : {}) } } : {}),
      });
      const byReason: Record<string, number> = {};
      // Reasons are `<file>: <why>`; only the why is counted (file names stay at the site).
      for (const p of ds.report.problems) {
        const why = p.reason.slice(p.reason.indexOf(': ') + 2);
        byReason[why] = (byReason[why] ?? 0) + 1;
      }
      images = { used: suppress(ds.train.n + ds.test.n + (ds.val?.n ?? 0), min), skipped: suppress(ds.report.rowsRejected, min), skippedByReason: suppressAll(byReason, min) };
    } catch {
      images = { used: suppress(0, min), skipped: suppress(0, min), skippedByReason: {} };
      declined ??= { code: 'TESSERA_STUDYDATA_EMPTY_COHORT', reason: `study ${studyId}: no image of a cohort patient can train at this site` };
    }
  }
  const c: StudyDataCounts = result.counts;
  return {
    studyId,
    kind: data.kind,
    minCellCount: min,
    trainable: declined === undefined,
    ...(declined !== undefined ? { declined } : {}),
    patients: { total: suppress(c.patients, min), withIndexEvent: suppress(c.indexed, min), inCohort: suppress(c.inCohort, min), labelled: suppress(c.labelled, min) },
    excluded: suppressAll(c.excluded, min),
    labelsPerClass: suppressAll(c.labelsPerClass, min),
    splits: suppressAll(c.splits, min),
    featuresMissing: suppressAll(c.featuresMissing, min),
    unmapped: {
      perConcept: suppressAll(c.unmappedPerConcept, min),
      resources: suppressAll(c.harmonisation.unmappedResources, min),
      distinctCodes: suppressAll(c.harmonisation.unmappedCodes, min),
      unitsNotConverted: suppressAll(c.unconvertedPerConcept, min),
      unknownUnits: suppress(c.harmonisation.unknownUnits, min),
    },
    ...(images !== undefined ? { images } : {}),
  };
}

/**
 * The feasibility of a study file on one configured dataset, for `tessera data check --study FILE`: the
 * dataset's records (an `emr` dataset is ingested through the gate into its cache first; an imaging study's
 * cache must already be written), the study's `data:` and the site's `policy.minCellCount`. Returns
 * `undefined` when the study declares no `data:`.
 */
export async function studyFeasibilityForDataset(
  spec: StudySpec,
  datasetName: string,
  config: AgentConfig,
  baseDir: string,
  options: { logger?: Logger; reportLabeler?: ReportLabeler } = {},
): Promise<StudyFeasibility | undefined> {
  if (spec.data === undefined) return undefined;
  const cfg = config.datasets[datasetName];
  if (cfg === undefined || !('kind' in cfg)) {
    throw new StudyDataError('TESSERA_STUDYDATA_NO_SOURCE', `study ${spec.id} declares data:, but dataset '${datasetName}' is not an emr or imaging-study dataset in agent.yaml`, { studyId: spec.id, field: `datasets.${datasetName}` });
  }
  let source: StudyDataSource;
  if (cfg.kind === 'emr') source = await openEmrSource(datasetName, cfg, baseDir, options.logger);
  else {
    const linked = cfg.emr !== undefined ? config.datasets[cfg.emr] : undefined;
    const emr = cfg.emr !== undefined && linked !== undefined && 'kind' in linked && linked.kind === 'emr' ? await openEmrSource(cfg.emr, linked, baseDir, options.logger) : undefined;
    source = await openImagingSource(datasetName, cfg, baseDir, emr);
  }
  return studyFeasibility(source, spec.data, spec.id, {
    minCellCount: config.policy.minCellCount,
    ...(options.reportLabeler !== undefined ? { reportLabeler: options.reportLabeler } : {}),
  });
}
