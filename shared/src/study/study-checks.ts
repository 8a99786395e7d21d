import { ConfigError } from '../errors.js';
import { getModelSpec } from '../ml/model-registry.js';
import { headOf } from '../ml/model-spec.js';
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
