import { describe, expect, it } from 'vitest';
import { resolveStudyPrivacy } from '../../../shared/src/dp/index.js';
import { ConfigError } from '../../../shared/src/errors.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import { dpStudy as study } from '../../helpers/dp-study.js';

// Validating adaptive clipping calibrates the noise of several studies with the PLD accountant, seconds of
// CPU each: apart from the fast site-level DP unit tests (test/unit/dp/site-level-secagg.test.ts).
describe('adaptive clipping in a study', () => {
  it('validates adaptive clipping: site mode, secure aggregation, and 2σ_b > z; σ_b defaults to minSites/20', () => {
    const ok = resolveStudyPrivacy(study({ minSites: 100, privacy: { mode: 'site', epsilon: 4, delta: 1e-5, adaptiveClipping: {} } }));
    expect(ok.privacy?.adaptiveClipping).toEqual({ targetQuantile: 0.5, learningRate: 0.2, countNoise: 5 });
    expect(() => resolveStudyPrivacy(study({ privacy: { mode: 'record', epsilon: 4, delta: 1e-5, adaptiveClipping: {} } }))).toThrow(/adaptive clipping is for site-level DP/);
    expect(() => resolveStudyPrivacy(study({ secureAggregation: false, privacy: { mode: 'site', epsilon: 4, delta: 1e-5, adaptiveClipping: {} } }))).toThrow(/needs secure aggregation/);
    const small = (): StudySpec => resolveStudyPrivacy(study({ minSites: 4, privacy: { mode: 'site', epsilon: 1, delta: 1e-5, adaptiveClipping: {} } }));
    expect(small).toThrow(ConfigError);
    expect(small).toThrow(/needs 2 × countNoise > noiseMultiplier, got countNoise 0.2/);
  });
});
