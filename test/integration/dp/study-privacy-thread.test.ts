import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveStudyPrivacy } from '../../../shared/src/dp/study-privacy.js';
import { resolveStudyPrivacyOffThread } from '../../../shared/src/dp/study-privacy-thread.js';
import { validateConfig } from '../../../shared/src/config/validate.js';
import { ConfigError } from '../../../shared/src/errors.js';
import { StudySpecSchema, type StudySpec } from '../../../shared/src/study/study-spec.js';

// The compiled worker (npm test type-checks and builds dist/ first): the path a coordinator runs.
const WORKER = new URL('../../../dist/shared/src/dp/study-privacy-worker.js', import.meta.url);

function study(privacy: Record<string, unknown>, rounds = 20): StudySpec {
  return validateConfig(StudySpecSchema, { id: 'dp', name: 'dp', dataset: 'heart-disease', model: 'logreg', inputDim: 13, rounds, strategy: 'fedavg', minSites: 3, privacy }, 'study');
}

describe('DP calibration on a worker thread', () => {
  it('has its compiled worker (run `tsc -b` first, as npm test does)', () => {
    expect(existsSync(fileURLToPath(WORKER))).toBe(true);
  });

  it('gives the inline result while the event loop keeps running', async () => {
    const spec = study({ mode: 'record', epsilon: 1, delta: 1e-5 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    let resolved: StudySpec;
    try {
      resolved = await resolveStudyPrivacyOffThread(spec, WORKER);
    } finally {
      clearInterval(timer);
    }
    // Inline, the loop would be blocked for the whole calibration (hundreds of ms to seconds): no tick at all.
    expect(ticks).toBeGreaterThan(0);
    expect(resolved).toEqual(resolveStudyPrivacy(spec));
    expect(resolved.privacy?.noiseMultiplier).toBeGreaterThan(1);
  }, 120_000);

  it('brings back a ConfigError with its message and field', async () => {
    const spec = study({ mode: 'record', epsilon: 1, delta: 1e-5, noiseMultiplier: 0.3 });
    const err = await resolveStudyPrivacyOffThread(spec, WORKER).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/study 'dp': privacy.noiseMultiplier 0.3 gives ε = .* above the target 1/);
    expect((err as ConfigError).context).toEqual({ field: 'privacy.noiseMultiplier' });
  }, 120_000);

  it('resolves a study without privacy, and runs inline where no compiled worker exists', async () => {
    const plain = validateConfig(StudySpecSchema, { id: 'p', name: 'p', dataset: 'd', model: 'logreg', inputDim: 3, rounds: 1, strategy: 'fedavg' }, 'study');
    expect(await resolveStudyPrivacyOffThread(plain, WORKER)).toBe(plain);
    const site = study({ mode: 'site', epsilon: 8, delta: 1e-5 });
    expect(await resolveStudyPrivacyOffThread(site, new URL('file:///nonexistent/worker.js'))).toEqual(resolveStudyPrivacy(site));
  });
});
