import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../shared/src/config/validate.js';
import { StudyDataSchema, studyFeatureColumns } from '../../shared/src/study/study-data-spec.js';
import { studyFeasibility } from '../../site-agent/src/hospital/study-data/feasibility.js';
import { buildStudyDataset, openImagingSource } from '../../site-agent/src/hospital/study-data/study-source.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';
import { SYNTHEA, writeImagingSite, writeSyntheaSite } from '../helpers/study-data-sites.js';

const present = existsSync(path.join(SYNTHEA, 'patients.csv'));

// Obesity (SNOMED CT 162864005) recorded after the first encounter, predicted from what was known at it.
const OBESITY = { system: 'snomed', code: '162864005' };
const emrContract = {
  kind: 'emr',
  cohort: { exclude: [{ resource: 'Condition', codes: [OBESITY], beforeIndex: true }] },
  index: { event: 'first-encounter' },
  windows: { features: { lookbackDays: 3650, lookaheadDays: 0 }, label: { lookbackDays: 0, lookaheadDays: 36500 } },
  features: {
    observations: [
      { name: 'body_weight', loinc: '29463-7', unit: 'kg', missing: { strategy: 'mean', indicator: true } },
      { name: 'bmi', loinc: '39156-5', unit: 'kg/m2', missing: { strategy: 'mean', indicator: true } },
      { name: 'systolic', loinc: '8480-6', unit: 'mm[Hg]', missing: { strategy: 'mean', indicator: true } },
    ],
    codes: [{ name: 'prediabetes', resource: 'Condition', codes: [{ system: 'snomed', code: '15777000' }] }],
    demographics: ['age', 'sex'],
    fhirpath: [{ name: 'encounters', resource: 'Encounter', expression: 'Encounter.period.start.exists()', aggregate: 'count' }],
  },
  label: { type: 'binary', positive: { resource: 'Condition', codes: [OBESITY] } },
  split: { test: 0.3 },
};

describe.skipIf(!present)('study data contract over the federation (3 agents, mTLS on 127.0.0.1)', () => {
  let fed: Federation;
  let work = '';
  const fits: { siteId: string; round: number; numExamples: number }[] = [];

  beforeAll(async () => {
    // The hospitals' own exports, outside the federation's folder (the agents only read them).
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-studydata-'));
    const sites: { dicom: string; fhir: string; mapping?: string; emr?: string }[] = [];
    for (let s = 0; s < 3; s++) {
      const siteDir = path.join(work, `site-${s + 1}`);
      writeSyntheaSite(path.join(siteDir, 'emr'), s);
      // Site 3's second export holds patients only (no encounter): its cohort for the second study is empty.
      writeSyntheaSite(path.join(siteDir, 'emr-b'), s, { patientsOnly: s === 2 });
      sites.push(await writeImagingSite(siteDir, s));
    }
    fed = await startFederation({
      sites: 3,
      agent: (siteId, dir) => {
        const s = Number(siteId.slice('site-'.length)) - 1;
        const input = path.join(work, siteId, 'emr');
        const inputB = path.join(work, siteId, 'emr-b');
        const imaging: { dicom: string; fhir: string; mapping?: string; emr?: string } = sites[s] ?? { dicom: '', fhir: '' };
        return {
          config: {
            datasets: {
              synthea: { kind: 'emr', input, cache: path.join(dir, 'cache', siteId, 'emr'), secret: path.join(dir, 'secrets', `${siteId}.key`) },
              'synthea-b': { kind: 'emr', input: inputB, cache: path.join(dir, 'cache', siteId, 'emr-b'), secret: path.join(dir, 'secrets', `${siteId}.key`) },
              chest: {
                kind: 'imaging-study',
                dicom: imaging.dicom,
                fhir: imaging.fhir,
                cache: path.join(dir, 'cache', siteId, 'chest'),
                secret: path.join(dir, 'secrets', `${siteId}.key`),
                inputShape: [16, 16, 1],
                ...(imaging.mapping !== undefined ? { mapping: imaging.mapping } : {}),
                ...(imaging.emr !== undefined ? { emr: 'chest-emr' } : {}),
              },
              // The same hospital's images at the two-input model's 28×28, for the imaging study with EMR features.
              chest28: {
                kind: 'imaging-study',
                dicom: imaging.dicom,
                fhir: imaging.fhir,
                cache: path.join(dir, 'cache', siteId, 'chest28'),
                secret: path.join(dir, 'secrets', `${siteId}.key`),
                inputShape: [28, 28, 1],
                ...(imaging.mapping !== undefined ? { mapping: imaging.mapping } : {}),
                ...(imaging.emr !== undefined ? { emr: 'chest-emr' } : {}),
              },
              ...(imaging.emr !== undefined ? { 'chest-emr': { kind: 'emr', input: imaging.emr, cache: path.join(dir, 'cache', siteId, 'chest-emr'), secret: path.join(dir, 'secrets', `${siteId}.key`) } } : {}),
            },
          },
        };
      },
    });
    for (let i = 0; i < 3; i++) {
      const siteId = `site-${i + 1}`;
      await fed.startAgent(i, (info) => fits.push({ siteId, round: info.round, numExamples: info.numExamples }));
    }
  });

  afterAll(async () => {
    await fed?.close();
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('trains an EMR-only risk model on the Synthea export under secure aggregation, declared only in study.yaml and agent.yaml', async () => {
    // Arrange: nothing but the contract; each site evaluates it on its own de-identified Synthea records.
    const inputDim = studyFeatureColumns(validateConfig(StudyDataSchema, emrContract, 'test')).length;
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'synthea-obesity', dataset: 'synthea', inputDim, rounds: 2, minSites: 3, data: validateConfig(StudyDataSchema, emrContract, 'test') }));

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert: every site trained in every round on rows the contract made, and the federation evaluated.
    expect(done.status).toBe('completed');
    expect(inputDim).toBe(10);
    const round1 = fits.filter((f) => f.round === 1).map((f) => f.siteId).sort();
    expect(round1).toEqual(['site-1', 'site-2', 'site-3']);
    expect(fits.every((f) => f.numExamples >= 8)).toBe(true);
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds).toHaveLength(2);
    expect(Number.isFinite(rounds.at(-1)?.metrics?.loss)).toBe(true);
  });

  it('a site whose cohort is empty declines the study with a reason and the others go on', async () => {
    const inputDim = studyFeatureColumns(validateConfig(StudyDataSchema, emrContract, 'test')).length;
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'synthea-b', dataset: 'synthea-b', inputDim, rounds: 1, minSites: 2, secureAggregation: false, data: validateConfig(StudyDataSchema, emrContract, 'test') }));

    const done = await fed.coordinator.runStudy(study.id);

    expect(done.status).toBe('completed');
    const refused = fed.events.filter((e) => e.type === 'site-finished' && e.studyId === study.id && e.siteId === 'site-3' && e.phase === 'fit');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.type === 'site-finished' && e.outcome !== 'ok' && (e.reason ?? '').includes('TESSERA_STUDYDATA_EMPTY_COHORT'))).toBe(true);
  });

  it('trains an imaging study whose labels come from EMR codes that each site codes its own way (site 2 from a separate emr dataset)', async () => {
    const contract = {
      kind: 'imaging',
      cohort: { imaging: { modality: ['CR'], bodyPart: ['CHEST'], procedure: [{ system: 'radlex', code: 'RPID1301' }] } },
      index: { event: 'imaging-study' },
      windows: { label: { lookbackDays: 30, lookaheadDays: 30 } },
      label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '233604007' }, { system: 'icd10', code: 'J18.9' }] } },
      split: { test: 0.25 },
    };
    const before = fits.length;
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'chest-emr-labels', dataset: 'chest', inputDim: 256, rounds: 3, minSites: 3, training: { localEpochs: 5, batchSize: 6, learningRate: 0.5, optimizer: 'sgd' }, data: validateConfig(StudyDataSchema, contract, 'test') }));

    const done = await fed.coordinator.runStudy(study.id);

    expect(done.status).toBe('completed');
    const mine = fits.slice(before);
    expect(mine.filter((f) => f.round === 1).map((f) => f.siteId).sort()).toEqual(['site-1', 'site-2', 'site-3']);
    // The bright square marks pneumonia: a logistic regression on 16×16 pixels separates it once the labels are right.
    // 24 patients per site, a quarter held out: 18 train images each.
    expect(mine.every((f) => f.numExamples === 18)).toBe(true);
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds.at(-1)?.metrics?.accuracy).toBeGreaterThan(0.7);

    // The same contract as `tessera data check --study` sees it at site 3 (local code mapped): counts only,
    // those under the site's minimum suppressed; then a stricter selection skips every image, with the reason.
    const cfg = { kind: 'imaging-study' as const, dicom: '', fhir: '', cache: path.join(fed.dir, 'cache', 'site-3', 'chest'), secret: path.join(fed.dir, 'secrets', 'site-3.key'), inputShape: [16, 16, 1] as [number, number, number], mapping: path.join(work, 'site-3', 'mapping.yaml') };
    const source = await openImagingSource('chest', cfg, fed.dir);
    const spec = validateConfig(StudyDataSchema, contract, 'test');
    const seen = await studyFeasibility(source, spec, 'chest-emr-labels', { minCellCount: 10 });
    expect(seen.trainable).toBe(true);
    expect(seen.patients.inCohort).toBe(24);
    expect(seen.labelsPerClass).toEqual({ negative: 12, positive: 12 });
    expect(seen.images).toEqual({ used: 24, skipped: '<10', skippedByReason: {} });
    const ct = await studyFeasibility(source, { ...spec, cohort: { ...spec.cohort, imaging: { modality: ['CT'] } } }, 'chest-emr-labels', { minCellCount: 10 });
    expect(ct.trainable).toBe(false);
    expect(ct.declined?.code).toBe('TESSERA_STUDYDATA_EMPTY_COHORT');
  });

  it('trains an imaging study with EMR features as a second model input, and refuses them on an image-only model', async () => {
    // Arrange: the imaging contract of the test above, plus age and sex at the index date as features.
    const contract = {
      kind: 'imaging',
      cohort: { imaging: { modality: ['CR'], bodyPart: ['CHEST'], procedure: [{ system: 'radlex', code: 'RPID1301' }] } },
      index: { event: 'imaging-study' },
      windows: { features: { lookbackDays: 3650, lookaheadDays: -30 }, label: { lookbackDays: 30, lookaheadDays: 30 } },
      features: { demographics: ['age', 'sex'] },
      label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '233604007' }, { system: 'icd10', code: 'J18.9' }] } },
      split: { test: 0.25 },
    };
    const data = validateConfig(StudyDataSchema, contract, 'test');
    const inputDim = 28 * 28 + 2;
    await expect(fed.coordinator.createStudy(makeStudy({ id: 'chest-emr-img-only', dataset: 'chest28', model: 'cnn-small', inputDim: 28 * 28, data }))).rejects.toThrow(
      /'data.features' declares 2 column\(s\), but model 'cnn-small' takes images only \(no feature input\)/,
    );
    await expect(fed.coordinator.createStudy(makeStudy({ id: 'chest-emr-dim', dataset: 'chest28', model: 'cnn-small-emr', inputDim: 28 * 28 + 3, data }))).rejects.toThrow(/leaves 3 feature column\(s\) after the image for model 'cnn-small-emr', but 'data.features' makes 2/);
    const before = fits.length;
    const study = await fed.coordinator.createStudy(
      makeStudy({ id: 'chest-emr-features', dataset: 'chest28', model: 'cnn-small-emr', inputDim, rounds: 3, minSites: 3, training: { localEpochs: 5, batchSize: 6, learningRate: 0.01, optimizer: 'adam' }, data }),
    );

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert: every site trained its 18 images, each row 784 pixels + 2 features.
    expect(done.status).toBe('completed');
    const mine = fits.slice(before);
    expect(mine.filter((f) => f.round === 1).map((f) => f.siteId).sort()).toEqual(['site-1', 'site-2', 'site-3']);
    expect(mine.every((f) => f.numExamples === 18)).toBe(true);
    const rounds = (await fed.coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds.at(-1)?.metrics?.accuracy).toBeGreaterThan(0.7);

    // The rows themselves, from site 1's cache through the gates: the feature columns follow the pixels, z-scored
    // on the training patients; sex_female takes two values, the larger on the 16 women's images (i mod 3 ≠ 0).
    const cfg = { kind: 'imaging-study' as const, dicom: '', fhir: '', cache: path.join(fed.dir, 'cache', 'site-1', 'chest28'), secret: path.join(fed.dir, 'secrets', 'site-1.key'), inputShape: [28, 28, 1] as [number, number, number], mapping: path.join(work, 'site-1', 'mapping.yaml') };
    const { dataset } = await buildStudyDataset(await openImagingSource('chest28', cfg, fed.dir), data, 'chest-emr-features');
    expect(dataset.featureNames).toEqual(['age', 'sex_female']);
    const splits = [dataset.train, dataset.test, ...(dataset.val !== undefined ? [dataset.val] : [])];
    expect(splits.every((sp) => sp.d === inputDim)).toBe(true);
    const sex = splits.flatMap((sp) => Array.from({ length: sp.n }, (_, i) => sp.x[i * sp.d + 785] as number));
    const values = [...new Set(sex.map((v) => v.toFixed(5)))].map(Number).sort((a, b) => a - b);
    expect(values).toHaveLength(2);
    expect(sex.filter((v) => v > 0).length).toBe(16);
    // Every patient was born on the same day: age is constant, so it z-scores to 0.
    expect(splits.every((sp) => Array.from({ length: sp.n }, (_, i) => sp.x[i * sp.d + 784]).every((v) => Math.abs(v ?? 1) < 1e-6))).toBe(true);
  });
});
