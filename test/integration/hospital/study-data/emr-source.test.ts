import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../../shared/src/config/validate.js';
import { StudyDataSchema } from '../../../../shared/src/study/study-data-spec.js';
import { buildStudyDataset, openEmrSource } from '../../../../site-agent/src/hospital/study-data/study-source.js';
import { StudyDataError } from '../../../../site-agent/src/hospital/study-data/errors.js';

const MR = { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: 'urn:h:mrn' };

function bundle(entries: unknown[]): string {
  return JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: entries.map((resource) => ({ resource })) });
}

describe('EMR dataset for study contracts (agent.yaml kind: emr)', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-emrsrc-'));
    mkdirSync(path.join(dir, 'in'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ingests through the Safe Harbor gate, refusing a resource without subject, with a broken reference or a bad date by file, place and field, and keeps the rest', async () => {
    // Arrange: 12 patients with a local glucose code in mg/dL; three bad resources among them.
    const entries: unknown[] = [];
    for (let i = 0; i < 12; i++) {
      entries.push({ resourceType: 'Patient', id: `p${i}`, identifier: [{ ...MR, value: `MRN-SECRET-${i}` }], name: [{ family: 'Secretname' }], gender: 'female', birthDate: '1970-01-01' });
      entries.push({ resourceType: 'Encounter', id: `e${i}`, status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/p${i}` }, period: { start: '2020-01-01T00:00:00Z' } });
      entries.push({ resourceType: 'Observation', id: `o${i}`, status: 'final', code: { coding: [{ system: 'urn:h:lab', code: 'GLU' }] }, subject: { reference: `Patient/p${i}` }, effectiveDateTime: '2020-01-01T00:00:00Z', valueQuantity: { value: 90 + i * 10, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' } });
      if (i % 2 === 0) entries.push({ resourceType: 'Condition', id: `c${i}`, code: { coding: [{ system: 'urn:h:dx', code: 'DM' }] }, subject: { reference: `Patient/p${i}` }, onsetDateTime: '2020-06-01' });
    }
    entries.push({ resourceType: 'Procedure', id: 'proc1', status: 'completed', code: { coding: [{ system: 'http://snomed.info/sct', code: '430193006' }] }, subject: { reference: 'Patient/p0' }, performedDateTime: '2020-03-01T10:00:00Z', note: [{ text: 'Seen by MRN-SECRET-0' }] });
    entries.push({ resourceType: 'MedicationRequest', id: 'med1', status: 'active', intent: 'order', medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '860975' }] }, subject: { reference: 'Patient/p0' }, authoredOn: '2020-03-01' });
    const noSubject = entries.length;
    entries.push({ resourceType: 'Condition', id: 'bad1', code: { coding: [{ system: 'urn:h:dx', code: 'DM' }] }, onsetDateTime: '2020-06-01' });
    const broken = entries.length;
    entries.push({ resourceType: 'Condition', id: 'bad2', code: { coding: [{ system: 'urn:h:dx', code: 'DM' }] }, subject: { reference: 'Patient/nobody' }, onsetDateTime: '2020-06-01' });
    const badDate = entries.length;
    entries.push({ resourceType: 'Observation', id: 'bad3', status: 'final', code: { coding: [{ system: 'urn:h:lab', code: 'GLU' }] }, subject: { reference: 'Patient/p1' }, effectiveDateTime: '01/02/2020' });
    writeFileSync(path.join(dir, 'in', 'export.json'), bundle(entries));
    writeFileSync(
      path.join(dir, 'map.yaml'),
      "codes:\n  - { from: { system: 'urn:h:lab', code: GLU }, to: { system: loinc, code: 2345-7 } }\n  - { from: { system: 'urn:h:dx', code: DM }, to: { system: snomed, code: '44054006' } }\n",
    );
    const logged: Record<string, unknown>[] = [];
    const logger = { info: () => undefined, warn: (o: Record<string, unknown>) => logged.push(o), error: () => undefined, child: () => logger } as never;

    // Act
    const source = await openEmrSource('emr', { kind: 'emr', input: path.join(dir, 'in'), cache: path.join(dir, 'cache'), secret: path.join(dir, 'site.key'), mapping: path.join(dir, 'map.yaml') }, dir, logger);

    // Assert: the three bad ones refused by place and field, nothing identifying in the reasons, the rest in.
    const file = path.join(dir, 'in', 'export.json');
    expect(logged).toContainEqual(expect.objectContaining({ file, location: `entry ${noSubject}`, field: 'subject' }));
    expect(logged).toContainEqual(expect.objectContaining({ file, location: `entry ${broken}`, field: 'subject' }));
    expect(logged).toContainEqual(expect.objectContaining({ file, location: `entry ${badDate}`, field: 'effectiveDateTime' }));
    expect(JSON.stringify(logged)).not.toMatch(/SECRET|Secretname/);
    expect(source.resources.filter((r) => r.resourceType === 'Patient')).toHaveLength(12);
    expect(source.resources.filter((r) => r.resourceType === 'Condition')).toHaveLength(6);
    expect(JSON.stringify(source.resources)).not.toMatch(/SECRET|Secretname/);
    // Procedures and MedicationRequests pass the gate with their codes, linked and date-shifted like the rest.
    const proc = source.resources.find((r) => r.resourceType === 'Procedure');
    const med = source.resources.find((r) => r.resourceType === 'MedicationRequest');
    expect(proc?.['code']).toEqual({ coding: [{ system: 'http://snomed.info/sct', code: '430193006' }] });
    expect(med?.['medicationCodeableConcept']).toEqual({ coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '860975' }] });
    expect((proc?.['subject'] as { reference: string }).reference).toBe((med?.['subject'] as { reference: string }).reference);
    expect(proc?.['performedDateTime']).not.toBe('2020-03-01T10:00:00Z');

    // And the contract trains on it with no hand-made CSV: glucose in mmol/L, label from the mapped local code.
    const data = validateConfig(
      StudyDataSchema,
      {
        kind: 'emr',
        index: { event: 'first-encounter' },
        windows: { features: { lookbackDays: 0, lookaheadDays: 0 }, label: { lookbackDays: 0, lookaheadDays: 365 } },
        features: { observations: [{ name: 'glucose', loinc: '2345-7', unit: 'mmol/L', molecularWeight: 180.16 }], demographics: ['age'] },
        label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '44054006' }] } },
        split: { test: 0.25 },
      },
      'study.yaml',
    );
    const { dataset, result } = await buildStudyDataset(source, data, 'glucose');
    expect(result.counts.labelsPerClass).toEqual({ negative: 6, positive: 6 });
    expect(dataset.train.n + dataset.test.n).toBe(12);
    expect(dataset.test.n).toBe(4);
    expect(dataset.featureNames).toEqual(['glucose', 'age']);
    const glucose = result.rows.map((r) => r.raw[0] ?? Number.NaN).sort((a, b) => a - b);
    glucose.forEach((v, i) => expect(v).toBeCloseTo((90 + i * 10) / 18.016, 3));
  });

  it('stops at a mapping file with a duplicate entry, naming file and line', async () => {
    writeFileSync(path.join(dir, 'map.yaml'), "codes:\n  - { from: { system: x, code: A }, to: { system: loinc, code: 1-1 } }\n\n  - { from: { system: x, code: A }, to: { system: loinc, code: 1-1 } }\n");
    const opening = openEmrSource('emr', { kind: 'emr', input: path.join(dir, 'in'), cache: path.join(dir, 'cache'), secret: path.join(dir, 'site.key'), mapping: 'map.yaml' }, dir);
    await expect(opening).rejects.toThrow(StudyDataError);
    await expect(opening).rejects.toThrow(`${path.join(dir, 'map.yaml')}:4: duplicate entry: this code is already mapped at line 2`);
  });

  it('tessera data check --study on an emr dataset writes report.json with the contract\'s suppressed counts', async () => {
    const { runStudyDataCheck } = await import('../../../../site-agent/src/hospital/data-check/study-data-check.js');
    const { AgentConfigSchema } = await import('../../../../shared/src/config/agent-config.js');
    const entries: unknown[] = [];
    for (let i = 0; i < 14; i++) {
      entries.push({ resourceType: 'Patient', id: `p${i}`, identifier: [{ ...MR, value: `MRN-${i}` }], gender: i < 7 ? 'female' : 'male', birthDate: '1970-01-01' });
      entries.push({ resourceType: 'Encounter', id: `e${i}`, status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/p${i}` }, period: { start: '2020-01-01T00:00:00Z' } });
      if (i < 3) entries.push({ resourceType: 'Condition', id: `c${i}`, code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] }, subject: { reference: `Patient/p${i}` }, onsetDateTime: '2020-06-01' });
    }
    writeFileSync(path.join(dir, 'in', 'export.json'), bundle(entries));
    writeFileSync(
      path.join(dir, 'study.yaml'),
      [
        'id: dm',
        'name: diabetes',
        'dataset: emr',
        'model: logreg',
        'inputDim: 2',
        'rounds: 1',
        'strategy: fedavg',
        'data:',
        '  kind: emr',
        '  index: { event: first-encounter }',
        '  features: { demographics: [age, sex] }',
        "  label: { type: binary, positive: { resource: Condition, codes: [{ system: snomed, code: '44054006' }] } }",
      ].join('\n'),
    );
    const config = validateConfig(AgentConfigSchema, { kit: 'kit', datasets: { emr: { kind: 'emr', input: 'in', cache: 'cache', secret: 'site.key' } } }, 'agent.yaml');

    const report = await runStudyDataCheck({ config, baseDir: dir, dataset: 'emr', outDir: path.join(dir, 'out'), studyFile: path.join(dir, 'study.yaml') });

    const written = JSON.parse(readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as typeof report;
    expect(written).toEqual(report);
    expect(report.study?.datasetMatches).toBe(true);
    expect(report.study?.contract?.patients).toEqual({ total: 14, withIndexEvent: 14, inCohort: 14, labelled: 14 });
    // 3 positives and 11 negatives: the 3 is under the site's minimum (10) and shows as "<10", never 3 or 0;
    // next to the shown total (14), the 11 is suppressed too, or 14 − 11 would give the 3 away.
    expect(report.study?.contract?.labelsPerClass).toEqual({ negative: 'suppressed', positive: '<10' });
    expect(report.study?.contract?.trainable).toBe(true);
  });
});
