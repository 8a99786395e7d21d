import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baselinePredictor, labelerPredictor, loadIuReports, MAX_UID, score, type IuReport } from '../../../bench/report-labels.js';
import { shippedLexicon } from '../../../site-agent/src/hospital/reports/lexicon.js';

// The report-labels bench on hand-made reports in the IU column layout: the uid filter and the scoring.
// The figures on the IU reports themselves come from `npm run bench -- report-labels`.

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function report(uid: number, problems: string, findings: string, impression = ''): IuReport {
  return { uid, problems: new Set(problems.split(';')), findings, impression };
}

describe('report-labels bench', () => {
  it('never keeps a report with uid above 2000', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-iu-'));
    dirs.push(dir);
    const csv = [
      'uid,MeSH,Problems,image,indication,comparison,findings,impression',
      '1,normal,normal,PA,,,"The lungs are clear.",Normal.',
      `${MAX_UID},Cardiomegaly,Cardiomegaly,PA,,,Cardiomegaly.,`,
      `${MAX_UID + 1},Cardiomegaly,Cardiomegaly,PA,,,Cardiomegaly.,`,
      '9999,normal,normal,PA,,,Clear.,',
    ].join('\n');
    await writeFile(path.join(dir, 'r.csv'), csv);
    expect(loadIuReports(path.join(dir, 'r.csv')).map((r) => r.uid)).toEqual([1, MAX_UID]);
  });

  it('scores precision, recall and F1 per class, and normal as no abnormal finding', () => {
    const reports = [
      report(1, 'Cardiomegaly', 'Mild cardiomegaly.'),
      report(2, 'normal', 'No effusion or pneumothorax.'),
      report(3, 'Pleural Effusion', 'Possible small effusion.'),
      report(4, 'normal', 'Heart is not enlarged.'),
      report(5, 'Calcinosis', 'Aortic calcification.'),
    ];
    const ours = score(reports, labelerPredictor(shippedLexicon('chest-xray')));
    const byClass = Object.fromEntries(ours.classes.map((c) => [c.finding, c]));
    expect(byClass['cardiomegaly']).toEqual({ finding: 'cardiomegaly', support: 1, precision: 1, recall: 1, f1: 1 });
    // Uncertain is not present, and the hedged report is not normal either.
    expect(byClass['pleural-effusion']).toMatchObject({ support: 1, recall: 0, f1: 0 });
    expect(byClass['normal']).toMatchObject({ support: 2, precision: 1, recall: 1 });
    // The baseline knows no hedges: "possible small effusion" is an effusion to it.
    const base = score(reports, baselinePredictor);
    expect(Object.fromEntries(base.classes.map((c) => [c.finding, c.f1]))['pleural-effusion']).toBe(1);
    expect(ours.macroF1).toBeGreaterThanOrEqual(0);
    expect(ours.macroF1).toBeLessThanOrEqual(1);
  });
});
