/** A validated study for the DP tests: `logreg` on 13 inputs, 20 rounds of fedavg, `minSites` 4, with `overrides` on top. */
import { validateConfig } from '../../shared/src/config/validate.js';
import { StudySpecSchema, type StudySpec } from '../../shared/src/study/study-spec.js';

export function dpStudy(overrides: Record<string, unknown>): StudySpec {
  return validateConfig(
    StudySpecSchema,
    { id: 's', name: 's', dataset: 'd', model: 'logreg', inputDim: 13, rounds: 20, strategy: 'fedavg', minSites: 4, ...overrides },
    'study',
  );
}
