/**
 * HIPAA Safe Harbor (45 CFR 164.514(b)(2)) for FHIR R4 resources: the EMR side of Tessera's
 * de-identification gate. See docs/explanation/safe-harbor.md for each of the 18 identifier kinds.
 *
 * Each accepted resource is rebuilt from an allow-list of elements per type; anything not listed
 * (narrative, meta, extensions, performers, locations, unknown elements) is dropped. Identifiers are
 * removed, except that the patient gets a keyed pseudonym (HMAC with the site secret) and DICOM UIDs get
 * the same keyed replacement the DICOM path writes, so imaging and EMR still link. Every date moves by the
 * patient's shift from {@link PatientPseudonymizer} (the shift the DICOM path uses for the same patient),
 * or is cut to its year in `dates: 'year'` mode. Free text is scrubbed by {@link TextScrubber} with the
 * patient's own identifiers as known PHI.
 */
import type { EmrIssue, FhirResource } from '../emr/fhir-resource.js';
import { codings, referencedId } from '../emr/fhir-resource.js';
import type { SourcedResource } from '../emr/fhir-parse.js';
import { ageInYears, isoYear, shiftIsoDate } from './date-shift.js';
import type { PatientPseudonymizer } from './pseudonym.js';
import { TextScrubber } from './text-scrubber.js';
import { safeHarborZip3 } from './zip3.js';

/** The 18 Safe Harbor identifier kinds, (A)..(R) of 164.514(b)(2)(i). */
export const IDENTIFIER_KINDS = [
  'names',
  'geography',
  'dates',
  'phone',
  'fax',
  'email',
  'ssn',
  'mrn',
  'healthPlan',
  'account',
  'license',
  'vehicle',
  'device',
  'url',
  'ip',
  'biometric',
  'photo',
  'otherId',
] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];

/** Options for {@link SafeHarbor}. */
export interface SafeHarborOptions {
  readonly pseudonymizer: PatientPseudonymizer;
  /** Free-text scrubber. @default a new {@link TextScrubber} */
  readonly scrubber?: TextScrubber;
  /** Reference date for ages of living patients (ISO date). @default today (UTC) */
  readonly today?: string;
  /**
   * `shift`: every date moves by the patient's date shift (intervals kept; consistent with imaging).
   * `year`: dates keep only their year and instants are removed (the letter of Safe Harbor).
   * @default 'shift'
   */
  readonly dates?: 'shift' | 'year';
}

/** What the gate produced for one batch. */
export interface SafeHarborResult {
  /** De-identified resources (FHIR R4 JSON). */
  readonly resources: FhirResource[];
  /** Resources the gate refused, with reasons (no values). */
  readonly refused: EmrIssue[];
  /** Elements removed or generalised, by identifier kind. */
  readonly actions: Record<IdentifierKind, number>;
  /** Patients seen: original Patient.id → pseudonym (stays on the site; never written to the cache). */
  readonly pseudonyms: ReadonlyMap<string, string>;
}

/** Extension URL marking a patient whose age is over 89 (birth date removed). */
export const AGE_OVER_89_EXTENSION = 'urn:tessera:deid:age-over-89';
/** Identifier system of the keyed patient pseudonym. */
export const PSEUDONYM_SYSTEM = 'urn:tessera:pseudonym';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class Refusal extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

interface PatientInfo {
  readonly pseudonym: string;
  readonly shiftDays: number;
  readonly over89: boolean;
  readonly known: readonly string[];
}

/** Patient key for linkage: the MRN identifier when present (DICOM PatientID carries it), else Patient.id. */
export function patientKey(patient: FhirResource): string {
  const ids = Array.isArray(patient['identifier']) ? (patient['identifier'] as unknown[]) : [];
  for (const id of ids) {
    if (isObject(id) && typeof id['value'] === 'string' && codings(id['type']).some((c) => c.code === 'MR')) return id['value'];
  }
  return String(patient.id);
}

const TELECOM_KIND: Record<string, IdentifierKind> = { phone: 'phone', fax: 'fax', email: 'email', url: 'url', sms: 'phone', pager: 'phone' };
const IDENTIFIER_TYPE_KIND: Record<string, IdentifierKind> = {
  SS: 'ssn',
  SB: 'ssn',
  MR: 'mrn',
  MB: 'healthPlan',
  SN: 'healthPlan',
  AN: 'account',
  DL: 'license',
  PPN: 'license',
  LN: 'license',
  NPI: 'license',
};
const KEPT_PATIENT_EXTENSIONS = new Set([
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex',
]);
/** LOINC codes whose value is an age in years. */
const AGE_LOINC = new Set(['30525-0', '21612-7', '29553-5']);

/** De-identifies batches of FHIR resources under HIPAA Safe Harbor. */
export class SafeHarbor {
  readonly #p: PatientPseudonymizer;
  readonly #scrubber: TextScrubber;
  readonly #today: string;
  readonly #mode: 'shift' | 'year';

  constructor(options: SafeHarborOptions) {
    this.#p = options.pseudonymizer;
    this.#scrubber = options.scrubber ?? new TextScrubber();
    this.#today = options.today ?? new Date().toISOString().slice(0, 10);
    this.#mode = options.dates ?? 'shift';
  }

  /**
   * De-identifies one batch. Patients must be in the same batch as the resources that reference them
   * (a resource whose subject is not found is refused: it could be neither linked nor date-shifted).
   */
  deidentify(input: readonly (SourcedResource | FhirResource)[]): SafeHarborResult {
    const items = input.map((x, i) => ('resource' in x && 'file' in x ? (x as SourcedResource) : { resource: x, file: 'input', location: `item ${i}` }));
    const run = new Run(this.#p, this.#scrubber, this.#today, this.#mode);
    for (const item of items) if (item.resource.resourceType === 'Patient') run.indexPatient(item.resource);
    const resources: FhirResource[] = [];
    const refused: EmrIssue[] = [];
    for (const item of items) {
      try {
        resources.push(run.transform(item.resource));
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        refused.push({ file: item.file, location: item.location, resourceType: item.resource.resourceType, field: err.field, reason: err.reason });
      }
    }
    return { resources, refused, actions: run.actions, pseudonyms: run.pseudonymMap() };
  }
}

/** State of one batch: patient index and action counters. */
class Run {
  readonly actions = Object.fromEntries(IDENTIFIER_KINDS.map((k) => [k, 0])) as Record<IdentifierKind, number>;
  readonly #patients = new Map<string, PatientInfo>();

  constructor(
    private readonly p: PatientPseudonymizer,
    private readonly scrubber: TextScrubber,
    private readonly today: string,
    readonly mode: 'shift' | 'year',
  ) {}

  count(kind: IdentifierKind, n = 1): void {
    this.actions[kind] += n;
  }

  pseudonymMap(): Map<string, string> {
    return new Map([...this.#patients].map(([id, info]) => [id, info.pseudonym]));
  }

  indexPatient(r: FhirResource): void {
    if (typeof r.id !== 'string') return;
    const key = patientKey(r);
    const birth = typeof r['birthDate'] === 'string' ? r['birthDate'] : undefined;
    const at = typeof r['deceasedDateTime'] === 'string' ? r['deceasedDateTime'] : this.today;
    const age = birth === undefined ? undefined : ageInYears(birth, at);
    this.#patients.set(r.id, {
      pseudonym: this.p.pseudonym(key),
      shiftDays: this.p.dateShiftDays(key),
      over89: age !== undefined && age > 89,
      known: knownIdentifiers(r),
    });
  }

  transform(r: FhirResource): FhirResource {
    if (r.resourceType === 'Patient') return this.patient(r);
    if (r.resourceType === 'Medication') return medicationCode(r, typeof r.id === 'string' ? this.opaqueId('Medication', r.id) : undefined);
    const patientId = referencedId(r['subject'], 'Patient');
    const info = patientId === undefined ? undefined : this.#patients.get(patientId);
    if (info === undefined) throw new Refusal('subject', 'the referenced Patient is not in the export, so the record can be neither linked nor date-shifted');
    const ctx = new ResourceContext(this, info, r);
    switch (r.resourceType) {
      case 'Encounter':
        return ctx.encounter();
      case 'Observation':
        return ctx.observation();
      case 'Condition':
        return ctx.condition();
      case 'ImagingStudy':
        return ctx.imagingStudy();
      case 'DiagnosticReport':
        return ctx.diagnosticReport();
      case 'DocumentReference':
        return ctx.documentReference();
      case 'Procedure':
        return ctx.procedure();
      case 'MedicationRequest':
        return ctx.medicationRequest();
      case 'MedicationAdministration':
      case 'MedicationStatement':
        return ctx.medicationUse();
      default:
        throw new Refusal('resourceType', 'is not a supported resource type');
    }
  }

  patient(r: FhirResource): FhirResource {
    const info = this.#patients.get(String(r.id));
    if (info === undefined) throw new Refusal('id', 'is missing');
    const ctx = new ResourceContext(this, info, r);
    return ctx.patient();
  }

  opaqueId(type: string, id: string): string {
    // The UID derivation keys an HMAC; the 'fhir:' prefix keeps these inputs apart from DICOM UIDs.
    void type;
    return this.p.uid(`fhir:${id}`);
  }
  dicomUid(uid: string): string {
    return this.p.uid(uid);
  }
  scrub(text: string, known: readonly string[]): string {
    return this.scrubber.scrub(text, { knownIdentifiers: known });
  }
}

function knownIdentifiers(r: FhirResource): string[] {
  const out: string[] = [];
  const push = (v: unknown): void => {
    if (typeof v === 'string' && v.trim().length > 1) out.push(v.trim());
  };
  for (const n of Array.isArray(r['name']) ? (r['name'] as unknown[]) : []) {
    if (!isObject(n)) continue;
    push(n['family']);
    push(n['text']);
    for (const g of Array.isArray(n['given']) ? (n['given'] as unknown[]) : []) push(g);
  }
  for (const list of ['identifier', 'telecom']) {
    for (const x of Array.isArray(r[list]) ? (r[list] as unknown[]) : []) if (isObject(x)) push(x['value']);
  }
  for (const a of Array.isArray(r['address']) ? (r['address'] as unknown[]) : []) {
    if (!isObject(a)) continue;
    push(a['city']);
    for (const l of Array.isArray(a['line']) ? (a['line'] as unknown[]) : []) push(l);
  }
  return out;
}

/** A Medication reduced to what names the drug (code, form, ingredients' codes); lot numbers and the rest go. */
function medicationCode(r: FhirResource, id: string | undefined): FhirResource {
  const out: Json = { resourceType: 'Medication' };
  if (id !== undefined) out['id'] = id;
  for (const f of ['status', 'code', 'form']) if (r[f] !== undefined) out[f] = structuredClone(r[f]);
  const ingredients = (Array.isArray(r['ingredient']) ? (r['ingredient'] as unknown[]) : []).filter(isObject).filter((i) => i['itemCodeableConcept'] !== undefined);
  if (ingredients.length > 0) out['ingredient'] = ingredients.map((i) => ({ itemCodeableConcept: structuredClone(i['itemCodeableConcept']) }));
  return out as FhirResource;
}

/** Per-resource transformation with the patient's pseudonym, shift and known identifiers. */
class ResourceContext {
  readonly out: Json;
  readonly known: string[];

  constructor(
    private readonly run: Run,
    private readonly info: PatientInfo,
    private readonly r: FhirResource,
  ) {
    this.known = [...info.known, ...referenceDisplays(r)];
    this.out = { resourceType: r.resourceType };
    if (r.resourceType !== 'Patient' && typeof r.id === 'string') this.out['id'] = run.opaqueId(r.resourceType, r.id);
    this.countDropped(['identifier', 'masterIdentifier'], 'otherId');
  }

  private countDropped(fields: readonly string[], kind: IdentifierKind): void {
    for (const f of fields) {
      const v = this.r[f];
      if (v === undefined) continue;
      if (f === 'identifier' && Array.isArray(v)) {
        for (const id of v) {
          const code = isObject(id) ? codings(id['type']).map((c) => c.code).find((c) => c !== undefined && c in IDENTIFIER_TYPE_KIND) : undefined;
          this.run.count(code === undefined ? kind : (IDENTIFIER_TYPE_KIND[code] ?? kind));
        }
      } else this.run.count(kind);
    }
  }

  keep(...fields: string[]): void {
    for (const f of fields) if (this.r[f] !== undefined) this.out[f] = structuredClone(this.r[f]);
  }

  date(value: unknown, instant = false): string | undefined {
    if (typeof value !== 'string') return undefined;
    this.run.count('dates');
    if (this.run.mode === 'year') return instant ? undefined : isoYear(value);
    return shiftIsoDate(value, this.info.shiftDays);
  }

  dates(target: Json, source: Json, fields: readonly string[], instants: readonly string[] = []): void {
    for (const f of fields) {
      const v = source[f];
      if (v === undefined) continue;
      if (isObject(v)) {
        const period: Json = {};
        for (const e of ['start', 'end']) {
          const d = this.date(v[e]);
          if (d !== undefined) period[e] = d;
        }
        target[f] = period;
        continue;
      }
      const d = this.date(v, instants.includes(f));
      if (d !== undefined) target[f] = d;
    }
  }

  text(value: unknown): string | undefined {
    return typeof value === 'string' ? this.run.scrub(value, this.known) : undefined;
  }

  subject(field = 'subject'): void {
    this.out[field] = { reference: `Patient/${this.info.pseudonym}` };
  }

  ref(value: unknown, type: string): Json | undefined {
    const id = referencedId(value, type);
    return id === undefined ? undefined : { reference: `${type}/${this.run.opaqueId(type, id)}` };
  }

  refs(value: unknown, type: string): Json[] {
    return (Array.isArray(value) ? value : []).map((v) => this.ref(v, type)).filter((v): v is Json => v !== undefined);
  }

  encounterRef(): void {
    const e = this.ref(this.r['encounter'], 'Encounter');
    if (e !== undefined) this.out['encounter'] = e;
  }

  notes(): void {
    if (!Array.isArray(this.r['note'])) return;
    this.out['note'] = (this.r['note'] as unknown[]).filter(isObject).map((n) => ({ text: this.text(n['text']) ?? '' }));
  }

  patient(): FhirResource {
    const r = this.r;
    this.out['id'] = this.info.pseudonym;
    this.out['identifier'] = [{ system: PSEUDONYM_SYSTEM, value: this.info.pseudonym }];
    this.countDropped(['name'], 'names');
    this.countDropped(['photo'], 'photo');
    this.countDropped(['contact'], 'names');
    for (const t of Array.isArray(r['telecom']) ? (r['telecom'] as unknown[]) : []) {
      this.run.count(isObject(t) ? (TELECOM_KIND[String(t['system'])] ?? 'phone') : 'phone');
    }
    this.keep('gender', 'maritalStatus', 'communication', 'multipleBirthBoolean', 'deceasedBoolean');
    if (this.info.over89) {
      if (r['birthDate'] !== undefined) this.run.count('dates');
      this.out['extension'] = [{ url: AGE_OVER_89_EXTENSION, valueBoolean: true }];
    } else this.dates(this.out, r, ['birthDate']);
    this.dates(this.out, r, ['deceasedDateTime']);
    this.patientAddress();
    this.patientExtensions();
    return this.out as FhirResource;
  }

  private patientAddress(): void {
    const out: Json[] = [];
    for (const a of Array.isArray(this.r['address']) ? (this.r['address'] as unknown[]) : []) {
      if (!isObject(a)) continue;
      const g: Json = {};
      for (const f of ['line', 'city', 'district', 'text', 'extension']) if (a[f] !== undefined) this.run.count('geography');
      if (typeof a['state'] === 'string') g['state'] = a['state'];
      if (typeof a['country'] === 'string') g['country'] = a['country'];
      if (typeof a['postalCode'] === 'string') {
        this.run.count('geography');
        const zip3 = safeHarborZip3(a['postalCode']);
        if (zip3 !== undefined) g['postalCode'] = zip3;
      }
      if (Object.keys(g).length > 0) out.push(g);
    }
    if (out.length > 0) this.out['address'] = out;
  }

  private patientExtensions(): void {
    const kept = (this.out['extension'] as Json[] | undefined) ?? [];
    for (const e of Array.isArray(this.r['extension']) ? (this.r['extension'] as unknown[]) : []) {
      if (!isObject(e)) continue;
      const url = String(e['url']);
      if (KEPT_PATIENT_EXTENSIONS.has(url)) kept.push(structuredClone(e));
      else if (url.endsWith('patient-mothersMaidenName')) this.run.count('names');
      else if (url.endsWith('patient-birthPlace')) this.run.count('geography');
    }
    if (kept.length > 0) this.out['extension'] = kept;
  }

  encounter(): FhirResource {
    this.keep('status', 'class', 'type', 'serviceType', 'priority', 'reasonCode', 'length');
    this.subject();
    this.dates(this.out, this.r, ['period']);
    if (this.r['location'] !== undefined || this.r['serviceProvider'] !== undefined) this.run.count('geography');
    return this.out as FhirResource;
  }

  private value(target: Json, source: Json, ageCode: boolean): void {
    for (const f of ['valueQuantity', 'valueCodeableConcept', 'valueBoolean', 'valueInteger', 'valueRange', 'valueRatio']) {
      if (source[f] !== undefined) target[f] = structuredClone(source[f]);
    }
    const q = target['valueQuantity'];
    if (ageCode && isObject(q) && typeof q['value'] === 'number' && q['value'] > 89) {
      q['value'] = 90;
      this.run.count('dates');
    }
    if (typeof source['valueString'] === 'string') target['valueString'] = this.text(source['valueString']);
    this.dates(target, source, ['valueDateTime', 'valuePeriod']);
  }

  observation(): FhirResource {
    const r = this.r;
    this.keep('status', 'category', 'code', 'interpretation', 'referenceRange', 'dataAbsentReason', 'bodySite', 'method');
    this.subject();
    this.encounterRef();
    this.dates(this.out, r, ['effectiveDateTime', 'effectivePeriod', 'effectiveInstant', 'issued'], ['effectiveInstant', 'issued']);
    const isAge = codings(r['code']).some((c) => c.code !== undefined && AGE_LOINC.has(c.code));
    this.value(this.out, r, isAge);
    if (Array.isArray(r['component'])) {
      this.out['component'] = (r['component'] as unknown[]).filter(isObject).map((c) => {
        const out: Json = { code: structuredClone(c['code']) };
        this.value(out, c, false);
        return out;
      });
    }
    if (r['device'] !== undefined) this.run.count('device');
    this.notes();
    return this.out as FhirResource;
  }

  condition(): FhirResource {
    const r = this.r;
    this.keep('clinicalStatus', 'verificationStatus', 'category', 'severity', 'code', 'bodySite');
    this.subject();
    this.encounterRef();
    this.dates(this.out, r, ['onsetDateTime', 'onsetPeriod', 'abatementDateTime', 'abatementPeriod', 'recordedDate']);
    for (const f of ['onsetAge', 'abatementAge']) {
      const a = r[f];
      if (isObject(a) && typeof a['value'] === 'number') this.out[f] = { ...structuredClone(a), value: Math.min(a['value'], 90) };
    }
    this.notes();
    return this.out as FhirResource;
  }

  procedure(): FhirResource {
    this.keep('status', 'category', 'code', 'bodySite', 'reasonCode', 'outcome');
    this.subject();
    this.encounterRef();
    this.dates(this.out, this.r, ['performedDateTime', 'performedPeriod']);
    if (this.r['location'] !== undefined) this.run.count('geography');
    this.notes();
    return this.out as FhirResource;
  }

  medicationRequest(): FhirResource {
    this.keep('status', 'intent', 'category', 'reasonCode', 'dosageInstruction');
    this.medication();
    this.subject();
    this.encounterRef();
    this.dates(this.out, this.r, ['authoredOn']);
    this.notes();
    return this.out as FhirResource;
  }

  /** MedicationAdministration and MedicationStatement: the drug, status and dose, dates shifted. */
  medicationUse(): FhirResource {
    this.keep('status', 'category', 'reasonCode', 'dosage');
    this.medication();
    this.subject();
    const context = this.ref(this.r['context'], 'Encounter');
    if (context !== undefined) this.out['context'] = context;
    this.dates(this.out, this.r, ['effectiveDateTime', 'effectivePeriod', 'dateAsserted']);
    if (this.r['performer'] !== undefined || this.r['informationSource'] !== undefined) this.run.count('names');
    this.notes();
    return this.out as FhirResource;
  }

  /**
   * `medication[x]`: the CodeableConcept as it is; a reference to a contained Medication with that
   * Medication's codes only; a reference to a Medication resource with its opaque id (the gate writes that
   * Medication too, see {@link medicationCode}).
   */
  private medication(): void {
    this.keep('medicationCodeableConcept');
    const ref = this.r['medicationReference'];
    if (!isObject(ref) || typeof ref['reference'] !== 'string') return;
    if (ref['reference'].startsWith('#')) {
      const id = ref['reference'].slice(1);
      const med = (Array.isArray(this.r['contained']) ? (this.r['contained'] as unknown[]) : []).filter(isObject).find((c) => c['resourceType'] === 'Medication' && c['id'] === id);
      if (med === undefined) return;
      this.out['contained'] = [medicationCode(med as FhirResource, id)];
      this.out['medicationReference'] = { reference: ref['reference'] };
      return;
    }
    const out = this.ref(ref, 'Medication');
    if (out !== undefined) this.out['medicationReference'] = out;
  }

  imagingStudy(): FhirResource {
    const r = this.r;
    this.keep('status', 'modality', 'numberOfSeries', 'numberOfInstances', 'procedureCode', 'reasonCode');
    const ids: Json[] = [];
    for (const id of Array.isArray(r['identifier']) ? (r['identifier'] as unknown[]) : []) {
      if (!isObject(id) || typeof id['value'] !== 'string') continue;
      const m = /^urn:oid:([0-2](?:\.\d+)+)$/.exec(id['value']);
      if (m?.[1] !== undefined) ids.push({ system: 'urn:dicom:uid', value: `urn:oid:${this.run.dicomUid(m[1])}` });
    }
    if (ids.length > 0) this.out['identifier'] = ids;
    this.subject();
    this.encounterRef();
    this.dates(this.out, r, ['started']);
    const description = this.text(r['description']);
    if (description !== undefined) this.out['description'] = description;
    if (Array.isArray(r['series'])) this.out['series'] = (r['series'] as unknown[]).filter(isObject).map((s) => this.series(s));
    if (r['location'] !== undefined) this.run.count('geography');
    return this.out as FhirResource;
  }

  private series(s: Json): Json {
    const out: Json = { uid: this.run.dicomUid(String(s['uid'])) };
    for (const f of ['number', 'modality', 'numberOfInstances', 'bodySite', 'laterality']) if (s[f] !== undefined) out[f] = structuredClone(s[f]);
    const d = this.text(s['description']);
    if (d !== undefined) out['description'] = d;
    this.dates(out, s, ['started']);
    if (Array.isArray(s['instance'])) {
      out['instance'] = (s['instance'] as unknown[]).filter(isObject).map((i) => {
        const inst: Json = { uid: this.run.dicomUid(String(i['uid'])) };
        if (i['sopClass'] !== undefined) inst['sopClass'] = structuredClone(i['sopClass']);
        if (i['number'] !== undefined) inst['number'] = i['number'];
        const title = this.text(i['title']);
        if (title !== undefined) inst['title'] = title;
        return inst;
      });
    }
    if (s['performer'] !== undefined) this.run.count('names');
    return out;
  }

  /** Scrubs a text attachment; drops any other (images are photos, other binaries cannot be checked). */
  attachment(a: unknown): Json | undefined {
    if (!isObject(a)) return undefined;
    if (a['url'] !== undefined) this.run.count('url');
    const type = typeof a['contentType'] === 'string' ? a['contentType'].toLowerCase() : '';
    if (typeof a['data'] !== 'string' || !(type.startsWith('text/') || type === '')) {
      this.run.count(type.startsWith('image/') || type.startsWith('video/') ? 'photo' : 'biometric');
      return undefined;
    }
    const text = Buffer.from(a['data'], 'base64').toString('utf8');
    const out: Json = { contentType: type === '' ? 'text/plain; charset=utf-8' : a['contentType'] };
    out['data'] = Buffer.from(this.run.scrub(text, this.known), 'utf8').toString('base64');
    const title = this.text(a['title']);
    if (title !== undefined) out['title'] = title;
    this.dates(out, a, ['creation']);
    return out;
  }

  diagnosticReport(): FhirResource {
    const r = this.r;
    this.keep('status', 'category', 'code', 'conclusionCode');
    this.subject();
    this.encounterRef();
    this.dates(this.out, r, ['effectiveDateTime', 'effectivePeriod', 'issued'], ['issued']);
    const result = this.refs(r['result'], 'Observation');
    if (result.length > 0) this.out['result'] = result;
    const studies = this.refs(r['imagingStudy'], 'ImagingStudy');
    if (studies.length > 0) this.out['imagingStudy'] = studies;
    const conclusion = this.text(r['conclusion']);
    if (conclusion !== undefined) this.out['conclusion'] = conclusion;
    if (Array.isArray(r['presentedForm'])) {
      const forms = (r['presentedForm'] as unknown[]).map((a) => this.attachment(a)).filter((a) => a !== undefined);
      if (forms.length > 0) this.out['presentedForm'] = forms;
    }
    return this.out as FhirResource;
  }

  documentReference(): FhirResource {
    const r = this.r;
    this.keep('status', 'docStatus', 'type', 'category');
    this.subject();
    this.dates(this.out, r, ['date'], ['date']);
    const description = this.text(r['description']);
    if (description !== undefined) this.out['description'] = description;
    const content = (r['content'] as unknown[]).filter(isObject).flatMap((c) => {
      const a = this.attachment(c['attachment']);
      return a === undefined ? [] : [{ attachment: a, ...(c['format'] !== undefined ? { format: structuredClone(c['format']) } : {}) }];
    });
    if (content.length === 0) throw new Refusal('content', 'holds no text attachment that could be scrubbed');
    this.out['content'] = content;
    const context = r['context'];
    if (isObject(context)) {
      const out: Json = {};
      const encounters = this.refs(context['encounter'], 'Encounter');
      if (encounters.length > 0) out['encounter'] = encounters;
      this.dates(out, context, ['period']);
      for (const f of ['event', 'facilityType', 'practiceSetting']) if (context[f] !== undefined) out[f] = structuredClone(context[f]);
      this.out['context'] = out;
    }
    return this.out as FhirResource;
  }
}

/** The `display` strings of every reference in a resource (practitioner and organisation names). */
function referenceDisplays(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) referenceDisplays(v, out);
  else if (isObject(value)) {
    const ref = value['reference'];
    if (typeof ref === 'string' && ref.includes('Practitioner') && typeof value['display'] === 'string') {
      out.push(value['display'].replace(/^(Dr|Mr|Mrs|Ms)\.\s*/, ''));
    }
    for (const v of Object.values(value)) if (typeof v === 'object') referenceDisplays(v, out);
  }
  return out;
}
