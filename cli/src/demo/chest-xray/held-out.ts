/**
 * The chest-xray demo's held-out evaluation: the consortium scores the selected global model on the
 * official PneumoniaMNIST test split (624 images), which the generator wrote in the three hospitals'
 * export formats but gave to no site. Each image is decoded and preprocessed by the same site pipeline
 * the agents use, so the score is what the model does on a hospital's raw export; the held-out images
 * take no part in training or in model selection (the sites' own validation splits choose the round).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { ModelRepository } from '../../../../coordinator/src/store/blob-store.js';
import { SqliteCoordinatorStore } from '../../../../coordinator/src/store/sqlite-store.js';
import { InputError } from '../../../../shared/src/errors.js';
import { rocAuc } from '../../../../shared/src/ml/metrics.js';
import { getModelSpec } from '../../../../shared/src/ml/model-registry.js';
import { decodeWeights } from '../../../../shared/src/ml/weights.js';
import { parseDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { Trainer } from '../../../../site-agent/src/training/trainer.js';
import { HELD_OUT_LABELS } from './generate.js';
import { chestModelInput } from './pipeline.js';

/** What the held-out evaluation found. */
export interface HeldOutResult {
  auc: number;
  accuracy: number;
  loss: number;
  examples: number;
  positives: number;
  /** Per export format (the site whose PACS wrote the file). */
  perSite: Record<string, { examples: number; auc: number }>;
  /** Round and version of the scored model. */
  round: number;
  modelVersion: string;
}

/**
 * Scores model version `modelVersion` of study `studyId` (read from the coordinator's `dataDir`) on the
 * held-out images under `generatedDir`.
 * @throws InputError when the labels file, a held-out image or the model version is missing.
 */
export async function evaluateHeldOut(opts: { generatedDir: string; coordinatorDataDir: string; studyId: string; modelVersion: string }): Promise<HeldOutResult> {
  const labelsFile = path.join(opts.generatedDir, HELD_OUT_LABELS);
  const labels = JSON.parse(
    await readFile(labelsFile, 'utf8').catch((err: unknown) => {
      throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `cannot read the held-out labels ${labelsFile}`, { file: labelsFile }, { cause: err });
    }),
  ) as Record<string, number>;
  const store = await SqliteCoordinatorStore.open(path.join(opts.coordinatorDataDir, 'coordinator.sqlite'));
  let weights: Float32Array;
  let round: number;
  let modelName: string;
  let inputDim: number;
  try {
    const study = await store.getStudy(opts.studyId);
    if (!study) throw new InputError('TESSERA_INPUT_NOT_FOUND', `no study '${opts.studyId}' in ${opts.coordinatorDataDir}`);
    const version = (await store.listModelVersions(opts.studyId)).find((v) => v.sha256 === opts.modelVersion);
    if (!version) throw new InputError('TESSERA_INPUT_NOT_FOUND', `study '${opts.studyId}' has no model version ${opts.modelVersion.slice(0, 16)}`);
    weights = decodeWeights(await new ModelRepository(path.join(opts.coordinatorDataDir, 'models')).get(version.sha256), version.numParams);
    round = version.round;
    modelName = study.spec.model;
    inputDim = study.spec.inputDim;
  } finally {
    await store.close();
  }
  const spec = getModelSpec(modelName);
  const shape = spec.inputShape;
  if (shape === undefined) throw new InputError('TESSERA_INPUT_NOT_FOUND', `model '${modelName}' takes no images`);
  const files = Object.keys(labels).sort();
  const x = new Float32Array(files.length * inputDim);
  const y = new Float32Array(files.length);
  const siteOf: string[] = [];
  for (const [i, file] of files.entries()) {
    const bytes = await readFile(path.join(opts.generatedDir, file));
    x.set(await chestModelInput(parseDicom(bytes, file), file, shape), i * inputDim);
    y[i] = labels[file] as number;
    siteOf.push(path.basename(path.dirname(file)));
  }
  const trainer = await Trainer.create({ spec, inputDim });
  try {
    const data = { x, y, n: files.length, d: inputDim };
    const scored = trainer.evaluate(weights, data);
    const p = trainer.predict(weights, data);
    const perSite: HeldOutResult['perSite'] = {};
    for (const site of [...new Set(siteOf)].sort()) {
      const idx = siteOf.flatMap((s, i) => (s === site ? [i] : []));
      perSite[site] = { examples: idx.length, auc: rocAuc(Float32Array.from(idx.map((i) => p[i] as number)), Float32Array.from(idx.map((i) => y[i] as number))) };
    }
    return { auc: scored.auc, accuracy: scored.accuracy, loss: scored.loss, examples: files.length, positives: y.reduce((a, b) => a + b, 0), perSite, round, modelVersion: opts.modelVersion };
  } finally {
    trainer.dispose();
  }
}
