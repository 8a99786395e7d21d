import { ConfigError, errorMessage } from '../errors.js';
import type { StudyPrivacy, StudySpec } from '../study/study-spec.js';
import { calibrateNoiseMultiplier, epsilonFor } from './accountant.js';

/** A study's privacy settings with the noise multiplier resolved. */
export type ResolvedStudyPrivacy = StudyPrivacy & { noiseMultiplier: number };

/** Total DP steps of a study: DP-SGD steps at each site (record), or rounds (site). */
export function studySteps(spec: Pick<StudySpec, 'rounds'>, privacy: StudyPrivacy): number {
  return privacy.mode === 'site' ? spec.rounds : spec.rounds * privacy.stepsPerRound;
}

/** The sampling rate the accountant uses: Poisson rate of records (record) or 1, every site every round (site). */
export function studySamplingRate(privacy: StudyPrivacy): number {
  return privacy.mode === 'site' ? 1 : privacy.samplingRate;
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
  const event = { q: studySamplingRate(p), steps: studySteps(spec, p) };
  let sigma: number;
  try {
    sigma =
      p.noiseMultiplier ??
      calibrateNoiseMultiplier({ epsilon: p.epsilon, delta: p.delta, q: event.q, steps: event.steps, accountant: p.accountant, tolerance: 1e-4 });
  } catch (err) {
    throw new ConfigError(`study '${spec.id}': privacy target cannot be reached: ${errorMessage(err)}`, { field: 'privacy' });
  }
  // Site level without secure aggregation: the coordinator sees each site's update with its share
  // σ/√minSites of the noise, so that share must reach the target on its own (the sum then carries
  // √minSites times more noise than needed). Under secure aggregation only the sum of ≥ minSites
  // sites is decoded, and σ is that of the sum.
  const share = siteNoiseShareFactor(spec, p);
  if (p.noiseMultiplier === undefined) sigma *= share;
  const eps = epsilonFor(p.accountant, { ...event, sigma: sigma / share }, p.delta);
  if (eps > p.epsilon * (1 + 1e-9)) {
    throw new ConfigError(`study '${spec.id}': privacy.noiseMultiplier ${sigma} gives ε = ${eps.toFixed(3)} over ${event.steps} steps, above the target ${p.epsilon}`, {
      field: 'privacy.noiseMultiplier',
    });
  }
  const resolved: StudyPrivacy = { ...p, noiseMultiplier: sigma };
  if (p.adaptiveClipping) {
    if (p.mode !== 'site') throw new ConfigError(`study '${spec.id}': adaptive clipping is for site-level DP (privacy.mode: site)`, { field: 'privacy.adaptiveClipping' });
    if (!spec.secureAggregation) {
      throw new ConfigError(`study '${spec.id}': adaptive clipping needs secure aggregation (the count of unclipped sites is summed under the masks)`, { field: 'privacy.adaptiveClipping' });
    }
    const countNoise = p.adaptiveClipping.countNoise ?? spec.minSites / 20;
    if (!(2 * countNoise > sigma)) {
      throw new ConfigError(
        `study '${spec.id}': adaptive clipping needs 2 × countNoise > noiseMultiplier, got countNoise ${countNoise} and noiseMultiplier ${sigma.toFixed(3)}; raise privacy.adaptiveClipping.countNoise (Andrew et al. use minSites/20 with many sites) or use fixed clipping`,
        { field: 'privacy.adaptiveClipping.countNoise' },
      );
    }
    resolved.adaptiveClipping = { ...p.adaptiveClipping, countNoise };
  }
  return { ...spec, privacy: resolved };
}

/**
 * √minSites for site-level DP without secure aggregation (each site's release carries only its share
 * σ/√minSites of the noise and is what the coordinator sees), else 1.
 */
export function siteNoiseShareFactor(spec: Pick<StudySpec, 'minSites' | 'secureAggregation'>, p: Pick<StudyPrivacy, 'mode'>): number {
  return p.mode === 'site' && !spec.secureAggregation ? Math.sqrt(spec.minSites) : 1;
}
