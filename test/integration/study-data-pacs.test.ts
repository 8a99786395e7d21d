/**
 * A study's cohort drives the PACS pull (`pull: study`) against a real Orthanc: the agent pulls nothing at
 * start, and each study that declares `data:` fetches only its cohort's patients' studies (the site's own
 * patient IDs, found through its keyed pseudonyms), over DICOMweb (QIDO-RS/WADO-RS) and DIMSE (C-FIND/C-GET).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfigSchema, checkAgentConfig, type AgentImagingDatasetConfig } from '../../shared/src/config/agent-config.js';
import { parseConfigText, validateConfig } from '../../shared/src/config/validate.js';
import type { TesseraError } from '../../shared/src/errors.js';
import { StudyDataSchema } from '../../shared/src/study/study-data-spec.js';
import { getString } from '../../site-agent/src/hospital/dicom/dataset.js';
import { Tags } from '../../site-agent/src/hospital/dicom/dictionary.js';
import { parseDicom } from '../../site-agent/src/hospital/dicom/parse.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../../site-agent/src/hospital/deid/pseudonym.js';
import { runDataCheck } from '../../site-agent/src/hospital/data-check/data-check.js';
import { loadLocalDataset } from '../../site-agent/src/hospital/local-data.js';
import type { StudyFeasibility } from '../../site-agent/src/hospital/study-data/feasibility.js';
import { buildStudyDataset, openImagingSource } from '../../site-agent/src/hospital/study-data/study-source.js';
import { orthancSkipReason, startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { makeStudy } from '../helpers/federation-fixture.js';
import { writeImagingSite } from '../helpers/study-data-sites.js';

const skip = orthancSkipReason();

/** Pneumonia (coded as site 1 codes it), with a cohort of one sex: 8 men (MRN index ≡ 0 mod 3) or 16 women. */
function contract(sex: 'male' | 'female'): ReturnType<typeof validateConfig<typeof StudyDataSchema>> {
  return validateConfig(
    StudyDataSchema,
    {
      kind: 'imaging',
      cohort: { sex: [sex], imaging: { modality: ['CR'], bodyPart: ['CHEST'] } },
      index: { event: 'imaging-study' },
      windows: { label: { lookbackDays: 30, lookaheadDays: 30 } },
      label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '233604007' }] } },
      split: { test: 0.25 },
    },
    'study.yaml',
  );
}

/** The MRNs of writeImagingSite's site 1 with that sex. */
const mrns = (sex: 'male' | 'female'): string[] => Array.from({ length: 24 }, (_, i) => i).filter((i) => (i % 3 === 0) === (sex === 'male')).map((i) => `S0P${String(i).padStart(3, '0')}`);

describe.skipIf(skip !== undefined)(`a study cohort drives the PACS pull (real Orthanc)${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  let orthanc: Orthanc;
  let work: string;
  let site: { dicom: string; fhir: string; mapping?: string };

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-cohort-pacs-'));
    site = await writeImagingSite(path.join(work, 'hospital'), 0);
    orthanc = await startOrthanc();
    for (const f of readdirSync(site.dicom)) expect((await orthanc.upload(path.join(site.dicom, f))).ok).toBe(true);
  });

  afterAll(async () => {
    await orthanc?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  function config(kind: 'dicomweb' | 'dimse'): { cfg: AgentImagingDatasetConfig; sources: ReturnType<typeof parseConfigText<typeof AgentConfigSchema>>['sources']; root: string } {
    const root = path.join(work, kind);
    mkdirSync(root, { recursive: true });
    const source =
      kind === 'dicomweb'
        ? `  pacs:\n    kind: dicomweb\n    url: ${orthanc.dicomWebUrl}\n    concurrency: 2`
        : `  pacs:\n    kind: dimse\n    host: 127.0.0.1\n    port: ${orthanc.dicomPort}\n    calledAeTitle: ${orthanc.aeTitle}\n    callingAeTitle: TESSERA-SITE\n    concurrency: 2`;
    const dataset = [
      '    kind: imaging-study',
      '    source: pacs',
      '    pull: study',
      `    fhir: ${site.fhir}`,
      `    cache: ${root}/cache`,
      `    secret: ${root}/site.key`,
      `    mapping: ${site.mapping ?? ''}`,
      '    inputShape: [16, 16, 1]',
    ].join('\n');
    const config = parseConfigText(AgentConfigSchema, `kit: ./kit\nsources:\n${source}\ndatasets:\n  chest:\n${dataset}\n`, 'agent.yaml', checkAgentConfig);
    const cfg = config.datasets['chest'];
    if (cfg === undefined || !('kind' in cfg) || cfg.kind !== 'imaging-study') throw new Error('no imaging dataset');
    return { cfg, sources: config.sources, root };
  }

  /** PatientID (the keyed pseudonym the gate wrote) of every cached instance. */
  function cachedPatients(root: string): string[] {
    const dir = path.join(root, 'cache', 'dicom');
    return readdirSync(dir)
      .filter((f) => f.endsWith('.dcm'))
      .map((f) => getString(parseDicom(readFileSync(path.join(dir, f)), f).dataset, Tags.PatientID) ?? '')
      .sort();
  }

  for (const kind of ['dicomweb', 'dimse'] as const) {
    it(`${kind}: nothing is pulled at start, then each study fetches only its cohort's studies`, async () => {
      // Arrange: the agent's start (EMR half only), and the site's pseudonyms of its own MRNs.
      const { cfg, sources, root } = config(kind);
      const err = await loadLocalDataset('chest', cfg, work, undefined, sources).catch((e: unknown) => e);
      expect((err as TesseraError).code).toBe('TESSERA_INPUT_NO_ROWS');
      expect(readdirSync(path.join(root, 'cache', 'dicom')).filter((f) => f.endsWith('.dcm'))).toEqual([]);
      const p = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(path.join(root, 'site.key')) });
      const pseudonyms = (sex: 'male' | 'female'): string[] => mrns(sex).map((m) => p.pseudonym(m)).sort();
      const source = await openImagingSource('chest', cfg, work, undefined, { sources });

      // Act: a study on the 8 men.
      const men = await buildStudyDataset(source, contract('male'), 'men');

      // Assert: the cache holds exactly their 8 studies (of the 24 Orthanc has), and they train.
      expect(cachedPatients(root)).toEqual(pseudonyms('male'));
      expect(men.dataset.train.n + men.dataset.test.n).toBe(8);

      // A second study on the 16 women pulls theirs into the same cache, and trains on them alone.
      const women = await buildStudyDataset(source, contract('female'), 'women');
      expect(cachedPatients(root)).toEqual([...pseudonyms('male'), ...pseudonyms('female')].sort());
      expect(women.dataset.train.n + women.dataset.test.n).toBe(16);
      // Nothing identified stayed outside the gate.
      expect(readdirSync(path.join(root, 'cache.incoming'))).toEqual([]);
    }, 120_000);
  }

  it('tessera data check --study on a pull: study dataset pulls the study cohort only, as the agent would', async () => {
    // Arrange: a fresh cache, and a study file whose cohort is the 8 men.
    const { cfg, sources, root } = config('dicomweb');
    const fresh = { ...cfg, cache: path.join(root, 'check-cache'), incoming: path.join(root, 'check-incoming') };
    const studyFile = path.join(root, 'study.yaml');
    writeFileSync(studyFile, JSON.stringify(makeStudy({ id: 'men', dataset: 'chest', inputDim: 256, data: contract('male') })));
    const agentConfig = validateConfig(AgentConfigSchema, { kit: './kit', sources, datasets: { chest: fresh } }, 'agent.yaml');
    // Act
    const report = await runDataCheck({ config: agentConfig, baseDir: work, dataset: 'chest', outDir: path.join(root, 'check-out'), studyFile });
    // Assert
    expect([report.found, report.written, report.used]).toEqual([8, 8, 8]);
    expect((report.study?.contract as StudyFeasibility | undefined)?.patients.inCohort).toBe('<10');
    expect(readdirSync(path.join(fresh.cache, 'dicom')).filter((f) => f.endsWith('.dcm'))).toHaveLength(8);
  }, 120_000);
});
