/**
 * Evaluates a study's `data:` section on one site's de-identified records: index date, cohort, features
 * from the feature window, label from the label window, patient-level split keyed by the site secret.
 * Runs only inside the site; what leaves is the trained update and, from {@link studyFeasibility}, counts.
 *
 * Time rules (docs/reference/study-data.md): features read records dated in
 * [index − features.lookbackDays, index + features.lookaheadDays]; the label reads
 * (index − label.lookbackDays, index + label.lookaheadDays]; the contract check refuses windows that let a
 * feature come after the label window opens. Records without a date are never in a window.
 */
import { createHmac } from 'node:crypto';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import {
  checkStudyData,
  studyFeatureColumns,
  studyLabelClasses,
  studyWindows,
  type CodeCriterion,
  type Criterion,
  type StudyData,
} from '../../../../shared/src/study/study-data-spec.js';
import { ConfigError, errorMessage } from '../../../../shared/src/errors.js';
import { ageInYears } from '../deid/date-shift.js';
import { AGE_OVER_89_EXTENSION } from '../deid/safe-harbor.js';
import type { FhirResource } from '../emr/fhir-resource.js';
import { StudyDataError } from './errors.js';
import type { SiteMapping } from './mapping.js';
import { buildTimelines, MEDICATION_TYPES, reportText, type HarmonisationCounts, type PatientTimeline, type TimelineEvent } from './timeline.js';
import { convertUnit } from './ucum.js';

const DAY = 86_400_000;

/** A finding's status in one report, as a rule-based report labeler gives it. */
export type ReportFindingStatus = 'positive' | 'negative' | 'uncertain';

/**
 * Labels report text with a named lexicon: finding → status, findings not mentioned absent. The site
 * agent wires the report labeler (site-agent/src/hospital/reports) in here.
 */
export interface ReportLabeler {
  label(text: string, lexicon: string): Readonly<Record<string, ReportFindingStatus>>;
}

/** Split names of a row. */
export type SplitName = 'train' | 'val' | 'test';

/** One patient in the study. */
export interface StudyRow {
  readonly patient: string;
  /** Epoch ms of the index date (date-shifted, as the gate left it). */
  readonly index: number;
  /** Feature values before missing-value filling (undefined = missing), one per contract feature. */
  readonly raw: readonly (number | undefined)[];
  /** Binary: [0|1]; multiclass: one-hot; multilabel: one 0/1 per class. */
  readonly y: readonly number[];
  readonly split: SplitName;
}

/** What the evaluation counted: the raw material of the feasibility report. Never leaves the site as such. */
export interface StudyDataCounts {
  patients: number;
  /** Patients with an index event. */
  indexed: number;
  inCohort: number;
  /** Patients in the cohort with a known label (the rows). */
  labelled: number;
  /** Patients left out, by reason. */
  excluded: Record<string, number>;
  labelsPerClass: Record<string, number>;
  /** Rows with no value for each feature (before filling). */
  featuresMissing: Record<string, number>;
  /** Per study concept (feature or criterion): records of the resource type it reads, in the patients' windows, coded by no standard or mapped code. */
  unmappedPerConcept: Record<string, number>;
  /** Observation values of a concept whose unit could not be converted into the study's. */
  unconvertedPerConcept: Record<string, number>;
  harmonisation: HarmonisationCounts;
  splits: Record<SplitName, number>;
}

/** The evaluated study at one site. */
export interface StudyDataResult {
  readonly columns: readonly string[];
  readonly classes: readonly string[];
  readonly labelType: StudyData['label']['type'];
  readonly rows: readonly StudyRow[];
  readonly counts: StudyDataCounts;
}

/** Options of {@link evaluateStudyData}. */
export interface EvaluateOptions {
  /** The study id: the split key includes it, so two studies split a site's patients independently. */
  readonly studyId: string;
  /** The site secret (the split is deterministic per site and unknowable without it). */
  readonly secret: Uint8Array;
  readonly mapping: SiteMapping;
  /** Needed when a criterion reads report text. */
  readonly reportLabeler?: ReportLabeler;
  /** Where the contract came from, for error messages. @default 'study' */
  readonly source?: string;
}

/** The record types a criterion's `resource` reads: `Medication` reads requests, administrations and statements. */
const RESOURCE_TYPES: Record<CodeCriterion['resource'], readonly string[]> = { Condition: ['Condition'], Observation: ['Observation'], Procedure: ['Procedure'], Medication: MEDICATION_TYPES };
const ofResource = (events: readonly TimelineEvent[], resource: CodeCriterion['resource']): TimelineEvent[] => events.filter((e) => RESOURCE_TYPES[resource].includes(e.type));

function hasCode(e: TimelineEvent, codes: readonly { readonly system: string; readonly code: string }[]): boolean {
  return e.codes.some((c) => codes.some((k) => k.system === c.system && k.code === c.code));
}

function aggregate(values: readonly number[], how: string): number | undefined {
  if (how === 'count') return values.length;
  if (values.length === 0) return undefined;
  switch (how) {
    case 'first':
      return values[0];
    case 'last':
      return values[values.length - 1];
    case 'mean':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'any':
      return values.some((v) => v !== 0) ? 1 : 0;
    default:
      return undefined;
  }
}

function ageAt(t: PatientTimeline, at: number): number | undefined {
  const p = t.patient;
  if (p === undefined) return undefined;
  const ext = Array.isArray(p['extension']) ? (p['extension'] as unknown[]) : [];
  if (ext.some((e) => typeof e === 'object' && e !== null && (e as Record<string, unknown>)['url'] === AGE_OVER_89_EXTENSION)) return 90;
  const birth = p['birthDate'];
  if (typeof birth !== 'string' || !Number.isFinite(at)) return undefined;
  const years = ageInYears(birth, new Date(at).toISOString().slice(0, 10));
  return years === undefined ? undefined : Math.min(Math.max(years, 0), 90);
}

/** The study's evaluation context at one site: compiled FHIRPath, the labeler, the counters. */
class Evaluator {
  readonly counts: StudyDataCounts;
  private readonly fhirpaths: ((r: FhirResource) => unknown[])[];

  constructor(
    private readonly data: StudyData,
    private readonly options: EvaluateOptions,
    harmonisation: HarmonisationCounts,
  ) {
    const source = options.source ?? 'study';
    this.fhirpaths = data.features.fhirpath.map((f, i) => {
      try {
        const fn = fhirpath.compile(f.expression, r4 as Parameters<typeof fhirpath.compile>[1]);
        return (r: FhirResource) => fn(r) as unknown[];
      } catch (err) {
        throw new StudyDataError('TESSERA_STUDYDATA_INVALID', `${source}: 'data.features.fhirpath[${i}].expression' is not valid FHIRPath (${errorMessage(err).split('\n')[0] ?? ''})`, { field: `data.features.fhirpath[${i}].expression` });
      }
    });
    const classes = studyLabelClasses(data.label);
    this.counts = {
      patients: 0,
      indexed: 0,
      inCohort: 0,
      labelled: 0,
      excluded: {},
      labelsPerClass: Object.fromEntries(classes.map((c) => [c, 0])),
      featuresMissing: {},
      unmappedPerConcept: {},
      unconvertedPerConcept: {},
      harmonisation,
      splits: { train: 0, val: 0, test: 0 },
    };
  }

  exclude(reason: string): void {
    this.counts.excluded[reason] = (this.counts.excluded[reason] ?? 0) + 1;
  }

  private bump(map: Record<string, number>, concept: string, n = 1): void {
    map[concept] = (map[concept] ?? 0) + n;
  }

  /** The patient's index date (epoch ms), or undefined when the index event is absent. */
  indexOf(t: PatientTimeline): number | undefined {
    const ix = this.data.index;
    const dated = t.events.filter((e) => Number.isFinite(e.time));
    const first = (types: string | readonly string[], codes?: readonly { system: string; code: string }[]): number | undefined =>
      dated.find((e) => (typeof types === 'string' ? e.type === types : types.includes(e.type)) && (codes === undefined || hasCode(e, codes)))?.time;
    switch (ix.event) {
      case 'imaging-study':
        return dated.find((e) => e.type === 'ImagingStudy' && this.imagingSelected(e))?.time;
      case 'first-condition':
        return first('Condition', ix.codes);
      case 'first-observation':
        return first('Observation', ix.codes);
      case 'first-procedure':
        return first('Procedure', ix.codes);
      case 'first-medication':
        return first(MEDICATION_TYPES, ix.codes);
      case 'first-encounter':
        return first('Encounter');
      default:
        return dated.at(-1)?.time;
    }
  }

  imagingSelected(e: TimelineEvent): boolean {
    const sel = this.data.cohort.imaging;
    if (sel === undefined) return true;
    const img = e.imaging;
    if (img === undefined) return false;
    if (sel.modality !== undefined && !img.modalities.some((m) => sel.modality?.includes(m))) return false;
    if (sel.bodyPart !== undefined && !img.bodyParts.some((b) => sel.bodyPart?.some((s) => s.toUpperCase() === b))) return false;
    if (sel.procedure !== undefined && !hasCode(e, sel.procedure)) return false;
    return true;
  }

  /** true / false, or undefined when it cannot be told (an Observation threshold with no value, no report). */
  criterion(c: Criterion, events: readonly TimelineEvent[], concept: string): boolean | undefined {
    if ('anyOf' in c) {
      const told = c.anyOf.map((k, i) => this.criterion(k, events, `${concept}.anyOf[${i}]`));
      return told.includes(true) ? true : told.includes(false) ? false : undefined;
    }
    if ('report' in c) {
      const labeler = this.options.reportLabeler;
      if (labeler === undefined) throw new StudyDataError('TESSERA_STUDYDATA_NO_LABELER', `${concept} reads report text, but this site has no report labeler`, { field: concept });
      const reports = events.filter((e) => e.type === 'DiagnosticReport');
      if (reports.length === 0) return undefined;
      const wanted = c.report.status ?? ['positive'];
      let any = false;
      for (const r of reports) {
        const text = reportText(r.resource);
        if (text.trim() === '') continue;
        any = true;
        const status = labeler.label(text, c.report.lexicon)[c.report.finding];
        if (status !== undefined && (wanted as readonly string[]).includes(status)) return true;
      }
      return any ? false : undefined;
    }
    const ofType = ofResource(events, c.resource);
    this.bump(this.counts.unmappedPerConcept, concept, ofType.filter((e) => e.unmapped).length);
    const matching = ofType.filter((e) => hasCode(e, c.codes));
    const v = c.value;
    if (v === undefined) return matching.length > 0;
    const values = this.values(matching, v.unit, v.molecularWeight, concept);
    if (values.length === 0) return undefined;
    const test = (x: number): boolean => (v.atLeast === undefined || x >= v.atLeast) && (v.atMost === undefined || x <= v.atMost);
    const how = c.aggregate ?? 'any';
    if (how === 'any') return values.some(test);
    const agg = aggregate(values, how);
    return agg === undefined ? undefined : test(agg);
  }

  /** Numeric values of observation events, converted into `unit` (values that do not convert are counted and left out). */
  values(events: readonly TimelineEvent[], unit: string | undefined, molecularWeight: number | undefined, concept: string): number[] {
    const out: number[] = [];
    for (const e of events) {
      if (e.value === undefined) continue;
      if (unit === undefined) {
        out.push(e.value.value);
        continue;
      }
      const converted = e.value.unit === undefined ? undefined : convertUnit(e.value.value, e.value.unit, unit, molecularWeight);
      if (converted === undefined) this.bump(this.counts.unconvertedPerConcept, concept);
      else out.push(converted);
    }
    return out;
  }

  features(t: PatientTimeline, index: number): (number | undefined)[] {
    const w = studyWindows(this.data).features;
    const from = index - w.lookbackDays * DAY;
    const to = index + w.lookaheadDays * DAY;
    const inWindow = t.events.filter((e) => e.time >= from && e.time <= to);
    const f = this.data.features;
    const out: (number | undefined)[] = [];
    for (const o of f.observations) {
      const concept = `data.features.observations.${o.name}`;
      const obs = inWindow.filter((e) => e.type === 'Observation');
      this.bump(this.counts.unmappedPerConcept, concept, obs.filter((e) => e.unmapped).length);
      const values = this.values(obs.filter((e) => hasCode(e, [{ system: 'loinc', code: o.loinc }])), o.unit, o.molecularWeight, concept);
      out.push(aggregate(values, o.aggregate));
    }
    for (const c of f.codes) {
      const ofType = ofResource(inWindow, c.resource as CodeCriterion['resource']);
      this.bump(this.counts.unmappedPerConcept, `data.features.codes.${c.name}`, ofType.filter((e) => e.unmapped).length);
      out.push(ofType.some((e) => hasCode(e, c.codes)) ? 1 : 0);
    }
    for (const d of f.demographics) {
      if (d === 'age') out.push(ageAt(t, index));
      else {
        const g = t.patient?.['gender'];
        out.push(g === 'female' ? 1 : g === 'male' ? 0 : undefined);
      }
    }
    f.fhirpath.forEach((p, i) => {
      const resources = p.resource === 'Patient' ? (t.patient ? [t.patient] : []) : inWindow.filter((e) => e.type === p.resource).map((e) => e.resource);
      const values: number[] = [];
      for (const r of [...new Set(resources)]) {
        let result: unknown[];
        try {
          result = this.fhirpaths[i]?.(r) ?? [];
        } catch {
          continue;
        }
        for (const v of result) {
          if (typeof v === 'number' && Number.isFinite(v)) values.push(v);
          else if (typeof v === 'boolean') values.push(v ? 1 : 0);
        }
      }
      out.push(aggregate(values, p.aggregate));
    });
    return out;
  }

  /** The label vector, or undefined when unknown. */
  label(t: PatientTimeline, index: number): number[] | undefined {
    const w = studyWindows(this.data).label;
    const from = index - w.lookbackDays * DAY;
    const to = index + w.lookaheadDays * DAY;
    const inWindow = t.events.filter((e) => e.time > from && e.time <= to);
    const l = this.data.label;
    if (l.type === 'binary') {
      const v = this.criterion(l.positive, inWindow, 'data.label.positive');
      return v === undefined ? undefined : [v ? 1 : 0];
    }
    const hits = l.classes.map((k, i) => this.criterion(k.when, inWindow, `data.label.classes[${i}]`));
    if (l.type === 'multilabel') return hits.some((h) => h === undefined) ? undefined : hits.map((h) => (h === true ? 1 : 0));
    const k = studyLabelClasses(l).length;
    let at = hits.findIndex((h) => h === true);
    if (at < 0 && l.otherwise !== undefined && hits.every((h) => h === false)) at = k - 1;
    if (at < 0) return undefined;
    return Array.from({ length: k }, (_, i) => (i === at ? 1 : 0));
  }

  inCohort(t: PatientTimeline, index: number): string | undefined {
    const c = this.data.cohort;
    const age = ageAt(t, index);
    if (c.age !== undefined) {
      if (age === undefined) return 'age unknown';
      if ((c.age.min !== undefined && age < c.age.min) || (c.age.max !== undefined && age > c.age.max)) return 'age outside the cohort';
    }
    if (c.sex !== undefined) {
      const g = t.patient?.['gender'];
      if (typeof g !== 'string' || !(c.sex as readonly string[]).includes(g)) return 'sex outside the cohort';
    }
    const upTo = t.events.filter((e) => e.time <= index);
    for (const [i, k] of c.include.entries()) {
      if (this.criterion(k, k.beforeIndex === true ? upTo : t.events, `data.cohort.include[${i}]`) !== true) return `inclusion criterion ${i} not met`;
    }
    for (const [i, k] of c.exclude.entries()) {
      if (this.criterion(k, k.beforeIndex === true ? upTo : t.events, `data.cohort.exclude[${i}]`) === true) return `exclusion criterion ${i} met`;
    }
    return undefined;
  }
}

/** Stable per-site order of a patient within a study: HMAC-SHA256(secret, study, patient). */
function splitKey(secret: Uint8Array, studyId: string, patient: string): string {
  return createHmac('sha256', secret).update(`tessera-split\u0000${studyId}\u0000${patient}`).digest('hex');
}

/**
 * Patient-level, stratified split: within each label stratum, patients ordered by their keyed hash; the
 * first ⌊n·test + ½⌋ go to test, the next ⌊n·val + ½⌋ to val, the rest to train. The same site secret
 * gives the same split every time; another site's split cannot be predicted.
 */
export function splitPatients(patients: readonly { patient: string; y: readonly number[] }[], fractions: { test: number; val: number }, secret: Uint8Array, studyId: string): Map<string, SplitName> {
  const strata = new Map<string, string[]>();
  for (const p of patients) {
    const k = p.y.join(',');
    let list = strata.get(k);
    if (list === undefined) strata.set(k, (list = []));
    list.push(p.patient);
  }
  const out = new Map<string, SplitName>();
  for (const list of strata.values()) {
    const ordered = [...new Set(list)].map((p) => ({ p, k: splitKey(secret, studyId, p) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    const nTest = Math.floor(ordered.length * fractions.test + 0.5);
    const nVal = Math.floor(ordered.length * fractions.val + 0.5);
    ordered.forEach(({ p }, i) => out.set(p, i < nTest ? 'test' : i < nTest + nVal ? 'val' : 'train'));
  }
  return out;
}

/**
 * Evaluates `data` on de-identified `resources`. Throws {@link StudyDataError} only when the contract
 * cannot be evaluated here (invalid, or report labels without a labeler); an empty cohort or a single
 * class is a result, for the caller to decline with ({@link requireTrainable}).
 */
export function evaluateStudyData(data: StudyData, resources: readonly FhirResource[], options: EvaluateOptions): StudyDataResult {
  const source = options.source ?? 'study';
  try {
    checkStudyData(data, source);
  } catch (err) {
    if (err instanceof ConfigError) throw new StudyDataError('TESSERA_STUDYDATA_INVALID', err.message, err.context, { cause: err });
    throw err;
  }
  const { timelines, counts: harmonisation } = buildTimelines(resources, options.mapping);
  const ev = new Evaluator(data, options, harmonisation);
  const columns = studyFeatureColumns(data);
  const names = [...data.features.observations.map((o) => o.name), ...data.features.codes.map((c) => c.name), ...data.features.demographics.map((d) => (d === 'age' ? 'age' : 'sex_female')), ...data.features.fhirpath.map((p) => p.name)];
  const kept: { patient: string; index: number; raw: (number | undefined)[]; y: number[] }[] = [];
  const ids = [...timelines.keys()].filter((id) => timelines.get(id)?.patient !== undefined).sort();
  ev.counts.patients = ids.length;
  for (const id of ids) {
    const t = timelines.get(id) as PatientTimeline;
    const index = ev.indexOf(t);
    if (index === undefined) {
      ev.exclude('no index event');
      continue;
    }
    ev.counts.indexed++;
    const out = ev.inCohort(t, index);
    if (out !== undefined) {
      ev.exclude(out);
      continue;
    }
    ev.counts.inCohort++;
    const y = ev.label(t, index);
    if (y === undefined) {
      ev.exclude('label unknown in the label window');
      continue;
    }
    const raw = ev.features(t, index);
    const drop = [...data.features.observations, ...data.features.fhirpath].find((f) => f.missing.strategy === 'drop' && raw[names.indexOf(f.name)] === undefined);
    if (drop !== undefined) {
      ev.exclude(`no value for '${drop.name}' (missing strategy drop)`);
      continue;
    }
    raw.forEach((v, i) => {
      if (v === undefined) ev.counts.featuresMissing[names[i] ?? ''] = (ev.counts.featuresMissing[names[i] ?? ''] ?? 0) + 1;
    });
    kept.push({ patient: id, index, raw, y });
  }
  const classes = studyLabelClasses(data.label);
  for (const r of kept) {
    if (data.label.type === 'binary') {
      const c = r.y[0] === 1 ? 'positive' : 'negative';
      ev.counts.labelsPerClass[c] = (ev.counts.labelsPerClass[c] ?? 0) + 1;
    } else r.y.forEach((v, i) => v === 1 && (ev.counts.labelsPerClass[classes[i] ?? ''] = (ev.counts.labelsPerClass[classes[i] ?? ''] ?? 0) + 1));
  }
  ev.counts.labelled = kept.length;
  const split = splitPatients(kept, data.split, options.secret, options.studyId);
  const rows: StudyRow[] = kept.map((r) => ({ ...r, split: split.get(r.patient) ?? 'train' }));
  for (const r of rows) ev.counts.splits[r.split]++;
  return { columns, classes, labelType: data.label.type, rows, counts: ev.counts };
}

/**
 * Declines a study this site cannot train: no patient in the cohort, or a label with one class only.
 * @throws StudyDataError `TESSERA_STUDYDATA_EMPTY_COHORT` or `TESSERA_STUDYDATA_ONE_CLASS` (counts, no record).
 */
export function requireTrainable(result: StudyDataResult, studyId: string): void {
  const c = result.counts;
  if (result.rows.length === 0) {
    // The reason leaves the site: it names why patients were left out, never how many.
    const reasons = Object.keys(c.excluded).join('; ');
    throw new StudyDataError('TESSERA_STUDYDATA_EMPTY_COHORT', `study ${studyId}: no patient of this site is in the cohort with a label (${c.patients === 0 ? 'no patient records' : `left out for: ${reasons}`})`, { studyId });
  }
  const present = Object.entries(c.labelsPerClass).filter(([, n]) => n > 0);
  const classesNeeded = result.labelType === 'multilabel' ? 1 : 2;
  if (present.length < classesNeeded) {
    throw new StudyDataError('TESSERA_STUDYDATA_ONE_CLASS', `study ${studyId}: 'data.label' has only ${present.length === 0 ? 'no' : `the class '${present[0]?.[0] ?? ''}'`} at this site; training needs at least two classes`, { studyId });
  }
  if (result.labelType === 'multilabel' && Object.values(c.labelsPerClass).every((n) => n === result.rows.length)) {
    throw new StudyDataError('TESSERA_STUDYDATA_ONE_CLASS', `study ${studyId}: every 'data.label' class is positive for every patient at this site`, { studyId });
  }
}
