/**
 * De-identified FHIR records → feature rows, by a study's {@link FeatureSpec}; and the join of those rows
 * with images by keyed pseudonym.
 *
 * Works only on the gate's output (patients are `Patient/<pseudonym>`, dates already shifted): the same
 * shift moves a patient's birth date and record dates, so ages computed here are the true ages.
 * Missing-value means are computed from this site's rows only and never leave the site.
 */
import type { FeatureCode, FeatureSpec, ObservationFeature } from './feature-spec.js';
import { ConfigError } from '../../../../shared/src/errors.js';
import { ageInYears } from '../deid/date-shift.js';
import { AGE_OVER_89_EXTENSION } from '../deid/safe-harbor.js';
import { CodeSystem, codings, referencedId, type FhirResource } from '../emr/fhir-resource.js';

/** Feature rows (row-major `x`, one row per kept patient) and the label vector when the spec has one. */
export interface FeatureTable {
  readonly columns: readonly string[];
  /** Pseudonym of each row's patient. */
  readonly patients: readonly string[];
  readonly x: Float32Array;
  readonly y?: Float32Array;
  /** Patients left out, with the reason (a `drop` missing strategy or an unknown label). */
  readonly dropped: readonly { readonly patient: string; readonly reason: string }[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const SYSTEMS: Record<FeatureCode['system'], readonly string[]> = {
  snomed: [CodeSystem.SNOMED_CT],
  icd10: [CodeSystem.ICD10, CodeSystem.ICD10_CM],
  loinc: [CodeSystem.LOINC],
};

interface PatientRecord {
  readonly patient?: FhirResource;
  readonly observations: { time: number; loinc: string; value: number }[];
  readonly conditions: FhirResource[];
  latestDate?: string;
}

function matches(concept: unknown, codes: readonly FeatureCode[]): boolean {
  return codings(concept).some((c) => codes.some((k) => c.code === k.code && c.system !== undefined && SYSTEMS[k.system].includes(c.system)));
}

const DATE_FIELDS = ['effectiveDateTime', 'issued', 'onsetDateTime', 'recordedDate', 'started', 'date'];

function resourceDate(r: FhirResource): string | undefined {
  for (const f of DATE_FIELDS) if (typeof r[f] === 'string') return r[f];
  const period = r['period'];
  if (isObject(period) && typeof period['start'] === 'string') return period['start'];
  return undefined;
}

/** Groups de-identified resources by patient pseudonym. */
function byPatient(resources: readonly FhirResource[]): Map<string, PatientRecord> {
  const out = new Map<string, PatientRecord>();
  const get = (p: string): PatientRecord => {
    let rec = out.get(p);
    if (rec === undefined) {
      rec = { observations: [], conditions: [] };
      out.set(p, rec);
    }
    return rec;
  };
  for (const r of resources) {
    if (r.resourceType === 'Patient' && typeof r.id === 'string') {
      const prev = get(r.id);
      out.set(r.id, { ...prev, patient: r });
      continue;
    }
    const p = referencedId(r['subject'], 'Patient');
    if (p === undefined) continue;
    const rec = get(p);
    const date = resourceDate(r);
    if (date !== undefined && (rec.latestDate === undefined || Date.parse(date) > Date.parse(rec.latestDate))) rec.latestDate = date;
    if (r.resourceType === 'Condition') rec.conditions.push(r);
    if (r.resourceType !== 'Observation') continue;
    const when = r['effectiveDateTime'] ?? r['issued'];
    const time = typeof when === 'string' ? Date.parse(when) : Number.NaN;
    const parts = [r as Json, ...(Array.isArray(r['component']) ? (r['component'] as unknown[]).filter(isObject) : [])];
    for (const part of parts) {
      const q = part['valueQuantity'];
      if (!isObject(q) || typeof q['value'] !== 'number') continue;
      for (const c of codings(part['code'])) {
        if (c.system === CodeSystem.LOINC && c.code !== undefined) rec.observations.push({ time, loinc: c.code, value: q['value'] });
      }
    }
  }
  return out;
}

function aggregate(values: { time: number; value: number }[], how: ObservationFeature['aggregate'] | 'last' | 'max' | 'mean'): number | undefined {
  if (how === 'count') return values.length;
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a.time - b.time);
  const v = sorted.map((s) => s.value);
  switch (how) {
    case 'first':
      return v[0];
    case 'last':
      return v[v.length - 1];
    case 'mean':
      return v.reduce((a, b) => a + b, 0) / v.length;
    case 'min':
      return Math.min(...v);
    case 'max':
      return Math.max(...v);
  }
}

function age(rec: PatientRecord): number | undefined {
  const p = rec.patient;
  if (p === undefined) return undefined;
  const ext = Array.isArray(p['extension']) ? (p['extension'] as unknown[]) : [];
  if (ext.some((e) => isObject(e) && e['url'] === AGE_OVER_89_EXTENSION)) return 90;
  const birth = p['birthDate'];
  const at = typeof p['deceasedDateTime'] === 'string' ? p['deceasedDateTime'] : rec.latestDate;
  if (typeof birth !== 'string' || at === undefined) return undefined;
  const years = ageInYears(birth, at);
  return years === undefined ? undefined : Math.min(Math.max(years, 0), 90);
}

interface Column {
  readonly name: string;
  readonly value: (rec: PatientRecord) => number | undefined;
  readonly missing: { strategy: 'mean' | 'zero' | 'constant' | 'drop'; value?: number; indicator: boolean };
}

function columnsOf(spec: FeatureSpec): Column[] {
  const cols: Column[] = [];
  const noMissing = { strategy: 'zero' as const, indicator: false };
  for (const o of spec.observations) {
    cols.push({
      name: o.name,
      value: (rec) => aggregate(rec.observations.filter((x) => x.loinc === o.loinc), o.aggregate),
      missing: { strategy: o.missing.strategy, indicator: o.missing.indicator, ...(o.missing.value !== undefined ? { value: o.missing.value } : {}) },
    });
  }
  for (const c of spec.conditions) cols.push({ name: c.name, value: (rec) => (rec.conditions.some((r) => matches(r['code'], c.codes)) ? 1 : 0), missing: noMissing });
  for (const d of spec.demographics) {
    if (d === 'age') cols.push({ name: 'age', value: age, missing: { strategy: 'mean', indicator: false } });
    else {
      cols.push({
        name: 'sex_female',
        value: (rec) => (rec.patient?.['gender'] === 'female' ? 1 : rec.patient?.['gender'] === 'male' ? 0 : undefined),
        missing: { strategy: 'mean', indicator: false },
      });
    }
  }
  const names = new Set<string>();
  for (const c of cols) {
    for (const n of [c.name, ...(c.missing.indicator ? [`${c.name}_missing`] : [])]) {
      if (names.has(n)) throw new ConfigError(`feature spec: feature name '${n}' is used twice`, { feature: n });
      names.add(n);
    }
    if (c.missing.strategy === 'constant' && c.missing.value === undefined) {
      throw new ConfigError(`feature spec: '${c.name}' has missing strategy 'constant' without a value`, { feature: c.name });
    }
  }
  return cols;
}

function labelOf(spec: FeatureSpec, rec: PatientRecord): number | undefined {
  const l = spec.label;
  if (l === undefined) return undefined;
  if (l.kind === 'condition') return rec.conditions.some((r) => matches(r['code'], l.codes)) ? 1 : 0;
  const v = aggregate(rec.observations.filter((x) => x.loinc === l.loinc), l.aggregate);
  return v === undefined ? undefined : v >= l.atLeast ? 1 : 0;
}

/**
 * Builds the feature table for every patient in `resources` (de-identified by the Safe Harbor gate).
 * Rows are ordered by pseudonym so the result does not depend on file order.
 */
export function buildFeatureTable(spec: FeatureSpec, resources: readonly FhirResource[]): FeatureTable {
  const cols = columnsOf(spec);
  const records = [...byPatient(resources)].filter(([, r]) => r.patient !== undefined).sort(([a], [b]) => a.localeCompare(b));
  const dropped: { patient: string; reason: string }[] = [];
  const raw: { patient: string; values: (number | undefined)[]; label: number | undefined }[] = [];
  for (const [patient, rec] of records) {
    const values = cols.map((c) => c.value(rec));
    const label = labelOf(spec, rec);
    const missingDrop = cols.find((c, i) => values[i] === undefined && c.missing.strategy === 'drop');
    if (missingDrop !== undefined) dropped.push({ patient, reason: `no value for '${missingDrop.name}' (missing strategy drop)` });
    else if (spec.label !== undefined && label === undefined) dropped.push({ patient, reason: 'label unknown (no value for the label observation)' });
    else raw.push({ patient, values, label });
  }
  const means = cols.map((_, i) => {
    const present = raw.map((r) => r.values[i]).filter((v): v is number => v !== undefined);
    return present.length === 0 ? 0 : present.reduce((a, b) => a + b, 0) / present.length;
  });
  const columns = cols.flatMap((c) => (c.missing.indicator ? [c.name, `${c.name}_missing`] : [c.name]));
  const x = new Float32Array(raw.length * columns.length);
  raw.forEach((r, row) => {
    let at = row * columns.length;
    cols.forEach((c, i) => {
      const v = r.values[i];
      const fill = c.missing.strategy === 'mean' ? (means[i] ?? 0) : c.missing.strategy === 'constant' ? (c.missing.value ?? 0) : 0;
      x[at++] = v ?? fill;
      if (c.missing.indicator) x[at++] = v === undefined ? 1 : 0;
    });
  });
  return {
    columns,
    patients: raw.map((r) => r.patient),
    x,
    ...(spec.label !== undefined ? { y: Float32Array.from(raw.map((r) => r.label ?? 0)) } : {}),
    dropped,
  };
}

/** The feature row of each pseudonym in `keys` (e.g. one per image), and the keys with no EMR row. */
export function linkByPseudonym(table: FeatureTable, keys: readonly string[]): { rows: (Float32Array | undefined)[]; unmatched: string[] } {
  const index = new Map(table.patients.map((p, i) => [p, i]));
  const width = table.columns.length;
  const unmatched: string[] = [];
  const rows = keys.map((k) => {
    const i = index.get(k);
    if (i === undefined) {
      unmatched.push(k);
      return undefined;
    }
    return table.x.subarray(i * width, (i + 1) * width);
  });
  return { rows, unmatched };
}
