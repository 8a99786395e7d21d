import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataCommand } from '../../cli/src/commands/data.js';
import type { StudyFeasibility } from '../../site-agent/src/hospital/study-data/feasibility.js';
import { SYNTHEA, writeImagingSite, writeSyntheaSite } from '../helpers/study-data-sites.js';

function capture(): { io: { out: (l: string) => void; err: (l: string) => void; now: () => Date }; lines: string[] } {
  const lines: string[] = [];
  return { io: { out: (l) => lines.push(l), err: (l) => lines.push(l), now: () => new Date() }, lines };
}

const present = existsSync(path.join(SYNTHEA, 'patients.csv'));

/** `tessera data check --study FILE`: the study's data: contract evaluated at one site, counts only. */
describe.skipIf(!present)('tessera data check --study (the study data contract at one site)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-sdcheck-'));
    writeSyntheaSite(path.join(dir, 'emr'), 0);
    const chest = await writeImagingSite(path.join(dir, 'chest'), 2);
    writeFileSync(
      path.join(dir, 'agent.yaml'),
      [
        'kit: ./kit',
        'datasets:',
        '  emr: { kind: emr, input: ./emr, cache: ./cache/emr, secret: ./secret.key }',
        `  chest: { kind: imaging-study, dicom: ${chest.dicom}, fhir: ${chest.fhir}, cache: ./cache/chest, secret: ./secret.key, inputShape: [16, 16, 1], mapping: ${chest.mapping ?? ''} }`,
        'policy: { minCellCount: 5 }',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'emr-study.yaml'),
      [
        'id: obesity',
        'name: obesity after the first encounter',
        'dataset: emr',
        'model: logreg',
        'inputDim: 3',
        'rounds: 1',
        'strategy: fedavg',
        'data:',
        '  kind: emr',
        "  cohort: { exclude: [{ resource: Condition, codes: [{ system: snomed, code: '162864005' }], beforeIndex: true }] }",
        '  index: { event: first-encounter }',
        '  windows: { label: { lookbackDays: 0, lookaheadDays: 36500 } }',
        '  features: { demographics: [age, sex], observations: [{ name: bmi, loinc: 39156-5, unit: kg/m2 }] }',
        "  label: { type: binary, positive: { resource: Condition, codes: [{ system: snomed, code: '162864005' }] } }",
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'chest-study.yaml'),
      [
        'id: chest',
        'name: pneumonia from EMR codes',
        'dataset: chest',
        'model: logreg',
        'inputDim: 256',
        'rounds: 1',
        'strategy: fedavg',
        'data:',
        '  kind: imaging',
        '  cohort: { imaging: { modality: [CR], procedure: [{ system: radlex, code: RPID1301 }] } }',
        '  index: { event: imaging-study }',
        '  windows: { label: { lookbackDays: 30, lookaheadDays: 30 } }',
        "  label: { type: binary, positive: { resource: Condition, codes: [{ system: snomed, code: '233604007' }] } }",
      ].join('\n'),
    );
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('on an emr dataset: the Synthea export through the gate, the contract\'s counts in report.json, small counts suppressed', async () => {
    const { io, lines } = capture();
    const code = await dataCommand(['check', '--config', path.join(dir, 'agent.yaml'), '--dataset', 'emr', '--study', path.join(dir, 'emr-study.yaml'), '--out', path.join(dir, 'out-emr')], io);

    expect(code).toBe(0);
    const report = JSON.parse(readFileSync(path.join(dir, 'out-emr', 'report.json'), 'utf8')) as { source: { kind: string }; study: { contract: StudyFeasibility } };
    expect(report.source.kind).toBe('emr');
    const c = report.study.contract;
    expect(c.minCellCount).toBe(5);
    // 20 patients, fewer than 5 left out by the exclusion: the funnel's upper totals are hidden (20 − in cohort would give the few away).
    expect(c.patients).toMatchObject({ total: 'suppressed', withIndexEvent: 'suppressed' });
    expect(typeof c.patients.labelled).toBe('number');
    expect(c.trainable).toBe(true);
    for (const n of Object.values(c.labelsPerClass)) expect(n === '<5' || (typeof n === 'number' && n >= 5)).toBe(true);
    expect(JSON.stringify(report)).not.toMatch(/":0[,}\n]/);
    expect(lines.join('\n')).toMatch(/study obesity \(data: emr\): suppressed patients, suppressed with the index event, \d+ in the cohort/);
  });

  it('on an imaging dataset: the data check\'s study section carries the contract\'s cohort, labels and images', async () => {
    const { io, lines } = capture();
    const code = await dataCommand(['check', '--config', path.join(dir, 'agent.yaml'), '--dataset', 'chest', '--study', path.join(dir, 'chest-study.yaml'), '--out', path.join(dir, 'out-chest')], io);

    expect(code).toBe(0);
    const report = JSON.parse(readFileSync(path.join(dir, 'out-chest', 'report.json'), 'utf8')) as { used: number; study: { contract: StudyFeasibility } };
    expect(report.used).toBe(24);
    expect(report.study.contract).toMatchObject({ trainable: true, patients: { inCohort: 24, labelled: 24 }, labelsPerClass: { negative: 12, positive: 12 }, images: { used: 24 } });
    expect(lines.join('\n')).toMatch(/images: 24 used/);
  });
});
