import { describe, expect, it } from 'vitest';
import type { FhirResource } from '../../../../site-agent/src/hospital/emr/fhir-resource.js';
import { parseSyntheaTable } from '../../../../site-agent/src/hospital/emr/synthea-csv.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { SafeHarbor } from '../../../../site-agent/src/hospital/deid/safe-harbor.js';
import { subjectId, syntheaCsv, syntheaFhir } from '../../../unit/hospital/emr/synthea-fixture.js';

type Json = Record<string, unknown>;
const instant = (v: unknown): number => Date.parse(String(v));

/** Multiset keys per patient for the elements both exports carry. */
function keys(resources: readonly FhirResource[], patient: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (k: string, v: string): void => void out.set(k, [...(out.get(k) ?? []), v].sort());
  for (const r of resources) {
    if (subjectId(r) !== patient) continue;
    if (r.resourceType === 'Patient') add('patient', `${String(r['gender'])} ${String(r['birthDate'])}`);
    if (r.resourceType === 'Encounter') add('encounter', String(instant((r['period'] as Json)['start'])));
    if (r.resourceType === 'Condition') {
      add('condition', `${String((r['code'] as { coding: Json[] }).coding[0]?.['code'])} ${String(r['onsetDateTime']).slice(0, 10)}`);
    }
    if (r.resourceType === 'ImagingStudy') {
      add('study', `${instant(r['started'])} ${(r['series'] as Json[]).map((s) => String(s['uid'])).join(',')}`);
    }
  }
  return out;
}

/** Observations as code@instant → numeric values, components flattened (FHIR panels, e.g. blood pressure). */
function numericObservations(resources: readonly FhirResource[], patient: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of resources) {
    if (r.resourceType !== 'Observation' || subjectId(r) !== patient) continue;
    const parts = Array.isArray(r['component']) ? (r['component'] as Json[]) : [r as Json];
    for (const p of parts) {
      const v = (p['valueQuantity'] as Json | undefined)?.['value'];
      if (typeof v !== 'number') continue;
      const k = `${String((p['code'] as { coding: Json[] }).coding[0]?.['code'])}@${instant(r['effectiveDateTime'])}`;
      out.set(k, [...(out.get(k) ?? []), v]);
    }
  }
  return out;
}

describe('Synthea CSV reader', () => {
  it('converts the seven tables without issues and skips the others', async () => {
    const csv = await syntheaCsv();
    expect(csv.issues).toEqual([]);
    const count = (t: string): number => csv.resources.filter((r) => r.resource.resourceType === t).length;
    expect(count('Patient')).toBe(59);
    expect(count('Encounter')).toBe(2590);
    expect(count('Condition')).toBe(1534);
    // procedures.csv (SNOMED CT) and medications.csv (RxNorm), for cohort criteria on Procedures and Medications.
    expect(count('Procedure')).toBe(4637);
    expect(count('MedicationRequest')).toBe(1772);
    expect(count('ImagingStudy')).toBeGreaterThan(0);
    expect(csv.skipped['csv:claims']).toBe(1);
    // Synthea's QALY / DALY / QOLS rows carry no LOINC code: skipped, not errors.
    expect(csv.skipped['csv:observations (code not LOINC)']).toBeGreaterThan(0);
  });

  it('agrees with the FHIR export for the 16 patients present in both, before and after de-identification', async () => {
    const fhir = syntheaFhir().resources.map((r) => r.resource);
    const csv = (await syntheaCsv()).resources.map((r) => r.resource);
    const patients = fhir.filter((r) => r.resourceType === 'Patient').map((r) => String(r.id));
    expect(patients).toHaveLength(16);
    let compared = 0;
    for (const p of patients) {
      expect(keys(csv, p)).toEqual(keys(fhir, p));
      const fromFhir = numericObservations(fhir, p);
      for (const [k, values] of numericObservations(csv, p)) {
        // CSV values are rounded: each must match a FHIR value of the same code and instant.
        const candidates = fromFhir.get(k) ?? [];
        for (const v of values) expect(candidates.some((c) => Math.abs(c - v) <= 0.051 * Math.max(1, Math.abs(c)))).toBe(true);
        compared += values.length;
      }
    }
    expect(compared).toBeGreaterThan(1000);

    const gate = new SafeHarbor({ pseudonymizer: new PatientPseudonymizer({ secret: new Uint8Array(32).fill(3) }), today: '2022-03-04' });
    const a = gate.deidentify(syntheaFhir().resources);
    const b = gate.deidentify((await syntheaCsv()).resources);
    for (const p of patients) {
      const pseudonym = a.pseudonyms.get(p);
      expect(pseudonym).toBeDefined();
      expect(b.pseudonyms.get(p)).toBe(pseudonym);
      expect(keys(b.resources, pseudonym!)).toEqual(keys(a.resources, pseudonym!));
    }
  });

  it('reports bad rows by file, line and column without the value, and keeps the good rows', () => {
    const text = [
      'Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION',
      'e1,2021-08-23T03:26:50Z,,p1,o,pr,pa,wellness,410620009,"Well child visit, first"',
      'e2,SECRET-DATE,,p1,o,pr,pa,wellness,410620009,x',
      'e3,2021-08-23T03:26:50Z,,,o,pr,pa,wellness,410620009,x',
      'e4,2021-08-23T03:26:50Z,,p1,o',
      '"e5,2021-08-23',
    ].join('\n');
    const parsed = parseSyntheaTable('encounters', text, 'encounters.csv');
    expect(parsed.resources.map((r) => r.resource.id)).toEqual(['e1']);
    expect(parsed.issues).toEqual([
      { file: 'encounters.csv', location: 'line 6', reason: 'has a quoted field that is never closed; the rest of the file is skipped' },
      { file: 'encounters.csv', location: 'line 3', resourceType: 'encounters', field: 'START', reason: 'is not an ISO 8601 date or date-time' },
      { file: 'encounters.csv', location: 'line 4', resourceType: 'encounters', field: 'PATIENT', reason: 'is required but empty' },
      { file: 'encounters.csv', location: 'line 5', reason: 'has 5 fields, the header has 10' },
    ]);
    expect(JSON.stringify(parsed.issues)).not.toMatch(/SECRET/);
    expect(parseSyntheaTable('patients', 'Id,FIRST\n1,a\n', 'patients.csv').issues).toEqual([
      { file: 'patients.csv', location: 'line 1', field: 'BIRTHDATE, LAST', reason: 'header lacks required column(s)' },
    ]);
  });
});
