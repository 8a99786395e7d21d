import { existsSync } from 'node:fs';
import path from 'node:path';
import { getBuiltinSchema, HEART_DISEASE_SITES, prepareSiteDataset, writeSyntheticCohort } from '../../../site-agent/src/hospital/datasets/index.js';
import { convertMedmnistToSites } from '../../../site-agent/src/hospital/datasets/medmnist-convert.js';
import { loadImageCache } from '../../../site-agent/src/hospital/ingest/image-study.js';
import { getModelSpec } from '../../../shared/src/ml/model-registry.js';
import { ROBUST_STRATEGIES, type StudySpec } from '../../../shared/src/study/study-spec.js';
import { sharedDataDir } from '../public-data.js';
import type { DemoArgs } from './demo-args.js';
import { DEMO_DEFAULTS, demoStudy } from './demo-study.js';
import { ChestPlanError, chestModel, chestStudyData, prepareChestXray, type ChestPrepared } from '../demo/chest-xray/index.js';
import { StudyDataSchema } from '../../../shared/src/study/study-data-spec.js';
import { validateConfig } from '../../../shared/src/config/validate.js';

/** One demo site: its id and the agent.yaml `datasets` entry of the study's dataset. */
export interface DemoSite {
  id: string;
  dataset: Record<string, unknown>;
  /** agent.yaml `sources` (the PACS a site pulls from, `--pacs`). */
  sources?: Record<string, unknown>;
}

/** What the demo will run: the sites with their local data, the study, and what only the sites know. */
export interface DemoPlan {
  sites: DemoSite[];
  spec: StudySpec;
  /**
   * Under secure aggregation the coordinator never learns a site's example count (only the sum of the
   * bucketed counts), so the demo, which plays every site, reads the sites' counts from their data.
   */
  localTrainExamples: Map<string, number>;
  /** `--dataset chest-xray`: the hospitals' holdings, PACS and timings. */
  chest?: ChestPrepared;
}

/** Why a plan could not be made: the message for stderr and whether it is a usage error or missing input. */
export class DemoPlanError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'input-missing',
  ) {
    super(message);
  }
}

/** Prepares each site's local data in the workdir (or finds it) and writes nothing else; throws {@link DemoPlanError}. */
export async function planDemo(a: DemoArgs, say: (line: string) => void): Promise<DemoPlan> {
  const sites: DemoSite[] = [];
  let inputDim: number;
  const localTrainExamples = new Map<string, number>();
  let chest: ChestPrepared | undefined;
  if (a.dataset === 'chest-xray') {
    try {
      chest = await prepareChestXray(a, say);
    } catch (err) {
      if (err instanceof ChestPlanError) throw new DemoPlanError(err.message, err.kind);
      throw err;
    }
    sites.push(...chest.sites);
    inputDim = chest.inputDim;
  } else if (a.dataset === 'breastmnist') {
    sites.push(...(await prepareBreastmnist(a, say)));
    const shape = getModelSpec(a.model ?? DEMO_DEFAULTS.breastmnist.model).inputShape;
    if (shape === undefined) {
      throw new DemoPlanError(`model '${a.model ?? ''}' takes no images; breastmnist needs an image model (e.g. cnn-breastmnist)`, 'usage');
    }
    inputDim = shape[0] * shape[1] * shape[2];
  } else {
    const csvSites: { id: string; csv: string; schema: string }[] = [];
    if (a.dataset === 'synthetic') {
      const files = await writeSyntheticCohort(path.join(a.workdir, 'data'), { sites: a.sites, seed: a.seed });
      files.forEach((csv, i) => csvSites.push({ id: `site-${i + 1}`, csv, schema: 'builtin:synthetic-cohort' }));
    } else {
      for (const s of HEART_DISEASE_SITES.slice(0, a.sites)) {
        csvSites.push({ id: s.id, csv: path.join(a.dataDir, s.file), schema: 'builtin:heart-disease' });
      }
    }
    const first = csvSites[0];
    if (!first) throw new Error('no sites');
    const probe = await prepareSiteDataset({ csvPath: first.csv, schema: getBuiltinSchema(first.schema.slice(8)) });
    inputDim = probe.train.d;
    for (const s of csvSites) sites.push({ id: s.id, dataset: { csv: s.csv, schema: s.schema, seed: 42 } });
    if (a.secureAggregation) {
      for (const s of csvSites) {
        const ds = await prepareSiteDataset({ csvPath: s.csv, schema: getBuiltinSchema(s.schema.slice(8)), seed: 42 });
        localTrainExamples.set(s.id, ds.train.n);
      }
    }
  }
  // Imaging sites ingest through the gate first: wait for all of them so round 1 trains on every share.
  // Robust strategies compare every site's update: each round waits for all of them.
  const allSites = a.dataset === 'breastmnist' || a.dataset === 'chest-xray' || (ROBUST_STRATEGIES as readonly string[]).includes(a.strategy);
  const spec = demoStudy({
    ...a,
    model: a.dataset === 'chest-xray' ? chestModel(a) : a.model,
    inputDim,
    minSites: allSites ? sites.length : Math.min(2, sites.length),
    expectedSites: sites.map((s) => s.id),
  });
  if (chest !== undefined) spec.data = validateConfig(StudyDataSchema, chestStudyData(), 'chest-xray study data');
  return { sites, spec, localTrainExamples, ...(chest !== undefined ? { chest } : {}) };
}

/** Each imaging site's de-identified training count, read from its cache once the study ran (secure aggregation hid it). */
export async function imagingTrainCounts(a: DemoArgs, plan: DemoPlan): Promise<void> {
  const shape = getModelSpec(a.model ?? DEMO_DEFAULTS.breastmnist.model).inputShape ?? [28, 28, 1];
  for (const s of plan.sites) {
    const cache = s.dataset['cache'];
    if (typeof cache !== 'string') continue;
    const ds = await loadImageCache(cache, { shape, dataset: 'breastmnist' }).catch(() => undefined);
    if (ds) plan.localTrainExamples.set(s.id, ds.train.n);
  }
}

/**
 * synthetic identities) unless it already holds site folders, then points each agent at its folder,
 * a de-identified cache and a site secret in the workdir. Throws DemoPlanError when the data is missing.
 */
async function prepareBreastmnist(a: DemoArgs, say: (line: string) => void): Promise<DemoSite[]> {
  const ids = Array.from({ length: a.sites }, (_, i) => `site-${i + 1}`);
  const present = ids.every((id) => existsSync(path.join(a.dataDir, id, 'dicom')) && existsSync(path.join(a.dataDir, id, 'fhir')));
  if (!present) {
    const npz = path.join(sharedDataDir(), 'medmnist', 'breastmnist.npz');
    if (!existsSync(npz)) {
      throw new DemoPlanError(`${a.dataDir} holds no site folders and ${npz} is missing (set --data-dir or TESSERA_SHARED_DATA)`, 'input-missing');
    }
    const res = await convertMedmnistToSites({ npz, outDir: a.dataDir, sites: ids, seed: a.seed });
    for (const s of res.sites) {
      say(`  ${s.id}: ${s.images.train} train / ${s.images.val} val / ${s.images.test} test images as DICOM + FHIR (synthetic patients) in ${s.dir}`);
    }
  }
  const shape = getModelSpec(a.model ?? DEMO_DEFAULTS.breastmnist.model).inputShape ?? [28, 28, 1];
  return ids.map((id) => ({
    id,
    dataset: {
      kind: 'imaging-study',
      dicom: path.join(a.dataDir, id, 'dicom'),
      fhir: path.join(a.dataDir, id, 'fhir'),
      cache: path.join(a.workdir, 'site-cache', id),
      secret: path.join(a.workdir, 'site-secrets', id),
      deidOptions: ['retain-longitudinal-modified-dates'],
      inputShape: [...shape],
    },
  }));
}

