/**
 * The labels each hospital derived for the chest-xray study, and whether they are right. The demo plays
 * every site, so after the study it re-runs each site's own evaluation of the study's `data:` on that
 * site's de-identified cache (same records, secret, mapping file and report labeler as the agent, so the
 * same rows), and checks each label against the ground truth only the generator knows (by MRN, through
 * the site's pseudonymizer). Counts only.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { AgentImagingDatasetConfig } from '../../../../shared/src/config/agent-config.js';
import { validateConfig } from '../../../../shared/src/config/validate.js';
import { StudyDataSchema } from '../../../../shared/src/study/study-data-spec.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { NamedLexiconLabeler } from '../../../../site-agent/src/hospital/reports/index.js';
import { evaluateStudyData } from '../../../../site-agent/src/hospital/study-data/evaluate.js';
import { openImagingSource } from '../../../../site-agent/src/hospital/study-data/study-source.js';
import { SITE_TRUTH } from './generate.js';
import { CHEST_HOSPITALS } from './hospitals.js';
import type { ChestSitePlan } from './plan.js';
import type { ChestSiteLabels } from './report.js';

const SOURCE = { snomed: 'snomed-ct', icd10cm: 'icd-10-cm+local-codes', 'report-text': 'report-text' } as const;

/** Each site's label counts per split and their agreement with the ground truth. */
export async function chestSiteLabels(sites: readonly ChestSitePlan[], dataDir: string, studyId: string, data: unknown): Promise<ChestSiteLabels[]> {
  const truth = JSON.parse(await readFile(path.join(dataDir, SITE_TRUTH), 'utf8')) as Record<string, Record<string, 0 | 1>>;
  const contract = validateConfig(StudyDataSchema, structuredClone(data), 'chest-xray study data');
  const labeler = await NamedLexiconLabeler.create({});
  const out: ChestSiteLabels[] = [];
  for (const site of sites) {
    const source = await openImagingSource(site.id, site.dataset as unknown as AgentImagingDatasetConfig, path.sep);
    const result = evaluateStudyData(contract, source.resources, { studyId, secret: source.secret, mapping: source.mapping, reportLabeler: labeler, source: site.id });
    const pseudonymizer = new PatientPseudonymizer({ secret: source.secret });
    const truthOf = new Map(Object.entries(truth[site.id] ?? {}).map(([mrn, y]) => [pseudonymizer.pseudonym(mrn), y]));
    const splits: ChestSiteLabels['splits'] = { train: { positive: 0, negative: 0 }, val: { positive: 0, negative: 0 }, test: { positive: 0, negative: 0 } };
    let agree = 0;
    for (const r of result.rows) {
      const y = r.y[0] === 1 ? 1 : 0;
      splits[r.split][y === 1 ? 'positive' : 'negative']++;
      if (truthOf.get(r.patient) === y) agree++;
    }
    const kind = CHEST_HOSPITALS.find((h) => h.id === site.id)?.coding.kind ?? 'report-text';
    out.push({ id: site.id, source: SOURCE[kind], splits, agreement: result.rows.length === 0 ? null : agree / result.rows.length });
  }
  return out;
}
