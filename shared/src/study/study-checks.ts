import { ConfigError } from '../errors.js';
import { getModelSpec } from '../ml/model-registry.js';
import { featureCount, headOf, resolveInputShape, type ModelSpec } from '../ml/model-spec.js';
import { studyFeatureColumns, type StudyData } from './study-data-spec.js';
import type { StudySpec } from './study-spec.js';

/**
 * Checks the fields of a study that constrain each other and that the schema cannot relate, so a contract
 * that can never run is refused when it is submitted (REST or `tessera coordinator --study`), not at its
 * first round.
 * @throws ConfigError naming the field.
 */
export function checkStudyCrossFields(spec: Pick<StudySpec, 'id' | 'minSites' | 'maxSites'> & Partial<Pick<StudySpec, 'model' | 'training' | 'privacy'>>): void {
  if (spec.maxSites !== undefined && spec.minSites > spec.maxSites) {
    throw new ConfigError(`study '${spec.id}': 'minSites' (${spec.minSites}) must be ≤ 'maxSites' (${spec.maxSites})`, { field: 'minSites' });
  }
  if (spec.training?.classWeighting === 'balanced') {
    const field = 'training.classWeighting';
    if (spec.privacy?.mode === 'record') throw new ConfigError(`study '${spec.id}': '${field}' cannot be used with record-level privacy (DP-SGD's accounting assumes unweighted examples)`, { field });
    if (spec.model !== undefined && headOf(getModelSpec(spec.model)).kind !== 'binary') {
      throw new ConfigError(`study '${spec.id}': '${field}' needs a binary model; '${spec.model}' is not`, { field });
    }
  }
}

/**
 * An imaging study's `data.features` against its model: an image model takes the feature columns only
 * through a feature input (`featureInput`, e.g. `resnet-small-emr`, `cnn-small-emr`), whose rows are
 * `[pixels…, features…]` with exactly the contract's number of columns after the pixels; a model with a
 * feature input needs the contract to declare features. A vector model (e.g. `logreg`) takes the same rows
 * as one vector. Both roles run it: the coordinator when the study is created, each site before training.
 * @throws ConfigError naming the field.
 */
export function checkStudyDataModel(data: StudyData, model: ModelSpec, inputDim: number, source: string): void {
  if (data.kind !== 'imaging') return;
  const columns = studyFeatureColumns(data);
  const image = model.inputShape !== undefined || model.imageInput !== undefined;
  if (columns.length > 0 && image && model.featureInput === undefined) {
    throw new ConfigError(`${source}: 'data.features' declares ${columns.length} column(s), but model '${model.name}' takes images only (no feature input); use a model with one, e.g. resnet-small-emr or cnn-small-emr`, { source, field: 'data.features' });
  }
  if (columns.length === 0 && model.featureInput !== undefined) {
    throw new ConfigError(`${source}: model '${model.name}' has a feature input, but 'data.features' declares no column`, { source, field: 'data.features' });
  }
  if (model.featureInput === undefined) return;
  let features: number;
  try {
    features = featureCount(resolveInputShape(model, inputDim), inputDim);
  } catch (err) {
    throw new ConfigError(`${source}: 'inputDim' ${inputDim} does not fit model '${model.name}' with the ${columns.length} feature column(s) of 'data.features' (${err instanceof Error ? err.message : String(err)})`, { source, field: 'inputDim' }, { cause: err });
  }
  if (features !== columns.length) {
    throw new ConfigError(`${source}: 'inputDim' ${inputDim} leaves ${features} feature column(s) after the image for model '${model.name}', but 'data.features' makes ${columns.length} (${columns.join(', ')})`, { source, field: 'inputDim' });
  }
}
