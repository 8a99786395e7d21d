import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { validateConfig } from '../../../../shared/src/config/validate.js';
import { StudyDataSchema, type StudyData } from '../../../../shared/src/study/study-data-spec.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { parseCsvRecords } from '../../../../site-agent/src/hospital/emr/csv-records.js';
import { ingestEmr, readEmrCache } from '../../../../site-agent/src/hospital/ingest/emr-ingest.js';
import { evaluateStudyData, type StudyDataResult } from '../../../../site-agent/src/hospital/study-data/evaluate.js';
import { EMPTY_MAPPING } from '../../../../site-agent/src/hospital/study-data/mapping.js';

const SYNTHEA = path.join(sharedDataDir(), 'emr', 'synthea');
const SECRET = new Uint8Array(32).fill(5);
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
/** Acetaminophen 325 MG Oral Tablet and Ibuprofen 100 MG Oral Tablet, the drugs most Synthea patients here had. */
const ACETAMINOPHEN = '313782';
const IBUPROFEN = '198405';

const work = mkdtempSync(path.join(os.tmpdir(), 'tessera-meds-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Json = Record<string, unknown>;

/**
 * A study on the patients with a record of `code` (any medication record type), indexed at the first one:
 * label = an ibuprofen record after it, features = age and an ibuprofen record up to it.
 */
function medicationStudy(code: string, extra: Partial<Record<keyof StudyData, unknown>> = {}): StudyData {
  return validateConfig(
    StudyDataSchema,
    {
      kind: 'emr',
      cohort: { include: [{ resource: 'Medication', codes: [{ system: 'rxnorm', code }] }] },
      index: { event: 'first-medication', codes: [{ system: 'rxnorm', code }] },
      windows: { features: { lookbackDays: 36_500, lookaheadDays: 0 }, label: { lookbackDays: 0, lookaheadDays: 36_500 } },
      features: { demographics: ['age'], codes: [{ name: 'ibuprofen', resource: 'Medication', codes: [{ system: 'rxnorm', code: IBUPROFEN }] }] },
      label: { type: 'binary', positive: { resource: 'Medication', codes: [{ system: 'rxnorm', code: IBUPROFEN }] } },
      split: { test: 0.25 },
      ...extra,
    },
    'test',
  );
}

async function ingestAndEvaluate(inDir: string, data: StudyData): Promise<{ result: StudyDataResult; written: Record<string, number>; refused: number }> {
  const outDir = path.join(work, `cache-${path.basename(inDir)}`);
  const report = await ingestEmr({ inDir, outDir, pseudonymizer: new PatientPseudonymizer({ secret: SECRET }), today: '2026-12-01' });
  const cache = await readEmrCache(outDir);
  const result = evaluateStudyData(data, cache.resources.map((r) => r.resource), { studyId: 'meds', secret: SECRET, mapping: EMPTY_MAPPING });
  return { result, written: report.written, refused: report.refused.length };
}

/**
 * The real Synthea bundles with every MedicationRequest re-expressed as another FHIR R4 medication record:
 * alternately a MedicationAdministration referencing a Medication resource added to the bundle
 * (`urn:uuid:`, as Synthea's transaction bundles reference) and a MedicationStatement with a contained
 * Medication; the drug, patient and date are the request's.
 */
function rewriteBundles(dir: string): { administrations: number; statements: number } {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  const counts = { administrations: 0, statements: 0 };
  for (const name of readdirSync(path.join(SYNTHEA, 'fhir')).filter((f) => f.endsWith('.json') && !f.startsWith('hospital') && !f.startsWith('practitioner'))) {
    const bundle = JSON.parse(readFileSync(path.join(SYNTHEA, 'fhir', name), 'utf8')) as { entry: { fullUrl?: string; resource: Json; request?: Json }[] };
    const added: { fullUrl: string; resource: Json }[] = [];
    for (const e of bundle.entry) {
      const r = e.resource;
      if (r['resourceType'] !== 'MedicationRequest') continue;
      const concept = r['medicationCodeableConcept'];
      const common = { id: r['id'], status: 'completed', subject: r['subject'], effectiveDateTime: r['authoredOn'] };
      if (n++ % 2 === 0) {
        const medId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
        added.push({ fullUrl: `urn:uuid:${medId}`, resource: { resourceType: 'Medication', id: medId, code: concept, batch: { lotNumber: 'LOT-123' } } });
        e.resource = { resourceType: 'MedicationAdministration', ...common, medicationReference: { reference: `urn:uuid:${medId}` } };
        counts.administrations++;
      } else {
        e.resource = { resourceType: 'MedicationStatement', ...common, contained: [{ resourceType: 'Medication', id: 'med', code: concept }], medicationReference: { reference: '#med' } };
        counts.statements++;
      }
    }
    bundle.entry.push(...added);
    writeFileSync(path.join(dir, name), JSON.stringify(bundle));
  }
  return counts;
}

describe('study data contract: medications from every FHIR R4 medication record and Synthea CSV', () => {
  it('reads MedicationAdministration (referenced Medication) and MedicationStatement (contained Medication) as it reads MedicationRequest, on the real Synthea bundles', async () => {
    // Arrange: the 16 real bundles as exported (MedicationRequest only), and the same records re-expressed.
    const original = path.join(work, 'fhir-requests');
    mkdirSync(original);
    for (const f of readdirSync(path.join(SYNTHEA, 'fhir'))) if (f.endsWith('.json') && !f.startsWith('hospital') && !f.startsWith('practitioner')) writeFileSync(path.join(original, f), readFileSync(path.join(SYNTHEA, 'fhir', f)));
    const rewritten = path.join(work, 'fhir-uses');
    const counts = rewriteBundles(rewritten);
    expect(counts.administrations).toBeGreaterThan(10);
    expect(counts.statements).toBeGreaterThan(10);
    // Act
    const a = await ingestAndEvaluate(original, medicationStudy(ACETAMINOPHEN));
    const b = await ingestAndEvaluate(rewritten, medicationStudy(ACETAMINOPHEN));
    // Assert: the gate kept every medication record, and the cohort, labels and features are the same.
    expect(b.refused).toBe(a.refused);
    expect(a.written['MedicationRequest']).toBe(35);
    expect(b.written['MedicationAdministration']).toBe(counts.administrations);
    expect(b.written['MedicationStatement']).toBe(counts.statements);
    expect(b.written['Medication']).toBe(counts.administrations);
    expect(a.result.counts.inCohort).toBe(5); // the five patients of these bundles with an acetaminophen order
    const rows = (r: StudyDataResult): unknown[] => r.rows.map((x) => [x.patient, x.y, x.raw, x.split]);
    expect(rows(b.result)).toEqual(rows(a.result));
    expect(b.result.counts.labelsPerClass).toEqual(a.result.counts.labelsPerClass);
    expect(b.result.counts.indexed).toBe(5);
    // Lot numbers of the referenced Medications do not pass the gate.
    const cache = readdirSync(path.join(work, 'cache-fhir-uses')).map((f) => readFileSync(path.join(work, 'cache-fhir-uses', f), 'utf8')).join('\n');
    expect(cache).not.toContain('LOT-123');
  });

  it('refuses a medication record whose medication[x] is missing or points at no contained Medication, naming the field, and ingests the rest', async () => {
    const dir = path.join(work, 'fhir-bad');
    mkdirSync(dir);
    const patient = { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-01-01' };
    const med = (id: string, extra: Json): Json => ({ resourceType: 'MedicationStatement', id, status: 'active', subject: { reference: 'Patient/p1' }, effectiveDateTime: '2020-01-01', ...extra });
    const lines = [patient, med('m1', {}), med('m2', { medicationReference: { reference: '#nope' } }), med('m3', { medicationCodeableConcept: { coding: [{ system: RXNORM, code: ACETAMINOPHEN }] } })];
    writeFileSync(path.join(dir, 'records.ndjson'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const report = await ingestEmr({ inDir: dir, outDir: path.join(work, 'cache-bad'), pseudonymizer: new PatientPseudonymizer({ secret: SECRET }) });
    expect(report.refused.map((r) => [r.location, r.field])).toEqual([
      ['line 2', 'medication[x]'],
      ['line 3', 'medicationReference'],
    ]);
    expect(report.written['MedicationStatement']).toBe(1);
  });

  it('reads the Synthea CSV medications: the cohort is every patient the CSV gives the drug to', async () => {
    // Arrange: the whole 59-patient CSV export, and the truth counted from medications.csv directly.
    const csvDir = path.join(work, 'csv');
    mkdirSync(csvDir);
    for (const t of ['patients', 'medications']) writeFileSync(path.join(csvDir, `${t}.csv`), readFileSync(path.join(SYNTHEA, 'csv', `${t}.csv`)));
    const rows = parseCsvRecords(readFileSync(path.join(SYNTHEA, 'csv', 'medications.csv'), 'utf8')).records;
    const head = rows[0]?.fields ?? [];
    const starts = (code: string): Map<string, number[]> => {
      const m = new Map<string, number[]>();
      for (const r of rows.slice(1)) {
        if (r.fields[head.indexOf('CODE')] !== code) continue;
        const p = r.fields[head.indexOf('PATIENT')] ?? '';
        m.set(p, [...(m.get(p) ?? []), Date.parse(r.fields[head.indexOf('START')] ?? '')]);
      }
      return m;
    };
    const acetaminophen = starts(ACETAMINOPHEN);
    const ibuprofen = starts(IBUPROFEN);
    const firstOf = (p: string): number => Math.min(...(acetaminophen.get(p) ?? []));
    const after = [...acetaminophen.keys()].filter((p) => (ibuprofen.get(p) ?? []).some((t) => t > firstOf(p))).length;
    const upTo = [...acetaminophen.keys()].filter((p) => (ibuprofen.get(p) ?? []).some((t) => t <= firstOf(p))).length;
    // Act
    const { result } = await ingestAndEvaluate(csvDir, medicationStudy(ACETAMINOPHEN));
    // Assert: cohort, label and feature as counted from the CSV itself (dates shift per patient, order stays).
    expect(acetaminophen.size).toBe(24);
    expect(result.counts.inCohort).toBe(24);
    expect(result.counts.labelsPerClass).toEqual({ negative: 24 - after, positive: after });
    expect(result.rows.filter((r) => r.raw[0] === 1).length).toBe(upTo); // columns: ibuprofen, age
    expect(after + upTo).toBeGreaterThan(0);
  });
});
