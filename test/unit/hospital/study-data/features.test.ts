import { describe, expect, it } from 'vitest';
import { FeatureSpecSchema, type FeatureSpec } from '../../../../site-agent/src/hospital/study-data/feature-spec.js';
import { parseConfigText, validateConfig } from '../../../../shared/src/config/validate.js';
import { ageInYears } from '../../../../site-agent/src/hospital/deid/date-shift.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { SafeHarbor } from '../../../../site-agent/src/hospital/deid/safe-harbor.js';
import { buildFeatureTable, linkByPseudonym } from '../../../../site-agent/src/hospital/study-data/features.js';
import type { FhirResource } from '../../../../site-agent/src/hospital/emr/fhir-resource.js';
import { subjectId, syntheaCsv } from '../emr/synthea-fixture.js';

type Json = Record<string, unknown>;
const pseudonymizer = new PatientPseudonymizer({ secret: new Uint8Array(32).fill(5) });

const SPEC_YAML = `
observations:
  - { loinc: '39156-5', name: bmi, aggregate: last, missing: { strategy: mean, indicator: true } }
  - { loinc: '8480-6', name: systolic_mean, aggregate: mean }
  - { loinc: '4548-4', name: hba1c, aggregate: max, missing: { strategy: constant, value: -1 } }
conditions:
  - { name: obesity, codes: [{ system: snomed, code: '162864005' }] }
demographics: [age, sex]
label: { kind: condition, codes: [{ system: snomed, code: '59621000' }, { system: icd10, code: 'I10' }] }
`;

describe('feature spec (TypeBox)', () => {
  it('parses with defaults filled', () => {
    const spec = parseConfigText(FeatureSpecSchema, SPEC_YAML, 'features.yaml');
    expect(spec.observations[1]).toEqual({ loinc: '8480-6', name: 'systolic_mean', aggregate: 'mean', missing: { strategy: 'mean', indicator: false } });
    expect(spec.label?.kind).toBe('condition');
  });

  it('names the bad field: unknown keys, bad LOINC, bad aggregation', () => {
    expect(() => validateConfig(FeatureSpecSchema, { observations: [{ loinc: 'x', name: 'a' }] }, 'f.yaml')).toThrow(/f\.yaml: \/observations\/0\/loinc/);
    expect(() => validateConfig(FeatureSpecSchema, { colour: 1 }, 'f.yaml')).toThrow(/unknown key 'colour' at \//);
    expect(() => validateConfig(FeatureSpecSchema, { observations: [{ loinc: '1-2', name: 'a', aggregate: 'median' }] }, 'f.yaml')).toThrow(/aggregate/);
  });

  it('refuses duplicate feature names and a constant without a value', () => {
    const dup = validateConfig(FeatureSpecSchema, { observations: [{ loinc: '1-2', name: 'age' }], demographics: ['age'] }, 'f');
    expect(() => buildFeatureTable(dup as FeatureSpec, [])).toThrow(/'age' is used twice/);
    const constant = validateConfig(FeatureSpecSchema, { observations: [{ loinc: '1-2', name: 'a', missing: { strategy: 'constant' } }] }, 'f');
    expect(() => buildFeatureTable(constant as FeatureSpec, [])).toThrow(/without a value/);
  });
});

describe('features from de-identified Synthea records', async () => {
  const csv = await syntheaCsv();
  const raw = csv.resources.map((r) => r.resource);
  const gate = new SafeHarbor({ pseudonymizer, today: '2022-03-04' });
  const deid = gate.deidentify(csv.resources);
  const spec = parseConfigText(FeatureSpecSchema, SPEC_YAML, 'features.yaml') as FeatureSpec;
  const table = buildFeatureTable(spec, deid.resources);
  const col = (name: string): number => table.columns.indexOf(name);
  const row = (rawId: string): Float32Array => {
    const i = table.patients.indexOf(deid.pseudonyms.get(rawId)!);
    return table.x.subarray(i * table.columns.length, (i + 1) * table.columns.length);
  };

  it('has one row per patient, the declared columns and a 0/1 label', () => {
    expect(table.columns).toEqual(['bmi', 'bmi_missing', 'systolic_mean', 'hba1c', 'obesity', 'age', 'sex_female']);
    expect(table.patients).toHaveLength(59);
    expect(table.x).toHaveLength(59 * 7);
    expect(table.y).toHaveLength(59);
    expect(new Set(table.y)).toEqual(new Set([0, 1]));
    expect(table.x.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('matches values computed independently from the raw (identified) CSV records', () => {
    const patients = raw.filter((r) => r.resourceType === 'Patient');
    let checked = 0;
    for (const p of patients) {
      const id = String(p.id);
      const mine = raw.filter((r) => subjectId(r) === id);
      const bmi = mine
        .filter((r) => r.resourceType === 'Observation' && (r['code'] as { coding: Json[] }).coding[0]?.['code'] === '39156-5')
        .sort((a, b) => Date.parse(String(a['effectiveDateTime'])) - Date.parse(String(b['effectiveDateTime'])));
      const r = row(id);
      if (bmi.length > 0) {
        expect(r[col('bmi')]).toBeCloseTo(Number((bmi[bmi.length - 1]!['valueQuantity'] as Json)['value']), 4);
        expect(r[col('bmi_missing')]).toBe(0);
        checked++;
      } else expect(r[col('bmi_missing')]).toBe(1);
      const hypertension = mine.some((x) => x.resourceType === 'Condition' && (x['code'] as { coding: Json[] }).coding[0]?.['code'] === '59621000');
      expect(table.y![table.patients.indexOf(deid.pseudonyms.get(id)!)]).toBe(hypertension ? 1 : 0);
      expect(r[col('sex_female')]).toBe(p['gender'] === 'female' ? 1 : 0);
      // Age on shifted dates equals age on the real dates: birth and record dates move together.
      const dateOf = (x: FhirResource): unknown => x['effectiveDateTime'] ?? (x['period'] as Json | undefined)?.['start'] ?? x['onsetDateTime'] ?? x['started'];
      const latest = mine.map(dateOf).filter((d): d is string => typeof d === 'string').sort((a, b) => Date.parse(a) - Date.parse(b)).pop();
      const at = typeof p['deceasedDateTime'] === 'string' ? p['deceasedDateTime'] : latest!;
      const realAge = Math.min(ageInYears(String(p['birthDate']), at)!, 90);
      expect(Math.abs(r[col('age')]! - realAge)).toBeLessThanOrEqual(1);
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('fills missing values by the declared strategy', () => {
    const hba1c = table.patients.map((_, i) => table.x[i * table.columns.length + col('hba1c')]);
    expect(hba1c).toContain(-1);
    const missingBmi = table.patients.map((_, i) => i).filter((i) => table.x[i * table.columns.length + col('bmi_missing')] === 1);
    const present = table.patients.map((_, i) => i).filter((i) => !missingBmi.includes(i)).map((i) => table.x[i * table.columns.length + col('bmi')]!);
    const mean = present.reduce((a, b) => a + b, 0) / present.length;
    for (const i of missingBmi) expect(table.x[i * table.columns.length + col('bmi')]).toBeCloseTo(mean, 3);
    const drop = buildFeatureTable({ ...spec, observations: [{ loinc: '4548-4', name: 'hba1c', aggregate: 'last', missing: { strategy: 'drop', indicator: false } }] }, deid.resources);
    expect(drop.patients.length + drop.dropped.length).toBe(59);
    expect(drop.dropped[0]?.reason).toBe("no value for 'hba1c' (missing strategy drop)");
  });

  it('links imaging to EMR rows by the keyed pseudonym of the DICOM PatientID (= MRN)', () => {
    const studies = raw.filter((r) => r.resourceType === 'ImagingStudy');
    expect(studies.length).toBeGreaterThan(0);
    // The DICOM side pseudonymises PatientID with the same site secret; Synthea's MRN is the Patient id.
    const imageKeys = studies.map((s) => pseudonymizer.pseudonym(subjectId(s)!));
    const other = new PatientPseudonymizer({ secret: new Uint8Array(32).fill(6) }).pseudonym(subjectId(studies[0]!)!);
    const { rows, unmatched } = linkByPseudonym(table, [...imageKeys, other]);
    expect(rows.slice(0, imageKeys.length).every((r) => r !== undefined)).toBe(true);
    expect(unmatched).toEqual([other]);
    // The de-identified ImagingStudy points at the same pseudonym.
    const deidStudies = deid.resources.filter((r: FhirResource) => r.resourceType === 'ImagingStudy');
    expect(new Set(deidStudies.map((s) => subjectId(s)))).toEqual(new Set(imageKeys));
  });
});
