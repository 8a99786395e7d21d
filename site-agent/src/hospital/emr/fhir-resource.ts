/**
 * FHIR R4 resources as Tessera ingests them: the resource types the EMR gate accepts, the code
 * systems it recognises, and a structural validator that names each problem by field, never by value.
 *
 * Resources stay plain JSON objects (FHIR's own wire form): the gate (`shared/src/deid/safe-harbor.ts`)
 * rebuilds each accepted resource from an allow-list of fields, so a typed model of every FHIR element
 * would add code without adding safety.
 */

/** A FHIR resource as parsed JSON. */
export interface FhirResource {
  readonly resourceType: string;
  readonly id?: string;
  readonly [field: string]: unknown;
}

/** The resource types the EMR gate ingests; every other type is skipped and counted. */
export const SUPPORTED_RESOURCE_TYPES = [
  'Patient',
  'Encounter',
  'Observation',
  'Condition',
  'ImagingStudy',
  'DiagnosticReport',
  'DocumentReference',
  'Procedure',
  'MedicationRequest',
  'MedicationAdministration',
  'MedicationStatement',
  'Medication',
] as const;
export type SupportedResourceType = (typeof SUPPORTED_RESOURCE_TYPES)[number];

export function isSupportedType(type: string): type is SupportedResourceType {
  return (SUPPORTED_RESOURCE_TYPES as readonly string[]).includes(type);
}

/** Code system URIs. */
export const CodeSystem = {
  LOINC: 'http://loinc.org',
  SNOMED_CT: 'http://snomed.info/sct',
  ICD10: 'http://hl7.org/fhir/sid/icd-10',
  ICD10_CM: 'http://hl7.org/fhir/sid/icd-10-cm',
  DICOM_UID: 'urn:dicom:uid',
} as const;

/** One problem with one resource or row: where it is and what is wrong, never the offending value. */
export interface EmrIssue {
  /** File the item came from (path as given to the reader). */
  readonly file: string;
  /** Where in the file: `entry 12` (Bundle), `line 5` (NDJSON, CSV). */
  readonly location: string;
  /** Resource type or CSV table, when known. */
  readonly resourceType?: string;
  /** The field at fault (FHIR path or CSV column), when there is one. */
  readonly field?: string;
  /** What is wrong, in words that quote no data value. */
  readonly reason: string;
}

/** A field-level problem found by {@link validateResource}. */
export interface FieldProblem {
  readonly field: string;
  readonly reason: string;
}

// FHIR R4 primitive formats (https://hl7.org/fhir/R4/datatypes.html), anchored.
const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
const DATE_RE = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/;
const DATETIME_RE =
  /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$/;
const INSTANT_RE =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/;
const OID_RE = /^[0-2](\.(0|[1-9]\d*))+$/;

export function isFhirDate(value: unknown): value is string {
  return typeof value === 'string' && DATE_RE.test(value);
}
export function isFhirDateTime(value: unknown): value is string {
  return typeof value === 'string' && DATETIME_RE.test(value);
}
export function isFhirInstant(value: unknown): value is string {
  return typeof value === 'string' && INSTANT_RE.test(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The codings of a CodeableConcept (empty when absent or malformed). */
export function codings(concept: unknown): { system?: string; code?: string; display?: string }[] {
  if (!isObject(concept) || !Array.isArray(concept['coding'])) return [];
  return concept['coding'].filter(isObject).map((c) => ({
    ...(typeof c['system'] === 'string' ? { system: c['system'] } : {}),
    ...(typeof c['code'] === 'string' ? { code: c['code'] } : {}),
    ...(typeof c['display'] === 'string' ? { display: c['display'] } : {}),
  }));
}

/** The id a `Patient/<id>` or `urn:uuid:<id>` reference points at, or undefined. */
export function referencedId(reference: unknown, type: string): string | undefined {
  if (!isObject(reference) || typeof reference['reference'] !== 'string') return undefined;
  const ref = reference['reference'];
  if (ref.startsWith('urn:uuid:')) return ref.slice('urn:uuid:'.length);
  const prefix = `${type}/`;
  if (ref.startsWith(prefix)) return ref.slice(prefix.length).split('/')[0];
  return undefined;
}

class Checker {
  readonly problems: FieldProblem[] = [];
  constructor(readonly resource: Record<string, unknown>) {}

  add(field: string, reason: string): void {
    this.problems.push({ field, reason });
  }
  requiredString(field: string): void {
    const v = this.resource[field];
    if (typeof v !== 'string' || v.trim() === '') this.add(field, 'is required and must be a non-empty string');
  }
  optionalFormat(field: string, check: (v: unknown) => boolean, what: string): void {
    const v = this.resource[field];
    if (v !== undefined && !check(v)) this.add(field, `is not a valid FHIR ${what}`);
  }
  subject(field = 'subject'): void {
    const v = this.resource[field];
    if (!isObject(v) || typeof v['reference'] !== 'string') this.add(field, 'is required and must be a Reference');
    else if (referencedId(v, 'Patient') === undefined) this.add(field, 'must reference a Patient (Patient/<id> or urn:uuid:<id>)');
  }
  concept(field: string, systems: readonly string[] | undefined, systemNames: string): void {
    const v = this.resource[field];
    if (v === undefined) {
      this.add(field, 'is required');
      return;
    }
    const cs = codings(v);
    if (cs.length === 0 || cs.some((c) => c.code === undefined)) {
      this.add(`${field}.coding`, 'must hold at least one coding, each with a code');
      return;
    }
    if (systems !== undefined && !cs.some((c) => c.system !== undefined && systems.includes(c.system))) {
      this.add(`${field}.coding`, `has no ${systemNames} coding`);
    }
  }
  /** `medication[x]`: a CodeableConcept, or a Reference (`#id` must name a contained Medication). */
  medication(): void {
    const r = this.resource;
    if (r['medicationCodeableConcept'] !== undefined) return this.concept('medicationCodeableConcept', undefined, '');
    const ref = r['medicationReference'];
    if (ref === undefined) return this.add('medication[x]', 'is required (medicationCodeableConcept or medicationReference)');
    if (!isObject(ref) || typeof ref['reference'] !== 'string') return this.add('medicationReference', 'must be a Reference');
    if (!ref['reference'].startsWith('#')) return;
    const id = ref['reference'].slice(1);
    const contained = Array.isArray(r['contained']) ? (r['contained'] as unknown[]).filter(isObject) : [];
    if (!contained.some((c) => c['resourceType'] === 'Medication' && c['id'] === id)) this.add('medicationReference', 'points at no contained Medication');
  }
  period(field: string): void {
    const v = this.resource[field];
    if (v === undefined) return;
    if (!isObject(v)) {
      this.add(field, 'must be a Period');
      return;
    }
    for (const end of ['start', 'end']) {
      if (v[end] !== undefined && !isFhirDateTime(v[end])) this.add(`${field}.${end}`, 'is not a valid FHIR dateTime');
    }
  }
}

function checkPatient(c: Checker): void {
  const r = c.resource;
  const gender = r['gender'];
  if (gender !== undefined && (typeof gender !== 'string' || !['male', 'female', 'other', 'unknown'].includes(gender))) {
    c.add('gender', 'must be male, female, other or unknown');
  }
  c.optionalFormat('birthDate', isFhirDate, 'date');
  c.optionalFormat('deceasedDateTime', isFhirDateTime, 'dateTime');
  for (const list of ['name', 'telecom', 'address', 'identifier', 'photo']) {
    if (r[list] !== undefined && !Array.isArray(r[list])) c.add(list, 'must be an array');
  }
}

function checkImagingStudy(c: Checker): void {
  const r = c.resource;
  c.requiredString('status');
  c.subject();
  c.optionalFormat('started', isFhirDateTime, 'dateTime');
  if (r['series'] === undefined) return;
  if (!Array.isArray(r['series'])) {
    c.add('series', 'must be an array');
    return;
  }
  r['series'].forEach((s: unknown, i) => {
    if (!isObject(s)) return c.add(`series[${i}]`, 'must be an object');
    if (typeof s['uid'] !== 'string' || !OID_RE.test(s['uid'])) c.add(`series[${i}].uid`, 'must be a DICOM UID');
    if (!isObject(s['modality'])) c.add(`series[${i}].modality`, 'is required');
    if (s['started'] !== undefined && !isFhirDateTime(s['started'])) c.add(`series[${i}].started`, 'is not a valid FHIR dateTime');
    const instances = s['instance'];
    if (instances === undefined) return;
    if (!Array.isArray(instances)) return c.add(`series[${i}].instance`, 'must be an array');
    instances.forEach((inst: unknown, j) => {
      if (!isObject(inst) || typeof inst['uid'] !== 'string' || !OID_RE.test(inst['uid'])) {
        c.add(`series[${i}].instance[${j}].uid`, 'must be a DICOM UID');
      }
    });
  });
}

function checkAttachments(c: Checker, field: string, list: unknown, pick: (item: unknown) => unknown): void {
  if (!Array.isArray(list)) return c.add(field, 'must be an array');
  list.forEach((item, i) => {
    const a = pick(item);
    if (!isObject(a)) return c.add(`${field}[${i}]`, 'must hold an Attachment');
    if (a['data'] !== undefined && (typeof a['data'] !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(a['data']))) {
      c.add(`${field}[${i}].data`, 'is not base64');
    }
    if (a['contentType'] !== undefined && typeof a['contentType'] !== 'string') c.add(`${field}[${i}].contentType`, 'must be a string');
  });
}

/**
 * Checks the structure of one resource of a supported type: required elements, primitive formats
 * (ids, dates, UIDs) and codes (any code system: the site's harmonisation maps local codes to the study's).
 * Returns every problem found; an empty array means the resource may pass to the gate.
 */
export function validateResource(resource: FhirResource): FieldProblem[] {
  const c = new Checker(resource);
  const r = c.resource;
  if (typeof r['id'] !== 'string' || !ID_RE.test(r['id'])) c.add('id', 'is required and must be a FHIR id');
  switch (resource.resourceType) {
    case 'Patient':
      checkPatient(c);
      break;
    case 'Encounter':
      c.requiredString('status');
      if (!isObject(r['class'])) c.add('class', 'is required and must be a Coding');
      c.subject();
      c.period('period');
      break;
    case 'Observation':
      c.requiredString('status');
      // Any code system: a local code is mapped by the site's harmonisation file, and counted when it is not.
      c.concept('code', undefined, '');
      c.subject();
      c.optionalFormat('effectiveDateTime', isFhirDateTime, 'dateTime');
      c.optionalFormat('issued', isFhirInstant, 'instant');
      if (r['valueQuantity'] !== undefined) {
        const q = r['valueQuantity'];
        if (!isObject(q) || typeof q['value'] !== 'number' || !Number.isFinite(q['value'])) {
          c.add('valueQuantity.value', 'must be a finite number');
        }
      }
      break;
    case 'Condition':
      c.concept('code', undefined, '');
      c.subject();
      c.optionalFormat('onsetDateTime', isFhirDateTime, 'dateTime');
      c.optionalFormat('abatementDateTime', isFhirDateTime, 'dateTime');
      c.optionalFormat('recordedDate', isFhirDateTime, 'dateTime');
      break;
    case 'ImagingStudy':
      checkImagingStudy(c);
      break;
    case 'Procedure':
      c.requiredString('status');
      c.concept('code', undefined, '');
      c.subject();
      c.optionalFormat('performedDateTime', isFhirDateTime, 'dateTime');
      c.period('performedPeriod');
      break;
    case 'MedicationRequest':
      c.requiredString('status');
      c.medication();
      c.subject();
      c.optionalFormat('authoredOn', isFhirDateTime, 'dateTime');
      break;
    case 'MedicationAdministration':
      c.requiredString('status');
      c.medication();
      c.subject();
      c.optionalFormat('effectiveDateTime', isFhirDateTime, 'dateTime');
      c.period('effectivePeriod');
      if (r['effectiveDateTime'] === undefined && r['effectivePeriod'] === undefined) c.add('effective[x]', 'is required (effectiveDateTime or effectivePeriod)');
      break;
    case 'MedicationStatement':
      c.requiredString('status');
      c.medication();
      c.subject();
      c.optionalFormat('effectiveDateTime', isFhirDateTime, 'dateTime');
      c.period('effectivePeriod');
      c.optionalFormat('dateAsserted', isFhirDateTime, 'dateTime');
      break;
    case 'Medication':
      // No subject: the code of a drug that medication records reference (`Medication/<id>`).
      if (r['code'] !== undefined) c.concept('code', undefined, '');
      break;
    case 'DiagnosticReport':
      c.requiredString('status');
      c.concept('code', undefined, '');
      c.subject();
      c.optionalFormat('effectiveDateTime', isFhirDateTime, 'dateTime');
      c.optionalFormat('issued', isFhirInstant, 'instant');
      if (r['presentedForm'] !== undefined) checkAttachments(c, 'presentedForm', r['presentedForm'], (x) => x);
      break;
    case 'DocumentReference':
      c.requiredString('status');
      c.subject();
      c.optionalFormat('date', isFhirInstant, 'instant');
      if (!Array.isArray(r['content']) || r['content'].length === 0) c.add('content', 'is required and must be a non-empty array');
      else checkAttachments(c, 'content', r['content'], (x) => (isObject(x) ? x['attachment'] : undefined));
      break;
    default:
      c.add('resourceType', 'is not a supported resource type');
  }
  return c.problems;
}
