import { ConfigError } from '../errors.js';
import type { StudySpec } from './study-spec.js';

/**
 * Checks the fields of a study that constrain each other and that the schema cannot relate, so a contract
 * that can never run is refused when it is submitted (REST or `tessera coordinator --study`), not at its
 * first round.
 * @throws ConfigError naming the field.
 */
export function checkStudyCrossFields(spec: Pick<StudySpec, 'id' | 'minSites' | 'maxSites'>): void {
  if (spec.maxSites !== undefined && spec.minSites > spec.maxSites) {
    throw new ConfigError(`study '${spec.id}': 'minSites' (${spec.minSites}) must be ≤ 'maxSites' (${spec.maxSites})`, { field: 'minSites' });
  }
}
