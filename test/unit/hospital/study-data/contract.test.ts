import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../../shared/src/config/validate.js';
import { checkStudyData, StudyDataSchema, studyFeatureColumns, type StudyData } from '../../../../shared/src/study/study-data-spec.js';
import { StudySpecSchema } from '../../../../shared/src/study/study-spec.js';
import { checkStudyDataContract } from '../../../../coordinator/src/study-data-check.js';
import type { FhirResource } from '../../../../site-agent/src/hospital/emr/fhir-resource.js';
import { evaluateStudyData, requireTrainable, splitPatients } from '../../../../site-agent/src/hospital/study-data/evaluate.js';
import { EMPTY_MAPPING, parseSiteMapping } from '../../../../site-agent/src/hospital/study-data/mapping.js';
import { studyFeatureRows } from '../../../../site-agent/src/hospital/study-data/study-dataset.js';

const SECRET = new Uint8Array(32).fill(7);
const CHOL_G_PER_MOL = 386.65;

function data(extra: Record<string, unknown> = {}): StudyData {
  return validateConfig(
    StudyDataSchema,
    {
      kind: 'emr',
      cohort: { age: { min: 18 } },
      index: { event: 'imaging-study' },
      windows: { features: { lookbackDays: 365, lookaheadDays: 0 }, label: { lookbackDays: 0, lookaheadDays: 365 } },
      features: {
        observations: [{ name: 'cholesterol', loinc: '2093-3', unit: 'mmol/L', molecularWeight: CHOL_G_PER_MOL, missing: { strategy: 'mean', indicator: true } }],
        codes: [{ name: 'diabetes', resource: 'Condition', codes: [{ system: 'snomed', code: '44054006' }] }],
        demographics: ['age', 'sex'],
        fhirpath: [{ name: 'encounters', resource: 'Encounter', expression: "Encounter.status = 'finished'", aggregate: 'count' }],
      },
      label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '22298006' }, { system: 'icd10', code: 'I21.9' }] } },
      ...extra,
    },
    'test',
  );
}

const contract = data;

interface SiteStyle {
  /** 'loinc-mmol': LOINC codes in mmol/L; 'local-mgdl': a local lab code in mg/dL (mapped by the site's file). */
  lab: 'loinc-mmol' | 'local-mgdl';
  /** How the site codes diagnoses. */
  dx: 'snomed' | 'icd10' | 'local';
  /** How the site describes the chest radiograph. */
  description: string;
}

const day = (iso: string, days: number): string => new Date(Date.parse(iso) + days * 86_400_000).toISOString();

/** De-identified records (as the gate leaves them) of `n` patients, coded the site's way. */
function siteRecords(style: SiteStyle, n: number): FhirResource[] {
  const out: FhirResource[] = [];
  for (let i = 0; i < n; i++) {
    const p = `p${String(i).padStart(3, '0')}`;
    const subject = { reference: `Patient/${p}` };
    const index = `2020-0${1 + (i % 9)}-15T10:00:00Z`;
    out.push({ resourceType: 'Patient', id: p, identifier: [{ system: 'urn:tessera:pseudonym', value: p }], gender: i % 2 === 0 ? 'female' : 'male', birthDate: `${1950 + (i % 40)}-06-01` });
    out.push({
      resourceType: 'ImagingStudy',
      id: `img${i}`,
      status: 'available',
      subject,
      started: index,
      description: style.description,
      series: [{ uid: '1.2.3', modality: { code: 'CR' }, bodySite: { code: 'CHEST' } }],
    });
    const mgdl = 150 + 7 * i;
    // Two cholesterol values: one before the index date (a feature), one after it (must never be one).
    for (const [offset, value] of [[-30, mgdl], [30, 999]] as const) {
      const quantity = style.lab === 'loinc-mmol' ? { value: (value * 10) / CHOL_G_PER_MOL, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } : { value, unit: 'MG/DL' };
      const code = style.lab === 'loinc-mmol' ? { system: 'http://loinc.org', code: '2093-3' } : { system: 'urn:site:lab', code: 'CHOL' };
      out.push({ resourceType: 'Observation', id: `o${i}${offset}`, status: 'final', code: { coding: [code] }, subject, effectiveDateTime: day(index, offset), valueQuantity: quantity });
    }
    const dxCode = (kind: 'diabetes' | 'mi'): Record<string, string> =>
      style.dx === 'snomed'
        ? { system: 'http://snomed.info/sct', code: kind === 'diabetes' ? '44054006' : '22298006' }
        : style.dx === 'icd10'
          ? { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: kind === 'diabetes' ? 'E11.9' : 'I21.9' }
          : { system: 'urn:site:dx', code: kind === 'diabetes' ? 'DM2' : 'AMI' };
    if (i % 3 === 0) out.push({ resourceType: 'Condition', id: `d${i}`, code: { coding: [dxCode('diabetes')] }, subject, onsetDateTime: day(index, -100) });
    // The label event: after the index date for every other patient.
    if (i % 2 === 1) out.push({ resourceType: 'Condition', id: `m${i}`, code: { coding: [dxCode('mi')] }, subject, onsetDateTime: day(index, 60) });
    // A diabetes diagnosis after the index date: inside the label window, outside the feature window.
    if (i % 3 === 1) out.push({ resourceType: 'Condition', id: `late${i}`, code: { coding: [dxCode('diabetes')] }, subject, onsetDateTime: day(index, 10) });
    for (let e = 0; e < 1 + (i % 4); e++) out.push({ resourceType: 'Encounter', id: `e${i}-${e}`, status: 'finished', class: { code: 'AMB' }, subject, period: { start: day(index, -10 - e) } });
  }
  return out;
}

const LOCAL_MAPPING = `codes:
  - from: { system: 'urn:site:lab', code: CHOL }
    to: { system: loinc, code: 2093-3 }
  - from: { system: 'urn:site:dx', code: DM2 }
    to: { system: icd10, code: E11.9 }
  - from: { system: icd10, code: E11.9 }
    to: { system: snomed, code: '44054006' }
  - from: { system: 'urn:site:dx', code: AMI }
    to: { system: snomed, code: '22298006' }
units:
  - { from: MG/DL, to: mg/dL }
descriptions:
  - { description: 'Radiograph, Chest', to: { system: radlex, code: RPID1301 } }
  - { description: 'Chest X-Ray', to: { system: radlex, code: RPID1301 } }
`;

describe('study data contract: validation', () => {
  it('names the study field for an unknown code system, an unparsable FHIRPath, an empty window and a window that leaks', () => {
    expect(() => checkStudyData(contract({ label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'read-v2', code: 'X' }] } } }), 'study.yaml')).toThrow(/'data.label.positive.codes\[0\].system' is 'read-v2', not a code system/);
    const bad = contract();
    const fp = { ...bad, features: { ...bad.features, fhirpath: [{ name: 'x', resource: 'Observation' as const, expression: 'Observation.where((', aggregate: 'last' as const, missing: { strategy: 'mean' as const, indicator: false } }] } };
    expect(() => checkStudyData(fp, 'study.yaml')).toThrow(/study\.yaml: 'data\.features\.fhirpath\[0\]\.expression' is not valid FHIRPath/);
    expect(() => checkStudyData({ ...bad, windows: { label: { lookbackDays: 0, lookaheadDays: 0 } } }, 'study.yaml')).toThrow(/'data\.windows\.label' is empty/);
    expect(() => checkStudyData({ ...bad, windows: { features: { lookbackDays: 10, lookaheadDays: -20 } } }, 'study.yaml')).toThrow(/'data\.windows\.features' is empty/);
    expect(() => checkStudyData({ ...bad, windows: { features: { lookbackDays: 365, lookaheadDays: 30 }, label: { lookbackDays: 0, lookaheadDays: 365 } } }, 'study.yaml')).toThrow(/after the event it predicts/);
  });

  it('the coordinator checks the contract and that inputDim is its column count', () => {
    const spec = validateConfig(StudySpecSchema, { id: 's1', name: 's', dataset: 'emr', model: 'logreg', inputDim: 3, rounds: 1, strategy: 'fedavg', data: contract() }, 'test');
    expect(() => checkStudyDataContract(spec)).toThrow(/'inputDim' is 3 but 'data.features' makes 6 columns/);
    expect(studyFeatureColumns(contract())).toEqual(['cholesterol', 'cholesterol_missing', 'diabetes', 'age', 'sex_female', 'encounters']);
    expect(() => checkStudyDataContract({ ...spec, inputDim: 6 })).not.toThrow();
  });
});

describe('study data contract: harmonisation', () => {
  it('two sites coding the same concepts differently (local lab code in mg/dL vs LOINC in mmol/L, ICD-10/local vs SNOMED, two study descriptions) produce identical feature columns', () => {
    const spec = contract({ cohort: { age: { min: 18 }, imaging: { modality: ['CR'], procedure: [{ system: 'radlex', code: 'RPID1301' }] } } });
    const a = evaluateStudyData(spec, siteRecords({ lab: 'loinc-mmol', dx: 'snomed', description: 'Chest X-Ray' }, 24), { studyId: 's', secret: SECRET, mapping: parseSiteMapping(LOCAL_MAPPING, 'a.yaml') });
    const b = evaluateStudyData(spec, siteRecords({ lab: 'local-mgdl', dx: 'local', description: 'Radiograph, Chest' }, 24), { studyId: 's', secret: SECRET, mapping: parseSiteMapping(LOCAL_MAPPING, 'b.yaml') });
    const c = evaluateStudyData(spec, siteRecords({ lab: 'loinc-mmol', dx: 'icd10', description: 'Radiograph, Chest' }, 24), { studyId: 's', secret: SECRET, mapping: parseSiteMapping(LOCAL_MAPPING, 'c.yaml') });
    expect(a.rows.length).toBe(24);
    for (const other of [b, c]) {
      expect(other.columns).toEqual(a.columns);
      expect(other.rows.map((r) => r.patient)).toEqual(a.rows.map((r) => r.patient));
      const fa = studyFeatureRows(spec, a);
      const fo = studyFeatureRows(spec, other);
      expect(fo.x.length).toBe(fa.x.length);
      fa.x.forEach((v, i) => expect(fo.x[i]).toBeCloseTo(v, 4));
      expect([...fo.y]).toEqual([...fa.y]);
      expect(other.counts.labelsPerClass).toEqual(a.counts.labelsPerClass);
    }
    // Every cholesterol value is the one 30 days before the index date, in mmol/L: never the later 999 mg/dL.
    a.rows.forEach((r, i) => expect(r.raw[0]).toBeCloseTo(((150 + 7 * i) * 10) / CHOL_G_PER_MOL, 6));
    expect(a.counts.labelsPerClass).toEqual({ negative: 12, positive: 12 });
  });

  it('without the mapping file the local codes are counted as unmapped per study concept, not dropped in silence', () => {
    const spec = contract({ label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '22298006' }] } } });
    const r = evaluateStudyData(spec, siteRecords({ lab: 'local-mgdl', dx: 'local', description: 'x' }, 12), { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING });
    expect(r.counts.harmonisation.unmappedResources).toEqual({ Observation: 24, Condition: 14 });
    expect(r.counts.harmonisation.unmappedCodes).toEqual({ Observation: 1, Condition: 2 });
    expect(r.counts.unmappedPerConcept['data.features.observations.cholesterol']).toBe(12);
    expect(r.counts.featuresMissing['cholesterol']).toBe(12);
    expect(() => requireTrainable(r, 's')).toThrow(/only the class 'negative'/);
  });

  it('refuses a mapping file with duplicate or circular entries or an unknown UCUM unit, naming file and line', () => {
    expect(() => parseSiteMapping('codes:\n  - { from: { system: x, code: A }, to: { system: loinc, code: 1-1 } }\n  - { from: { system: x, code: A }, to: { system: loinc, code: 2-2 } }\n', 'map.yaml')).toThrow(
      /map\.yaml:3: duplicate entry: this code is already mapped at line 2/,
    );
    expect(() => parseSiteMapping('codes:\n  - { from: { system: loinc, code: 1-1 }, to: { system: snomed, code: "9" } }\n  - { from: { system: snomed, code: "9" }, to: { system: loinc, code: 1-1 } }\n', 'map.yaml')).toThrow(/map\.yaml:2: circular entry/);
    expect(() => parseSiteMapping('units:\n  - { from: MG/DL, to: mg/dL }\n  - { from: mgdl, to: milligrams }\n', 'map.yaml')).toThrow(/map\.yaml:3: 'to' is not a UCUM unit/);
    expect(() => parseSiteMapping('codes:\n  - { from: { system: x, code: A }, to: { system: read-v2, code: B } }\n', 'map.yaml')).toThrow(/map\.yaml:2: 'to\.system' is not a code system/);
    expect(() => parseSiteMapping('descriptions:\n  - { description: Chest X-Ray, to: { system: radlex, code: R1 } }\n  - { description: "chest  x-ray", to: { system: radlex, code: R2 } }\n', 'map.yaml')).toThrow(/map\.yaml:3: duplicate entry/);
  });
});

describe('study data contract: windows, labels and split', () => {
  it('takes no feature from after the index date, even one inside the label window', () => {
    const spec = contract();
    const r = evaluateStudyData(spec, siteRecords({ lab: 'loinc-mmol', dx: 'snomed', description: 'x' }, 12), { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING });
    // raw holds one value per feature: cholesterol, diabetes, age, sex, encounters.
    // Patients with i % 3 === 1 get diabetes 10 days after the index date: feature 0, never 1.
    r.rows.forEach((row, i) => expect(row.raw[1]).toBe(i % 3 === 0 ? 1 : 0));
    // Encounters before the index date are counted by the FHIRPath feature (1 + i % 4 of them).
    r.rows.forEach((row, i) => expect(row.raw[4]).toBe(1 + (i % 4)));
  });

  it('builds multi-class and multi-label labels and an observation-threshold label', () => {
    const recs = siteRecords({ lab: 'loinc-mmol', dx: 'snomed', description: 'x' }, 12);
    const multi = evaluateStudyData(
      contract({
        label: {
          type: 'multiclass',
          classes: [
            { name: 'mi', when: { resource: 'Condition', codes: [{ system: 'snomed', code: '22298006' }] } },
            { name: 'diabetes', when: { resource: 'Condition', codes: [{ system: 'snomed', code: '44054006' }] } },
          ],
          otherwise: 'neither',
        },
      }),
      recs,
      { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING },
    );
    expect(multi.classes).toEqual(['mi', 'diabetes', 'neither']);
    expect(multi.rows.every((r) => r.y.reduce((a, b) => a + b, 0) === 1)).toBe(true);
    expect(multi.counts.labelsPerClass).toEqual({ mi: 6, diabetes: 2, neither: 4 });
    const ml = evaluateStudyData(
      contract({ label: { type: 'multilabel', classes: [{ name: 'mi', when: { resource: 'Condition', codes: [{ system: 'snomed', code: '22298006' }] } }, { name: 'late_dm', when: { resource: 'Condition', codes: [{ system: 'snomed', code: '44054006' }] } }] } }),
      recs,
      { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING },
    );
    expect(ml.counts.labelsPerClass).toEqual({ mi: 6, late_dm: 4 });
    // Cholesterol ≥ 10 mmol/L in the label window: only the 999 mg/dL value 30 days after the index date.
    const obs = evaluateStudyData(
      contract({ label: { type: 'binary', positive: { resource: 'Observation', codes: [{ system: 'loinc', code: '2093-3' }], value: { atLeast: 10, unit: 'mmol/L', molecularWeight: CHOL_G_PER_MOL } } } }),
      recs,
      { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING },
    );
    expect(obs.counts.labelsPerClass).toEqual({ negative: 0, positive: 12 });
  });

  it('splits by patient, stratified, deterministically per site secret', () => {
    const patients = Array.from({ length: 40 }, (_, i) => ({ patient: `p${i}`, y: [i % 4 === 0 ? 1 : 0] }));
    const one = splitPatients(patients, { test: 0.25, val: 0.1 }, SECRET, 'study');
    const again = splitPatients(patients, { test: 0.25, val: 0.1 }, SECRET, 'study');
    const other = splitPatients(patients, { test: 0.25, val: 0.1 }, new Uint8Array(32).fill(9), 'study');
    expect([...again]).toEqual([...one]);
    expect([...other]).not.toEqual([...one]);
    const count = (m: Map<string, string>, split: string, label: number): number => patients.filter((p) => p.y[0] === label && m.get(p.patient) === split).length;
    expect([count(one, 'test', 1), count(one, 'val', 1), count(one, 'train', 1)]).toEqual([3, 1, 6]);
    expect([count(one, 'test', 0), count(one, 'val', 0), count(one, 'train', 0)]).toEqual([8, 3, 19]);
  });

  it('declines an empty cohort with the reasons counted', () => {
    const r = evaluateStudyData(contract({ cohort: { age: { min: 89 } } }), siteRecords({ lab: 'loinc-mmol', dx: 'snomed', description: 'x' }, 6), { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING });
    expect(() => requireTrainable(r, 's')).toThrow(/no patient of this site is in the cohort with a label \(left out for: age outside the cohort\)$/);
  });
});

describe('study data contract: feasibility counts', () => {
  it('reports counts only, each below the site minimum shown as suppressed and never as 0', async () => {
    const { studyFeasibility, suppress } = await import('../../../../site-agent/src/hospital/study-data/feasibility.js');
    expect([suppress(0, 10), suppress(9, 10), suppress(10, 10), suppress(3, 2)]).toEqual(['<10', '<10', 10, 3]);
    const source = { name: 'emr', kind: 'emr' as const, mapping: EMPTY_MAPPING, secret: SECRET, resources: siteRecords({ lab: 'local-mgdl', dx: 'snomed', description: 'x' }, 24) };
    const f = await studyFeasibility(source, contract(), 'feasible', { minCellCount: 10 });
    expect(f.trainable).toBe(true);
    expect(f.patients).toEqual({ total: 24, withIndexEvent: 24, inCohort: 24, labelled: 24 });
    expect(f.labelsPerClass).toEqual({ negative: 12, positive: 12 });
    // The local lab code is unmapped at this site: every row misses cholesterol, and the concept says why.
    expect(f.featuresMissing).toEqual({ cholesterol: 24 });
    expect(f.unmapped.perConcept['data.features.observations.cholesterol']).toBe(24);
    expect(f.unmapped.distinctCodes).toEqual({ Observation: '<10' });
    const strict = await studyFeasibility(source, contract(), 'feasible', { minCellCount: 13 });
    expect(strict.labelsPerClass).toEqual({ negative: '<13', positive: '<13' });
    expect(JSON.stringify(strict)).not.toMatch(/":0[,}]/);
    const none = await studyFeasibility(source, contract({ cohort: { age: { min: 89 } } }), 'feasible', { minCellCount: 10 });
    expect(none.trainable).toBe(false);
    expect(none.declined?.code).toBe('TESSERA_STUDYDATA_EMPTY_COHORT');
    expect(none.patients.inCohort).toBe('<10');
  });
});

describe('study data contract: labels from report text', () => {
  it('labels each patient from the radiology report in the label window, through the site report labeler and a lexicon', async () => {
    const { NamedLexiconLabeler } = await import('../../../../site-agent/src/hospital/reports/index.js');
    const labeler = await NamedLexiconLabeler.create();
    const recs: FhirResource[] = [];
    const texts = ['FINDINGS: The heart is enlarged. IMPRESSION: Cardiomegaly.', 'FINDINGS: Heart size is normal. No cardiomegaly. IMPRESSION: No acute disease.', 'FINDINGS: Possible mild cardiomegaly. IMPRESSION: Borderline heart size.'];
    for (let i = 0; i < 12; i++) {
      const p = `r${i}`;
      recs.push({ resourceType: 'Patient', id: p, gender: 'female', birthDate: '1960-01-01' });
      recs.push({ resourceType: 'ImagingStudy', id: `i${i}`, status: 'available', subject: { reference: `Patient/${p}` }, started: '2021-01-01T09:00:00Z', series: [{ uid: '1.2', modality: { code: 'CR' } }] });
      const text = texts[i % 3] ?? '';
      recs.push({ resourceType: 'DiagnosticReport', id: `d${i}`, status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '36643-5' }] }, subject: { reference: `Patient/${p}` }, effectiveDateTime: '2021-01-01T10:00:00Z', presentedForm: [{ contentType: 'text/plain', data: Buffer.from(text).toString('base64') }] });
    }
    const spec = validateConfig(
      StudyDataSchema,
      {
        kind: 'imaging',
        cohort: { imaging: { modality: ['CR'] } },
        index: { event: 'imaging-study' },
        windows: { label: { lookbackDays: 1, lookaheadDays: 7 } },
        label: { type: 'binary', positive: { report: { lexicon: 'chest-xray', finding: 'cardiomegaly' } } },
      },
      'study.yaml',
    );
    const r = evaluateStudyData(spec, recs, { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING, reportLabeler: labeler });
    expect(r.rows.map((row) => row.y[0])).toEqual(r.rows.map((row) => (Number(row.patient.slice(1)) % 3 === 0 ? 1 : 0)));
    const hedged = evaluateStudyData({ ...spec, label: { type: 'binary', positive: { report: { lexicon: 'chest-xray', finding: 'cardiomegaly', status: ['positive', 'uncertain'] } } } }, recs, { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING, reportLabeler: labeler });
    expect(hedged.counts.labelsPerClass).toEqual({ negative: 4, positive: 8 });
    expect(() => evaluateStudyData(spec, recs, { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING })).toThrow(/'?data.label.positive'? reads report text, but this site has no report labeler/);
    // anyOf: a code or a report finding. A site with reports only and a site with codes only label alike.
    const either = { ...spec, label: { type: 'binary' as const, positive: { anyOf: [{ resource: 'Condition' as const, codes: [{ system: 'snomed', code: '8186001' }] }, { report: { lexicon: 'chest-xray', finding: 'cardiomegaly' } }] } } };
    const fromReports = evaluateStudyData(either, recs, { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING, reportLabeler: labeler });
    expect(fromReports.rows.map((row) => row.y[0])).toEqual(r.rows.map((row) => row.y[0]));
    const coded = recs.filter((x) => x.resourceType !== 'DiagnosticReport');
    recs.filter((x) => x.resourceType === 'Patient').forEach((pt, i) => {
      if (i % 3 === 0) coded.push({ resourceType: 'Condition', id: `cm${i}`, code: { coding: [{ system: 'http://snomed.info/sct', code: '8186001' }] }, subject: { reference: `Patient/${String(pt.id)}` }, onsetDateTime: '2021-01-02' });
    });
    const fromCodes = evaluateStudyData(either, coded, { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING, reportLabeler: labeler });
    expect(fromCodes.rows.map((row) => [row.patient, row.y[0]])).toEqual(fromReports.rows.map((row) => [row.patient, row.y[0]]));
  });
});

describe('study data contract: the PACS query an imaging cohort makes', () => {
  it('turns the cohort back into the site\'s own patient IDs by its keyed pseudonyms, with the selected modality and body part', async () => {
    const { PatientPseudonymizer } = await import('../../../../site-agent/src/hospital/deid/pseudonym.js');
    const { cohortImagingQuery } = await import('../../../../site-agent/src/hospital/study-data/imaging-query.js');
    const p = new PatientPseudonymizer({ secret: SECRET });
    const mrns = ['MRN1', 'MRN2', 'MRN3', 'MRN4'];
    const recs: FhirResource[] = [];
    mrns.forEach((mrn, i) => {
      const id = p.pseudonym(mrn);
      recs.push({ resourceType: 'Patient', id, identifier: [{ system: 'urn:tessera:pseudonym', value: id }], gender: 'female', birthDate: '1960-01-01' });
      recs.push({ resourceType: 'ImagingStudy', id: `i${i}`, status: 'available', subject: { reference: `Patient/${id}` }, started: '2021-01-01T09:00:00Z', series: [{ uid: '1.2', modality: { code: i === 3 ? 'CT' : 'CR' }, bodySite: { code: 'CHEST' } }] });
      recs.push({ resourceType: 'Condition', id: `c${i}`, code: { coding: [{ system: 'http://snomed.info/sct', code: '233604007' }] }, subject: { reference: `Patient/${id}` }, onsetDateTime: i % 2 === 0 ? '2021-01-02' : '2019-01-01' });
    });
    const spec = validateConfig(
      StudyDataSchema,
      { kind: 'imaging', cohort: { imaging: { modality: ['CR'], bodyPart: ['chest'] } }, index: { event: 'imaging-study' }, label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '233604007' }] } } },
      'study.yaml',
    );
    const result = evaluateStudyData(spec, recs, { studyId: 's', secret: SECRET, mapping: EMPTY_MAPPING });
    const q = cohortImagingQuery(spec, result, [...mrns, 'MRN-ELSEWHERE'], (id) => p.pseudonym(id));
    expect(q).toEqual({ modalities: ['CR'], bodyPart: 'CHEST', patientIds: ['MRN1', 'MRN2', 'MRN3'] });
  });

  it('narrows the dataset\'s standing PACS query to the cohort, and to nothing (not everything) when they share no patient or modality', async () => {
    const { narrowPacsQuery } = await import('../../../../site-agent/src/hospital/study-data/imaging-query.js');
    const cohort = { modalities: ['CR', 'DX'], bodyPart: 'CHEST', patientIds: ['MRN1', 'MRN2'] };
    expect(narrowPacsQuery({ studyDateFrom: '20200101', maxInstances: 50 }, cohort)).toEqual({ studyDateFrom: '20200101', maxInstances: 50, modalities: ['CR', 'DX'], bodyPart: 'CHEST', patientIds: ['MRN1', 'MRN2'] });
    expect(narrowPacsQuery({ modalities: ['DX', 'CT'], patientIds: ['MRN2', 'MRN9'], bodyPart: 'THORAX' }, cohort)).toEqual({ modalities: ['DX'], patientIds: ['MRN2'], bodyPart: 'THORAX' });
    expect(narrowPacsQuery({ modalities: ['CT'] }, cohort)).toBeUndefined();
    expect(narrowPacsQuery({ patientIds: ['MRN9'] }, cohort)).toBeUndefined();
    expect(narrowPacsQuery({}, { modalities: ['CR'] })).toBeUndefined();
  });
});
