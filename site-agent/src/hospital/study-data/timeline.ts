/**
 * De-identified FHIR resources → one timeline per patient pseudonym, with every coding harmonised to the
 * study's code systems by the site's mapping, every quantity's unit resolved to UCUM, and every record's
 * date. Codes that are neither standard nor mapped are kept as "unmapped" and counted, never dropped in
 * silence.
 */
import { codings, referencedId, type FhirResource } from '../emr/fhir-resource.js';
import type { StudyCode } from '../../../../shared/src/study/study-data-spec.js';
import { PSEUDONYM_SYSTEM } from '../deid/safe-harbor.js';
import type { SiteMapping } from './mapping.js';

/** The resource types whose codes a study reads. */
export const CODED_TYPES = ['Condition', 'Observation', 'Procedure', 'MedicationRequest', 'MedicationAdministration', 'MedicationStatement'] as const;

/** The records a study's `Medication` criterion or feature reads: ordered, given, or stated as taken. */
export const MEDICATION_TYPES: readonly string[] = ['MedicationRequest', 'MedicationAdministration', 'MedicationStatement'];

/** One dated record of a patient. */
export interface TimelineEvent {
  readonly type: string;
  readonly resource: FhirResource;
  /** Epoch ms of the record's clinical date; NaN when it has none. */
  readonly time: number;
  /** Study codes the record stands for (its own standard codes and the site mapping's). */
  readonly codes: readonly StudyCode[];
  /** The record is coded, but by no standard or mapped code. */
  readonly unmapped: boolean;
  /** Observations: the numeric value and its UCUM unit (undefined when the site cannot say). */
  readonly value?: { readonly value: number; readonly unit: string | undefined };
  /** ImagingStudy: modalities and body parts of its series. */
  readonly imaging?: { readonly modalities: readonly string[]; readonly bodyParts: readonly string[] };
}

/** A patient's record. */
export interface PatientTimeline {
  readonly id: string;
  patient?: FhirResource;
  readonly events: TimelineEvent[];
}

/** Counts of what could not be harmonised, by resource type: coded records with no standard code, distinct such codes. */
export interface HarmonisationCounts {
  unmappedResources: Record<string, number>;
  unmappedCodes: Record<string, number>;
  /** Observation values whose unit is not UCUM and not mapped. */
  unknownUnits: number;
  /** Resources with no Patient subject, or a subject not in the records. */
  unlinked: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const UCUM_SYSTEM = 'http://unitsofmeasure.org';

function dateOf(r: FhirResource): number {
  const pick = (...fields: string[]): string | undefined => {
    for (const f of fields) {
      const v = r[f];
      if (typeof v === 'string') return v;
      if (isObject(v) && typeof v['start'] === 'string') return v['start'];
    }
    return undefined;
  };
  let s: string | undefined;
  switch (r.resourceType) {
    case 'Condition':
      s = pick('onsetDateTime', 'onsetPeriod', 'recordedDate');
      break;
    case 'Observation':
      s = pick('effectiveDateTime', 'effectivePeriod', 'effectiveInstant', 'issued');
      break;
    case 'Procedure':
      s = pick('performedDateTime', 'performedPeriod');
      break;
    case 'MedicationRequest':
      s = pick('authoredOn');
      break;
    case 'MedicationAdministration':
      s = pick('effectiveDateTime', 'effectivePeriod');
      break;
    case 'MedicationStatement':
      s = pick('effectiveDateTime', 'effectivePeriod', 'dateAsserted');
      break;
    case 'Encounter':
      s = pick('period');
      break;
    case 'ImagingStudy':
      s = pick('started');
      break;
    case 'DiagnosticReport':
      s = pick('effectiveDateTime', 'effectivePeriod', 'issued');
      break;
    case 'DocumentReference':
      s = pick('date');
      break;
    default:
      s = undefined;
  }
  return s === undefined ? Number.NaN : Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s);
}

/**
 * The concept a record is coded by: `code`, or for medication records `medicationCodeableConcept`, else the
 * code of the Medication `medicationReference` points at (contained `#id`, or a Medication in the records).
 */
function conceptField(r: FhirResource, medications: ReadonlyMap<string, FhirResource>): unknown {
  if (!MEDICATION_TYPES.includes(r.resourceType)) return r['code'];
  if (r['medicationCodeableConcept'] !== undefined) return r['medicationCodeableConcept'];
  const ref = r['medicationReference'];
  if (!isObject(ref) || typeof ref['reference'] !== 'string') return undefined;
  if (ref['reference'].startsWith('#')) {
    const id = ref['reference'].slice(1);
    const contained = Array.isArray(r['contained']) ? (r['contained'] as unknown[]).filter(isObject) : [];
    return contained.find((c) => c['resourceType'] === 'Medication' && c['id'] === id)?.['code'];
  }
  const id = referencedId(ref, 'Medication');
  return id === undefined ? undefined : medications.get(id)?.['code'];
}

/** Builds the timelines; `counts` receives what could not be harmonised. */
export function buildTimelines(resources: readonly FhirResource[], mapping: SiteMapping): { timelines: Map<string, PatientTimeline>; counts: HarmonisationCounts } {
  const timelines = new Map<string, PatientTimeline>();
  const counts: HarmonisationCounts = { unmappedResources: {}, unmappedCodes: {}, unknownUnits: 0, unlinked: 0 };
  const distinct = new Map<string, Set<string>>();
  const get = (id: string): PatientTimeline => {
    let t = timelines.get(id);
    if (t === undefined) {
      t = { id, events: [] };
      timelines.set(id, t);
    }
    return t;
  };
  const patients = new Set<string>();
  const medications = new Map<string, FhirResource>();
  for (const r of resources) if (r.resourceType === 'Medication' && typeof r.id === 'string') medications.set(r.id, r);
  for (const r of resources) {
    if (r.resourceType !== 'Patient' || typeof r.id !== 'string') continue;
    const ids = Array.isArray(r['identifier']) ? (r['identifier'] as unknown[]) : [];
    const pseudonym = ids.filter(isObject).find((i) => i['system'] === PSEUDONYM_SYSTEM)?.['value'];
    const id = typeof pseudonym === 'string' ? pseudonym : r.id;
    get(id).patient = r;
    patients.add(id);
  }
  for (const r of resources) {
    // Medications belong to no patient: the records that reference them carry their codes.
    if (r.resourceType === 'Patient' || r.resourceType === 'Medication') continue;
    const p = referencedId(r['subject'] ?? r['patient'], 'Patient');
    if (p === undefined || !patients.has(p)) {
      counts.unlinked++;
      continue;
    }
    const time = dateOf(r);
    const cs = codings(conceptField(r, medications));
    const codes: StudyCode[] = [];
    for (const c of cs) for (const s of mapping.standardCodes(c)) if (!codes.some((k) => k.system === s.system && k.code === s.code)) codes.push(s);
    const coded = (CODED_TYPES as readonly string[]).includes(r.resourceType);
    const unmapped = coded && cs.length > 0 && codes.length === 0;
    if (unmapped) {
      counts.unmappedResources[r.resourceType] = (counts.unmappedResources[r.resourceType] ?? 0) + 1;
      let set = distinct.get(r.resourceType);
      if (set === undefined) distinct.set(r.resourceType, (set = new Set()));
      for (const c of cs) set.add(`${c.system ?? ''}|${c.code ?? ''}`);
    }
    const timeline = get(p);
    if (r.resourceType === 'Observation') {
      // The observation itself and each component are values of their own codes.
      const parts: Json[] = [r, ...(Array.isArray(r['component']) ? (r['component'] as unknown[]).filter(isObject) : [])];
      parts.forEach((part, i) => {
        const partCodings = i === 0 ? cs : codings(part['code']);
        const partCodes: StudyCode[] = i === 0 ? codes : partCodings.flatMap((c) => mapping.standardCodes(c));
        const q = part['valueQuantity'];
        let value: TimelineEvent['value'];
        if (isObject(q) && typeof q['value'] === 'number' && Number.isFinite(q['value'])) {
          let unit: string | undefined;
          if (q['system'] === UCUM_SYSTEM && typeof q['code'] === 'string') unit = mapping.ucum(q['code']);
          if (unit === undefined && typeof q['unit'] === 'string') unit = mapping.ucum(q['unit']);
          if (unit === undefined && typeof q['code'] === 'string') unit = mapping.ucum(q['code']);
          if (unit === undefined) for (const c of partCodings) unit ??= mapping.unitFor(c);
          if (unit === undefined && (q['unit'] !== undefined || q['code'] !== undefined)) counts.unknownUnits++;
          value = { value: q['value'], unit };
        }
        if (i > 0 && partCodes.length === 0 && value === undefined) return;
        timeline.events.push({ type: 'Observation', resource: r, time, codes: partCodes, unmapped: i === 0 ? unmapped : partCodings.length > 0 && partCodes.length === 0, ...(value !== undefined ? { value } : {}) });
      });
      continue;
    }
    if (r.resourceType === 'ImagingStudy') {
      const series = Array.isArray(r['series']) ? (r['series'] as unknown[]).filter(isObject) : [];
      const modalities = [...new Set(series.map((s) => (isObject(s['modality']) ? s['modality']['code'] : undefined)).filter((m): m is string => typeof m === 'string'))];
      const bodyParts = [
        ...new Set(
          series
            .flatMap((s) => (isObject(s['bodySite']) ? [s['bodySite']['code'], s['bodySite']['display']] : []))
            .filter((b): b is string => typeof b === 'string')
            .map((b) => b.toUpperCase()),
        ),
      ];
      const descriptions = [r['description'], ...series.map((s) => s['description'])].filter((d): d is string => typeof d === 'string');
      const procedures = [...codes];
      for (const pc of Array.isArray(r['procedureCode']) ? (r['procedureCode'] as unknown[]) : []) for (const c of codings(pc)) procedures.push(...mapping.standardCodes(c));
      for (const d of descriptions) {
        const code = mapping.procedureFor(d);
        if (code !== undefined) procedures.push(code);
      }
      timeline.events.push({ type: 'ImagingStudy', resource: r, time, codes: procedures, unmapped: false, imaging: { modalities, bodyParts } });
      continue;
    }
    timeline.events.push({ type: r.resourceType, resource: r, time, codes, unmapped });
  }
  for (const [type, set] of distinct) counts.unmappedCodes[type] = set.size;
  for (const t of timelines.values()) t.events.sort((a, b) => (Number.isNaN(a.time) ? 1 : Number.isNaN(b.time) ? -1 : a.time - b.time));
  return { timelines, counts };
}

/** Text of a DiagnosticReport (conclusion and text/plain presented forms), as the gate left it. */
export function reportText(r: FhirResource): string {
  const parts: string[] = [];
  const forms = Array.isArray(r['presentedForm']) ? (r['presentedForm'] as unknown[]).filter(isObject) : [];
  for (const f of forms) {
    if (typeof f['data'] !== 'string') continue;
    const type = typeof f['contentType'] === 'string' ? f['contentType'] : 'text/plain';
    if (type.startsWith('text/')) parts.push(Buffer.from(f['data'], 'base64').toString('utf8'));
  }
  if (typeof r['conclusion'] === 'string') parts.push(r['conclusion']);
  return parts.join('\n');
}

