/**
 * The site's feasibility look at a study contract, for `tessera data check --study`: how many patients and
 * images are in the cohort, labels per class, features missing, codes unmapped, images skipped. Counts only,
 * each below the site's minimum cell count (agent.yaml `policy.minCellCount`, default 10) shown as
 * suppressed (`"<10"`), never as the number and never as 0; and where a suppressed count could be worked out
 * from a shown total and the other cells, complementary cells are suppressed too (`"suppressed"`,
 * ./suppression.ts), so that no suppressed count is pinned to one value by what is shown.
 */
import type { AgentConfig, AgentEmrDatasetConfig, AgentImagingDatasetConfig, PacsQuery } from '../../../../shared/src/config/agent-config.js';
import type { Logger } from '../../../../shared/src/logging.js';
import type { StudyData } from '../../../../shared/src/study/study-data-spec.js';
import type { StudySpec } from '../../../../shared/src/study/study-spec.js';
import { StudyDataError } from './errors.js';
import { errorMessage, TesseraError } from '../../../../shared/src/errors.js';
import { loadImageCache } from '../ingest/image-study.js';
import { evaluateStudyData, requireTrainable, type ReportLabeler, type StudyDataCounts } from './evaluate.js';
import { cohortPullQuery, openEmrSource, openImagingSource, type StudyDataSource } from './study-source.js';
import { PatientPseudonymizer } from '../deid/pseudonym.js';
import { fillImagingCache } from '../ingest/imaging-cache.js';
import { suppress, suppressLinked, type CountSum, type ReportedCount } from './suppression.js';

export { suppress, type ReportedCount } from './suppression.js';

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
  let imageCounts: { used: number; skipped: number; byReason: Record<string, number> } | undefined;
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
      imageCounts = { used: ds.train.n + ds.test.n + (ds.val?.n ?? 0), skipped: ds.report.rowsRejected, byReason };
    } catch {
      imageCounts = { used: 0, skipped: 0, byReason: {} };
      declined ??= { code: 'TESSERA_STUDYDATA_EMPTY_COHORT', reason: `study ${studyId}: no image of a cohort patient can train at this site` };
    }
  }
  const c: StudyDataCounts = result.counts;
  const linked = publishedStudyCounts(c, data.label.type, imageCounts, min);
  return {
    studyId,
    kind: data.kind,
    minCellCount: min,
    trainable: declined === undefined,
    ...(declined !== undefined ? { declined } : {}),
    ...linked,
    featuresMissing: suppressAll(c.featuresMissing, min),
    unmapped: {
      perConcept: suppressAll(c.unmappedPerConcept, min),
      resources: suppressAll(c.harmonisation.unmappedResources, min),
      distinctCodes: suppressAll(c.harmonisation.unmappedCodes, min),
      unitsNotConverted: suppressAll(c.unconvertedPerConcept, min),
      unknownUnits: suppress(c.harmonisation.unknownUnits, min),
    },
  };
}

/** Reasons a patient leaves at the label stage (after the cohort); every other reason but the index one is the cohort's. */
const isLabelStage = (reason: string): boolean => reason === 'label unknown in the label window' || reason.startsWith("no value for '");

/**
 * The counts that add up (patients through index, cohort and label; labelled patients by class and by
 * split; skipped images by reason), suppressed together so that no suppressed one can be worked out.
 * @internal exported for the suppression tests
 */
export function publishedStudyCounts(
  c: Pick<StudyDataCounts, 'patients' | 'indexed' | 'inCohort' | 'labelled' | 'excluded' | 'labelsPerClass' | 'splits'>,
  labelType: StudyData['label']['type'],
  images: { used: number; skipped: number; byReason: Record<string, number> } | undefined,
  min: number,
): Pick<StudyFeasibility, 'patients' | 'excluded' | 'labelsPerClass' | 'splits' | 'images'> {
  const counts = new Map<string, number>([
    ['patients.total', c.patients],
    ['patients.withIndexEvent', c.indexed],
    ['patients.inCohort', c.inCohort],
    ['patients.labelled', c.labelled],
  ]);
  const cells = (prefix: string, m: Readonly<Record<string, number>>): string[] => Object.entries(m).map(([k, n]) => (counts.set(prefix + k, n), prefix + k));
  const excluded = Object.keys(c.excluded);
  const ex = (keep: (r: string) => boolean): string[] => cells('excluded.', Object.fromEntries(excluded.filter(keep).map((r) => [r, c.excluded[r] ?? 0])));
  const sums: CountSum[] = [
    { total: 'patients.total', parts: ['patients.withIndexEvent', ...ex((r) => r === 'no index event')] },
    { total: 'patients.withIndexEvent', parts: ['patients.inCohort', ...ex((r) => r !== 'no index event' && !isLabelStage(r))] },
    { total: 'patients.inCohort', parts: ['patients.labelled', ...ex(isLabelStage)] },
    { total: 'patients.labelled', parts: cells('splits.', c.splits) },
  ];
  const classes = cells('labelsPerClass.', c.labelsPerClass);
  // Multi-label classes overlap: they do not add up to the labelled patients.
  if (labelType !== 'multilabel') sums.push({ total: 'patients.labelled', parts: classes });
  if (images !== undefined) {
    counts.set('images.skipped', images.skipped);
    const reasons = cells('images.skippedByReason.', images.byReason);
    // The reasons are those of the first problems kept; they add up only when every skipped image has one.
    if (reasons.length > 0 && Object.values(images.byReason).reduce((a, b) => a + b, 0) === images.skipped) sums.push({ total: 'images.skipped', parts: reasons });
  }
  const shown = suppressLinked(counts, sums, min);
  const one = (cell: string): ReportedCount => shown.get(cell) ?? suppress(0, min);
  const group = (prefix: string, m: Readonly<Record<string, number>>): Record<string, ReportedCount> => Object.fromEntries(Object.keys(m).map((k) => [k, one(prefix + k)]));
  return {
    patients: { total: one('patients.total'), withIndexEvent: one('patients.withIndexEvent'), inCohort: one('patients.inCohort'), labelled: one('patients.labelled') },
    excluded: group('excluded.', c.excluded),
    labelsPerClass: group('labelsPerClass.', c.labelsPerClass),
    splits: group('splits.', c.splits),
    ...(images !== undefined ? { images: { used: suppress(images.used, min), skipped: one('images.skipped'), skippedByReason: group('images.skippedByReason.', images.byReason) } } : {}),
  };
}

async function openStudySource(name: string, cfg: AgentEmrDatasetConfig | AgentImagingDatasetConfig, config: AgentConfig, baseDir: string, logger?: Logger): Promise<StudyDataSource> {
  if (cfg.kind === 'emr') return openEmrSource(name, cfg, baseDir, logger);
  const linked = cfg.emr !== undefined ? config.datasets[cfg.emr] : undefined;
  const emr = cfg.emr !== undefined && linked !== undefined && 'kind' in linked && linked.kind === 'emr' ? await openEmrSource(cfg.emr, linked, baseDir, logger) : undefined;
  return openImagingSource(name, cfg, baseDir, emr);
}

/**
 * What `tessera data check --study` pulls from a `pull: study` dataset's PACS: the study's cohort, evaluated on
 * the dataset's EMR half (filled first, without pulling any image), as the agent would pull it
 * ({@link cohortPullQuery}); `null` when no cohort patient is held here (nothing is pulled).
 */
export async function studyCohortPacsQuery(spec: StudySpec, datasetName: string, config: AgentConfig, baseDir: string, logger?: Logger): Promise<PacsQuery | null> {
  const cfg = config.datasets[datasetName];
  if (spec.data === undefined || cfg === undefined || !('kind' in cfg) || cfg.kind !== 'imaging-study') return null;
  await fillImagingCache(datasetName, cfg, baseDir, config.sources, logger, { pacsQuery: null });
  const source = await openStudySource(datasetName, cfg, config, baseDir, logger);
  const result = evaluateStudyData(spec.data, source.resources, { studyId: spec.id, secret: source.secret, mapping: source.mapping, source: `study ${spec.id}` });
  const linked = cfg.emr !== undefined ? config.datasets[cfg.emr] : undefined;
  const emrInput = linked !== undefined && 'kind' in linked && linked.kind === 'emr' ? linked.input : undefined;
  return (await cohortPullQuery(cfg, baseDir, new PatientPseudonymizer({ secret: source.secret }), emrInput, spec.data, result)) ?? null;
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
  const source = await openStudySource(datasetName, cfg, config, baseDir, options.logger);
  return studyFeasibility(source, spec.data, spec.id, {
    minCellCount: config.policy.minCellCount,
    ...(options.reportLabeler !== undefined ? { reportLabeler: options.reportLabeler } : {}),
  });
}
