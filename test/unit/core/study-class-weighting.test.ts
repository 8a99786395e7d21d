import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/src/errors.js';
import { validateConfig } from '../../../shared/src/config/validate.js';
import { checkStudyCrossFields } from '../../../shared/src/study/study-checks.js';
import { StudySpecSchema, type StudySpec } from '../../../shared/src/study/study-spec.js';
import { RoundTasks } from '../../../coordinator/src/rounds/round-tasks.js';

function study(over: Record<string, unknown>): StudySpec {
  return validateConfig(StudySpecSchema, { id: 's', name: 's', dataset: 'd', model: 'cnn-small', inputDim: 784, rounds: 1, strategy: 'fedavg', minSites: 1, ...over }, 'test');
}

describe("study training.classWeighting ('balanced')", () => {
  it('is accepted for a binary model and travels in every fit task', () => {
    const spec = study({ training: { classWeighting: 'balanced' } });
    expect(() => checkStudyCrossFields(spec)).not.toThrow();
    const tasks = new RoundTasks(spec, { studyId: 's', round: 1, attempt: 1 }, () => 0, undefined);
    expect(tasks.make('fit', 'site-1', { version: 'v', digest: 'd', bytes: 4 }).training?.classWeighting).toBe('balanced');
    const plain = new RoundTasks(study({}), { studyId: 's', round: 1, attempt: 1 }, () => 0, undefined);
    expect(plain.make('fit', 'site-1', { version: 'v', digest: 'd', bytes: 4 }).training?.classWeighting).toBeUndefined();
  });

  it('refuses an unknown weighting, a multi-class model and record-level privacy, naming the field', () => {
    expect(() => study({ training: { classWeighting: 'inverse' } })).toThrow(/classWeighting/);
    const multi = study({ model: 'resnet-small-multiclass-8', inputDim: 64 * 64 * 3, training: { classWeighting: 'balanced' } });
    expect(() => checkStudyCrossFields(multi)).toThrow(ConfigError);
    expect(() => checkStudyCrossFields(multi)).toThrow(/'training.classWeighting' needs a binary model/);
    const dp = study({ training: { classWeighting: 'balanced' }, privacy: { mode: 'record', epsilon: 3, delta: 1e-5 } });
    expect(() => checkStudyCrossFields(dp)).toThrow(/record-level privacy/);
  });
});
