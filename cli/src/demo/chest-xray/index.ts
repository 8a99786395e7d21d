/**
 * `tessera demo --dataset chest-xray`, as the demo command calls it: {@link prepareChestXray} before the
 * federation starts (holdings, PACS, each site's agent.yaml pieces), {@link finishChestXray} after the
 * study (held-out score, per-site label counts, timings).
 */
import path from 'node:path';

import { getModelSpec } from '../../../../shared/src/ml/model-registry.js';
import type { DemoPacs } from './orthanc.js';
import { evaluateHeldOut } from './held-out.js';
import { ChestPlanError, ensureChestHoldings, planChestSites, type ChestHoldings, type ChestSitePlan } from './plan.js';
import { CHEST_ANCHOR_AUC, type ChestSiteLabels, type ChestXrayReport } from './report.js';
import { CHEST_DEFAULTS } from './study.js';

export { ChestPlanError } from './plan.js';
export { printChestXray, type ChestXrayReport } from './report.js';
export { CHEST_DATASET, CHEST_DEFAULTS, chestStudyData } from './study.js';
export { chestSiteLabels } from './labels.js';

/** What the demo's arguments give the chest-xray demo. */
export interface ChestDemoArgs {
  workdir: string;
  dataDir: string;
  seed: number;
  quick: boolean;
  pacs: boolean;
  model: string | undefined;
}

/** Prepared before the federation starts. */
export interface ChestPrepared {
  sites: ChestSitePlan[];
  inputShape: readonly [number, number, number];
  inputDim: number;
  holdings: ChestHoldings & { reused: boolean };
  pacs: DemoPacs[];
  pacsLoadMs: number;
}

/** The model the demo trains: `--model`, else the tuned default of the full or quick form. */
export function chestModel(a: Pick<ChestDemoArgs, 'model' | 'quick'>): string {
  return a.model ?? (a.quick ? CHEST_DEFAULTS.quick.model : CHEST_DEFAULTS.full.model);
}

/** Generates or finds the holdings, starts the PACS with `--pacs`, and plans each site. @throws ChestPlanError */
export async function prepareChestXray(a: ChestDemoArgs, say: (line: string) => void): Promise<ChestPrepared> {
  const shape = getModelSpec(chestModel(a)).inputShape;
  if (shape === undefined || shape[2] !== 1) throw new ChestPlanError(`model '${chestModel(a)}' does not take grey images; chest-xray needs an image model with one channel (e.g. cnn-breastmnist)`, 'usage');
  const o = { workdir: a.workdir, dataDir: a.dataDir, seed: a.seed, quick: a.quick, pacs: a.pacs, inputShape: shape };
  const holdings = await ensureChestHoldings(o, say);
  const started = Date.now();
  const { sites, pacs } = await planChestSites(o, say);
  return { sites, inputShape: shape, inputDim: shape[0] * shape[1] * shape[2], holdings, pacs, pacsLoadMs: a.pacs ? Date.now() - started : 0 };
}

/** Stops the hospitals' PACS (with `--pacs`). */
export async function stopChestPacs(p: ChestPrepared): Promise<void> {
  await Promise.all(p.pacs.map((x) => x.stop()));
}

/**
 * After the study: scores the selected model on the held-out official test split and gathers the sites'
 * label counts (`labels`, from each site's evaluation of the study) into the report section.
 */
export async function finishChestXray(
  a: ChestDemoArgs,
  p: ChestPrepared,
  run: { studyId: string; modelVersion: string | null; federationMs: number; labels: ChestSiteLabels[] },
  say: (line: string) => void,
): Promise<ChestXrayReport> {
  const started = Date.now();
  let heldOut: ChestXrayReport['heldOut'] = null;
  if (run.modelVersion !== null) {
    say(`scoring the selected model on the held-out official test split (${p.holdings.sites.reduce((n, s) => n + s.images.test, 0)} images) through the site pipeline`);
    heldOut = await evaluateHeldOut({ generatedDir: a.dataDir, coordinatorDataDir: path.join(a.workdir, 'coordinator-data'), studyId: run.studyId, modelVersion: run.modelVersion });
  }
  return {
    heldOut,
    anchorAuc: CHEST_ANCHOR_AUC,
    inputShape: [...p.inputShape],
    sourceSize: 28,
    quick: a.quick,
    pacs: a.pacs,
    sites: run.labels,
    timings: { generateMs: p.holdings.generateMs, generatedEarlier: p.holdings.reused, pacsLoadMs: p.pacsLoadMs, federationMs: run.federationMs, heldOutMs: Date.now() - started },
  };
}
