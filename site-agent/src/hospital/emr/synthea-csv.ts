/**
 * Synthea CSV export → FHIR R4 resources, so CSV and FHIR exports pass one de-identification gate.
 *
 * Tables read (others in the folder are left alone and listed as skipped): patients.csv, encounters.csv,
 * observations.csv, conditions.csv, procedures.csv (SNOMED CT), medications.csv (RxNorm), imaging_studies.csv (one row per instance, grouped into studies and
 * series). Columns follow the Synthea CSV data dictionary. A bad row becomes an {@link EmrIssue} naming
 * file, line and column (never the value) and is skipped.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsvRecords } from './csv-records.js';
import type { ParsedExport, SourcedResource } from './fhir-parse.js';
import { CodeSystem, isFhirDate, isFhirDateTime, validateResource, type EmrIssue, type FhirResource } from './fhir-resource.js';

/** The Synthea CSV tables the reader converts. */
export const SYNTHEA_TABLES = ['patients', 'encounters', 'observations', 'conditions', 'procedures', 'medications', 'imaging_studies'] as const;

const MR_TYPE = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }], text: 'Medical Record Number' };
const v20203 = (code: string, text: string): Record<string, unknown> => ({
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code }],
  text,
});

class RowError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Column access for one row; throws {@link RowError} naming the column. */
class Row {
  constructor(
    private readonly header: Map<string, number>,
    private readonly fields: string[],
  ) {}
  opt(col: string): string | undefined {
    const i = this.header.get(col);
    const v = i === undefined ? undefined : this.fields[i]?.trim();
    return v === undefined || v === '' ? undefined : v;
  }
  req(col: string): string {
    const v = this.opt(col);
    if (v === undefined) throw new RowError(col, 'is required but empty');
    return v;
  }
  dateTime(col: string, required: boolean): string | undefined {
    const v = required ? this.req(col) : this.opt(col);
    if (v !== undefined && !isFhirDateTime(v)) throw new RowError(col, 'is not an ISO 8601 date or date-time');
    return v;
  }
  date(col: string, required: boolean): string | undefined {
    const v = required ? this.req(col) : this.opt(col);
    if (v !== undefined && !isFhirDate(v)) throw new RowError(col, 'is not an ISO 8601 date (YYYY-MM-DD)');
    return v;
  }
}

const patientRef = (id: string): Record<string, string> => ({ reference: `urn:uuid:${id}` });
const snomed = (code: string, display: string | undefined): Record<string, unknown> => ({
  coding: [{ system: CodeSystem.SNOMED_CT, code, ...(display !== undefined ? { display } : {}) }],
  ...(display !== undefined ? { text: display } : {}),
});

function patient(r: Row): FhirResource {
  const id = r.req('Id');
  const gender = r.opt('GENDER');
  if (gender !== undefined && gender !== 'M' && gender !== 'F') throw new RowError('GENDER', 'must be M or F');
  const lat = r.opt('LAT');
  const lon = r.opt('LON');
  const identifier: unknown[] = [{ type: MR_TYPE, system: 'https://github.com/synthetichealth/synthea', value: id }];
  const ssn = r.opt('SSN');
  if (ssn !== undefined) identifier.push({ type: v20203('SS', 'Social Security Number'), system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn });
  const dl = r.opt('DRIVERS');
  if (dl !== undefined) identifier.push({ type: v20203('DL', "Driver's license number"), value: dl });
  const ppn = r.opt('PASSPORT');
  if (ppn !== undefined) identifier.push({ type: v20203('PPN', 'Passport Number'), value: ppn });
  const names: unknown[] = [
    {
      use: 'official',
      family: r.req('LAST'),
      given: [r.req('FIRST')],
      ...(r.opt('PREFIX') !== undefined ? { prefix: [r.opt('PREFIX')] } : {}),
      ...(r.opt('SUFFIX') !== undefined ? { suffix: [r.opt('SUFFIX')] } : {}),
    },
  ];
  const maiden = r.opt('MAIDEN');
  if (maiden !== undefined) names.push({ use: 'maiden', family: maiden, given: [r.req('FIRST')] });
  const deceased = r.date('DEATHDATE', false);
  return {
    resourceType: 'Patient',
    id,
    identifier,
    name: names,
    ...(gender !== undefined ? { gender: gender === 'M' ? 'male' : 'female' } : {}),
    birthDate: r.date('BIRTHDATE', true),
    ...(deceased !== undefined ? { deceasedDateTime: deceased } : {}),
    address: [
      {
        ...(r.opt('ADDRESS') !== undefined ? { line: [r.opt('ADDRESS')] } : {}),
        city: r.opt('CITY'),
        district: r.opt('COUNTY'),
        state: r.opt('STATE'),
        postalCode: r.opt('ZIP'),
        country: 'US',
        ...(lat !== undefined && lon !== undefined
          ? {
              extension: [
                {
                  url: 'http://hl7.org/fhir/StructureDefinition/geolocation',
                  extension: [
                    { url: 'latitude', valueDecimal: Number(lat) },
                    { url: 'longitude', valueDecimal: Number(lon) },
                  ],
                },
              ],
            }
          : {}),
      },
    ],
    extension: [
      ...(r.opt('RACE') !== undefined
        ? [{ url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race', extension: [{ url: 'text', valueString: r.opt('RACE') }] }]
        : []),
      ...(r.opt('ETHNICITY') !== undefined
        ? [{ url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity', extension: [{ url: 'text', valueString: r.opt('ETHNICITY') }] }]
        : []),
      ...(r.opt('BIRTHPLACE') !== undefined
        ? [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { text: r.opt('BIRTHPLACE') } }]
        : []),
    ],
  };
}

function encounter(r: Row): FhirResource {
  const start = r.dateTime('START', true);
  const end = r.dateTime('STOP', false);
  const reason = r.opt('REASONCODE');
  return {
    resourceType: 'Encounter',
    id: r.req('Id'),
    status: 'finished',
    class: { code: r.req('ENCOUNTERCLASS') },
    type: [snomed(r.req('CODE'), r.opt('DESCRIPTION'))],
    subject: patientRef(r.req('PATIENT')),
    period: { start, ...(end !== undefined ? { end } : {}) },
    ...(reason !== undefined ? { reasonCode: [snomed(reason, r.opt('REASONDESCRIPTION'))] } : {}),
  };
}

/** LOINC codes are digits, a hyphen and a check digit; Synthea also writes QALY, DALY and QOLS rows. */
const LOINC_CODE = /^\d{1,7}-\d$/;

function observation(r: Row, line: number): FhirResource | undefined {
  if (!LOINC_CODE.test(r.req('CODE'))) return undefined;
  const type = r.opt('TYPE') ?? 'text';
  const raw = r.req('VALUE');
  let value: Record<string, unknown>;
  if (type === 'numeric') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new RowError('VALUE', 'is not a number although TYPE is numeric');
    value = { valueQuantity: { value: n, ...(r.opt('UNITS') !== undefined ? { unit: r.opt('UNITS') } : {}) } };
  } else value = { valueString: raw };
  const encounterId = r.opt('ENCOUNTER');
  const category = r.opt('CATEGORY');
  return {
    resourceType: 'Observation',
    id: `csv-observation-${line}`,
    status: 'final',
    ...(category !== undefined ? { category: [{ coding: [{ code: category }] }] } : {}),
    code: { coding: [{ system: CodeSystem.LOINC, code: r.req('CODE'), display: r.opt('DESCRIPTION') }] },
    subject: patientRef(r.req('PATIENT')),
    ...(encounterId !== undefined ? { encounter: { reference: `urn:uuid:${encounterId}` } } : {}),
    effectiveDateTime: r.dateTime('DATE', true),
    ...value,
  };
}

function condition(r: Row, line: number): FhirResource {
  const stop = r.date('STOP', false) ?? r.dateTime('STOP', false);
  const encounterId = r.opt('ENCOUNTER');
  return {
    resourceType: 'Condition',
    id: `csv-condition-${line}`,
    code: snomed(r.req('CODE'), r.opt('DESCRIPTION')),
    subject: patientRef(r.req('PATIENT')),
    ...(encounterId !== undefined ? { encounter: { reference: `urn:uuid:${encounterId}` } } : {}),
    onsetDateTime: r.dateTime('START', true),
    ...(stop !== undefined ? { abatementDateTime: stop } : {}),
  };
}

function procedure(r: Row, line: number): FhirResource {
  const encounterId = r.opt('ENCOUNTER');
  const stop = r.dateTime('STOP', false);
  const start = r.dateTime('START', false) ?? r.dateTime('DATE', true);
  return {
    resourceType: 'Procedure',
    id: `csv-procedure-${line}`,
    status: 'completed',
    code: snomed(r.req('CODE'), r.opt('DESCRIPTION')),
    subject: patientRef(r.req('PATIENT')),
    ...(encounterId !== undefined ? { encounter: { reference: `urn:uuid:${encounterId}` } } : {}),
    ...(stop !== undefined ? { performedPeriod: { start, end: stop } } : { performedDateTime: start }),
  };
}

function medication(r: Row, line: number): FhirResource {
  const encounterId = r.opt('ENCOUNTER');
  return {
    resourceType: 'MedicationRequest',
    id: `csv-medication-${line}`,
    status: r.opt('STOP') !== undefined ? 'completed' : 'active',
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: r.req('CODE'), display: r.opt('DESCRIPTION') }] },
    subject: patientRef(r.req('PATIENT')),
    ...(encounterId !== undefined ? { encounter: { reference: `urn:uuid:${encounterId}` } } : {}),
    authoredOn: r.dateTime('START', true),
  };
}

/** imaging_studies.csv has one row per instance: rows with the same Id make one study. */
function imagingInstance(r: Row, studies: Map<string, Record<string, unknown>>): void {
  const id = r.req('Id');
  const seriesUid = r.req('SERIES_UID');
  const instance = { uid: r.req('INSTANCE_UID'), sopClass: { system: 'urn:ietf:rfc:3986', code: r.req('SOP_CODE') } };
  const started = r.dateTime('DATE', true);
  let study = studies.get(id);
  if (study === undefined) {
    const procedure = r.opt('PROCEDURE_CODE');
    study = {
      resourceType: 'ImagingStudy',
      id,
      status: 'available',
      subject: patientRef(r.req('PATIENT')),
      started,
      ...(procedure !== undefined ? { procedureCode: [snomed(procedure, undefined)] } : {}),
      series: [] as Record<string, unknown>[],
    };
    studies.set(id, study);
  }
  const series = study['series'] as Record<string, unknown>[];
  let s = series.find((x) => x['uid'] === seriesUid);
  if (s === undefined) {
    s = {
      uid: seriesUid,
      modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: r.req('MODALITY_CODE'), display: r.opt('MODALITY_DESCRIPTION') },
      bodySite: { system: CodeSystem.SNOMED_CT, code: r.opt('BODYSITE_CODE'), display: r.opt('BODYSITE_DESCRIPTION') },
      started,
      instance: [] as unknown[],
    };
    series.push(s);
  }
  (s['instance'] as unknown[]).push(instance);
}

const REQUIRED_COLUMNS: Record<(typeof SYNTHEA_TABLES)[number], string[]> = {
  patients: ['Id', 'BIRTHDATE', 'FIRST', 'LAST'],
  encounters: ['Id', 'START', 'PATIENT', 'ENCOUNTERCLASS', 'CODE'],
  observations: ['DATE', 'PATIENT', 'CODE', 'VALUE'],
  conditions: ['START', 'PATIENT', 'CODE'],
  procedures: ['PATIENT', 'CODE'],
  medications: ['START', 'PATIENT', 'CODE'],
  imaging_studies: ['Id', 'DATE', 'PATIENT', 'SERIES_UID', 'MODALITY_CODE', 'INSTANCE_UID', 'SOP_CODE'],
};

/** Converts one Synthea CSV table's text into FHIR resources. */
export function parseSyntheaTable(table: (typeof SYNTHEA_TABLES)[number], text: string, file: string): ParsedExport {
  const resources: SourcedResource[] = [];
  const issues: EmrIssue[] = [];
  const { records, unterminatedAt } = parseCsvRecords(text);
  if (unterminatedAt !== undefined) {
    issues.push({ file, location: `line ${unterminatedAt}`, reason: 'has a quoted field that is never closed; the rest of the file is skipped' });
  }
  const [head, ...rows] = records;
  if (head === undefined) return { resources, issues: [{ file, location: 'file', reason: 'is empty' }], skipped: {} };
  const header = new Map(head.fields.map((name, i) => [name.trim(), i]));
  const missing = REQUIRED_COLUMNS[table].filter((c) => !header.has(c));
  if (missing.length > 0) {
    return { resources, issues: [{ file, location: 'line 1', field: missing.join(', '), reason: 'header lacks required column(s)' }], skipped: {} };
  }
  const skipped: Record<string, number> = {};
  const studies = new Map<string, Record<string, unknown>>();
  const studyLines = new Map<string, number>();
  for (const rec of rows) {
    const location = `line ${rec.line}`;
    if (rec.fields.length !== head.fields.length) {
      issues.push({ file, location, reason: `has ${rec.fields.length} fields, the header has ${head.fields.length}` });
      continue;
    }
    const row = new Row(header, rec.fields);
    try {
      let resource: FhirResource | undefined;
      if (table === 'patients') resource = patient(row);
      else if (table === 'encounters') resource = encounter(row);
      else if (table === 'observations') {
        resource = observation(row, rec.line);
        if (resource === undefined) skipped['csv:observations (code not LOINC)'] = (skipped['csv:observations (code not LOINC)'] ?? 0) + 1;
      }
      else if (table === 'conditions') resource = condition(row, rec.line);
      else if (table === 'procedures') resource = procedure(row, rec.line);
      else if (table === 'medications') resource = medication(row, rec.line);
      else {
        imagingInstance(row, studies);
        if (!studyLines.has(row.req('Id'))) studyLines.set(row.req('Id'), rec.line);
      }
      if (resource !== undefined) push(resource, location);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      issues.push({ file, location, resourceType: table, field: err.field, reason: err.reason });
    }
  }
  for (const [id, study] of studies) push(study as unknown as FhirResource, `line ${studyLines.get(id) ?? 0}`);
  return { resources, issues, skipped };

  function push(resource: FhirResource, location: string): void {
    const problems = validateResource(resource);
    if (problems.length === 0) resources.push({ resource, file, location });
    for (const p of problems) issues.push({ file, location, resourceType: resource.resourceType, field: p.field, reason: p.reason });
  }
}

/** Reads every known table in a Synthea CSV folder; unknown CSV files are reported in `skipped`. */
export async function readSyntheaCsvDir(dir: string): Promise<ParsedExport> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.csv')).sort();
  const resources: SourcedResource[] = [];
  const issues: EmrIssue[] = [];
  const skipped: Record<string, number> = {};
  for (const name of names) {
    const table = name.slice(0, -4) as (typeof SYNTHEA_TABLES)[number];
    const file = path.join(dir, name);
    if (!SYNTHEA_TABLES.includes(table)) {
      skipped[`csv:${table}`] = 1;
      continue;
    }
    const part = parseSyntheaTable(table, await readFile(file, 'utf8'), file);
    resources.push(...part.resources);
    issues.push(...part.issues);
    for (const [k, n] of Object.entries(part.skipped)) skipped[k] = (skipped[k] ?? 0) + n;
  }
  return { resources, issues, skipped };
}
