import { nextClipNorm, siteLevelScale, updatePartNoiseMultiplier } from '../../../shared/src/dp/site-level.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { StrategyStateData } from './strategy-state.js';
import type { DpPlan } from './site-task.js';

/**
 * Differential-privacy planning of one round, pure: from the study's contract, the state the last commit
 * left (adaptive clipping's bound) and the cohort, what each site is told (its {@link DpPlan}), how the
 * secure sum is scaled, and where adaptive clipping moves the bound for the next round. No I/O, no clock.
 */
export interface RoundDpPlan {
  /** Site-level DP: this round's L2 clipping bound (undefined without site-level DP). */
  clipNorm: number | undefined;
  /** Site-level DP under secure aggregation: integer units per unit of update, fixed for the round. */
  siteScale: number | undefined;
  /** What fit tasks carry; undefined for a study without DP. */
  dp: DpPlan | undefined;
  /** Site-level DP under secure aggregation: how the secure sum is encoded (scale, with a count coordinate). */
  siteLevel: { scale: number; withCount: boolean } | undefined;
}

type Privacy = NonNullable<StudySpec['privacy']>;

function resolvedNoise(spec: StudySpec, p: Privacy): number {
  if (p.noiseMultiplier === undefined) throw new Error(`study ${spec.id}: privacy.noiseMultiplier was not resolved`);
  return p.noiseMultiplier;
}

/** This round's site-level clipping bound: the study's, or where adaptive clipping left it at the last commit. */
export function clipNormForRound(spec: StudySpec, saved: Pick<StrategyStateData, 'clipNorm'> | undefined): number | undefined {
  const p = spec.privacy;
  if (p?.mode !== 'site') return undefined;
  if (!p.adaptiveClipping) return p.clipNorm;
  return saved?.clipNorm ?? p.clipNorm;
}

/** Integer units per unit of update for site-level DP under secure aggregation (no wrap up to 12σ). */
export function siteLevelScaleFor(spec: StudySpec, clipNorm: number | undefined, cohortSize: number, dim: number): number {
  const p = spec.privacy;
  if (!p) throw new Error(`study ${spec.id} has no privacy settings`);
  const countNoise = p.adaptiveClipping?.countNoise;
  return siteLevelScale({
    clip: clipNorm ?? p.clipNorm,
    noiseMultiplier: updatePartNoiseMultiplier(resolvedNoise(spec, p), countNoise !== undefined ? { countNoise } : undefined),
    noiseShares: spec.minSites,
    cohortSize,
    dim,
  });
}

/** The DP settings a fit task carries. */
export function dpPlanFor(spec: StudySpec, clipNorm: number | undefined, siteScale: number | undefined): DpPlan | undefined {
  const p = spec.privacy;
  if (!p) return undefined;
  const clip = clipNorm ?? p.clipNorm;
  return {
    mode: p.mode,
    noiseMultiplier: resolvedNoise(spec, p),
    clipNorm: clip,
    samplingRate: p.samplingRate,
    stepsPerRound: p.stepsPerRound,
    plannedRounds: spec.rounds,
    targetEpsilon: p.epsilon,
    delta: p.delta,
    accountant: p.accountant,
    noiseShares: spec.minSites,
    // Plain: 2^20 integer units per clipping bound (rounding adds at most √d to the integer L2 norm).
    // Secure: as many units as the cohort's 32-bit sum allows with 12σ of noise headroom.
    quantizationScale: spec.secureAggregation && siteScale !== undefined ? siteScale : 2 ** 20 / clip,
    secureAggregation: spec.secureAggregation,
    countNoise: p.adaptiveClipping?.countNoise ?? 0,
  };
}

/** The whole plan of a round over a cohort of `cohortSize` sites and a model of `dim` parameters. */
export function planRoundDp(spec: StudySpec, saved: Pick<StrategyStateData, 'clipNorm'> | undefined, cohortSize: number, dim: number): RoundDpPlan {
  const clipNorm = clipNormForRound(spec, saved);
  const p = spec.privacy;
  const siteScale = spec.secureAggregation && p?.mode === 'site' ? siteLevelScaleFor(spec, clipNorm, cohortSize, dim) : undefined;
  return {
    clipNorm,
    siteScale,
    dp: dpPlanFor(spec, clipNorm, siteScale),
    siteLevel: siteScale !== undefined ? { scale: siteScale, withCount: p?.adaptiveClipping !== undefined } : undefined,
  };
}

/**
 * Adaptive clipping: the bound of the next round from the noisy count of contributors whose update was
 * within this round's bound. Undefined when the study has no adaptive clipping or the count is missing.
 */
export function nextClipFor(spec: StudySpec, clipNorm: number | undefined, noisyUnclipped: number | undefined, contributors: number): number | undefined {
  const adaptive = spec.privacy?.adaptiveClipping;
  if (!adaptive || noisyUnclipped === undefined || clipNorm === undefined) return undefined;
  return nextClipNorm(clipNorm, noisyUnclipped, contributors, { targetQuantile: adaptive.targetQuantile, learningRate: adaptive.learningRate, countNoise: adaptive.countNoise ?? 0 });
}

/** The clipping bound the round commits with (adaptive clipping only): the next one, or this one when none was learned. */
export function committedClip(spec: StudySpec, clipNorm: number | undefined, nextClip: number | undefined): number | undefined {
  return spec.privacy?.adaptiveClipping ? (nextClip ?? clipNorm) : undefined;
}
