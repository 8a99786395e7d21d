import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { TesseraError } from '../errors.js';
import type { Logger } from '../logging.js';
import { selectBackend } from './backend.js';
import { buildModel, setFlatWeights } from './build-model.js';
import { modelSpecHash, type ModelSpec } from './model-spec.js';
import { weightsSha256 } from './weights.js';

/** Options for {@link exportTfjsModel}. */
export interface ExportTfjsOptions {
  spec: ModelSpec;
  inputDim: number;
  /** Flat weights in `weightLayout(spec, inputDim)` order. */
  weights: Float32Array;
  /** Folder to write into; created if missing. Existing `model.json` / `weights.bin` are overwritten. */
  outDir: string;
  /** @default the logger {@link selectBackend} creates */
  logger?: Logger;
}

/** Where the export went and the SHA-256 (hex) of each file, for the audit log and download checks. */
export interface ExportTfjsResult {
  modelJsonPath: string;
  weightsBinPath: string;
  modelJsonSha256: string;
  weightsBinSha256: string;
}

/** File name of the weights shard referenced from `model.json`. */
export const WEIGHTS_BIN = 'weights.bin';

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/**
 * Writes a trained model in the TF.js layers format: `model.json` (topology from tfjs-layers'
 * own serialiser, one weights manifest group with paths `['weights.bin']`, and Tessera provenance in
 * `userDefinedMetadata`) plus `weights.bin` (little-endian float32, `weightLayout` order). The result
 * loads with `tf.loadLayersModel` in a browser or Node without any Tessera code.
 */
export async function exportTfjsModel(options: ExportTfjsOptions): Promise<ExportTfjsResult> {
  await selectBackend(options.logger !== undefined ? { logger: options.logger } : {});
  const model = buildModel(tfl, options.spec, options.inputDim);
  let artifacts: tf.io.ModelArtifacts | undefined;
  try {
    setFlatWeights(model, options.weights);
    await model.save(
      tf.io.withSaveHandler((a) => {
        artifacts = a;
        return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) });
      }),
    );
  } finally {
    model.dispose();
  }
  if (artifacts?.modelTopology === undefined || artifacts.weightSpecs === undefined) {
    throw new TesseraError('TESSERA_ML_EXPORT_FAILED', 'tfjs-layers produced no model artifacts', {
      model: options.spec.name,
    });
  }
  const weightData = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const modelJson = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
    userDefinedMetadata: {
      tessera: {
        spec: options.spec.name,
        specSha256: modelSpecHash(options.spec),
        inputDim: options.inputDim,
        weightsSha256: weightsSha256(options.weights),
      },
    },
  };
  const json = JSON.stringify(modelJson);
  await mkdir(options.outDir, { recursive: true });
  const modelJsonPath = path.join(options.outDir, 'model.json');
  const weightsBinPath = path.join(options.outDir, WEIGHTS_BIN);
  await writeFile(weightsBinPath, weightData);
  await writeFile(modelJsonPath, json, 'utf8');
  return { modelJsonPath, weightsBinPath, modelJsonSha256: sha256(json), weightsBinSha256: sha256(weightData) };
}
