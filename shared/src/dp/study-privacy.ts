import { ConfigError, errorMessage } from '../errors.js';
import type { StudyPrivacy, StudySpec } from '../study/study-spec.js';
import { calibrateNoiseMultiplier, epsilonFor } from './accountant.js';

/** A study's privacy settings with the noise multiplier resolved. */
export type ResolvedStudyPrivacy = StudyPrivacy & { noiseMultiplier: number };

/** Total DP-SGD steps a study runs at each site. */
export function studySteps(spec: Pick<StudySpec, 'rounds'>, privacy: StudyPrivacy): number {
  return spec.rounds * privacy.stepsPerRound;
}

/**
 * Fills in `privacy.noiseMultiplier` when the study leaves it out: the smallest σ for which
 * `rounds × stepsPerRound` Poisson-subsampled steps at `samplingRate` are (ε, δ)-DP under the study's
 * accountant. A given σ is checked instead: it must reach the target.
 * @throws ConfigError when the settings cannot reach the target.
 */
export function resolveStudyPrivacy(spec: StudySpec): StudySpec {
  const p = spec.privacy;
  if (p === undefined) return spec;
  const event = { q: p.samplingRate, steps: studySteps(spec, p) };
  let sigma: number;
  try {
    sigma =
      p.noiseMultiplier ??
      calibrateNoiseMultiplier({ epsilon: p.epsilon, delta: p.delta, q: event.q, steps: event.steps, accountant: p.accountant, tolerance: 1e-4 });
  } catch (err) {
    throw new ConfigError(`study '${spec.id}': privacy target cannot be reached: ${errorMessage(err)}`, { field: 'privacy' });
  }
  const eps = epsilonFor(p.accountant, { ...event, sigma }, p.delta);
  if (eps > p.epsilon * (1 + 1e-9)) {
    throw new ConfigError(`study '${spec.id}': privacy.noiseMultiplier ${sigma} gives ε = ${eps.toFixed(3)} over ${event.steps} steps, above the target ${p.epsilon}`, {
      field: 'privacy.noiseMultiplier',
    });
  }
  return { ...spec, privacy: { ...p, noiseMultiplier: sigma } };
}
