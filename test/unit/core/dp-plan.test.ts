import { describe, expect, it } from 'vitest';
import { clipNormForRound, committedClip, dpPlanFor, nextClipFor, planRoundDp, siteLevelScaleFor } from '../../../coordinator/src/rounds/dp-plan.js';
import { siteLevelScale, updatePartNoiseMultiplier } from '../../../shared/src/dp/site-level.js';
import { testSpec } from './fake-sites.js';

const recordDp = { mode: 'record', epsilon: 3, delta: 1e-5, noiseMultiplier: 1.1, clipNorm: 2 };
const siteDp = { mode: 'site', epsilon: 3, delta: 1e-5, noiseMultiplier: 0.8, clipNorm: 0.5 };
const adaptive = { ...siteDp, adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2, countNoise: 1 } };

describe('DP planning of a round (pure)', () => {
  it('plans nothing for a study without DP', () => {
    expect(planRoundDp(testSpec(), undefined, 3, 10)).toEqual({ clipNorm: undefined, siteScale: undefined, dp: undefined, siteLevel: undefined });
  });

  it('record-level DP: the study clip, 2^20 integer units per clip, no site-level bound', () => {
    const spec = testSpec({ privacy: recordDp, minSites: 3, rounds: 7 });
    const plan = planRoundDp(spec, undefined, 3, 10);
    expect(plan.clipNorm).toBeUndefined();
    expect(plan.dp).toMatchObject({ mode: 'record', noiseMultiplier: 1.1, clipNorm: 2, plannedRounds: 7, noiseShares: 3, quantizationScale: 2 ** 20 / 2, secureAggregation: false, countNoise: 0 });
  });

  it('site-level DP under secure aggregation: the scale the cohort sum allows, told to the sites and used to decode', () => {
    const spec = testSpec({ privacy: siteDp, secureAggregation: true, minSites: 2 });
    const plan = planRoundDp(spec, undefined, 4, 100);
    const expected = siteLevelScale({ clip: 0.5, noiseMultiplier: updatePartNoiseMultiplier(0.8), noiseShares: 2, cohortSize: 4, dim: 100 });
    expect(plan.siteScale).toBe(expected);
    expect(plan.dp?.quantizationScale).toBe(expected);
    expect(plan.siteLevel).toEqual({ scale: expected, withCount: false });
    // A larger cohort leaves fewer integer units per site.
    expect(siteLevelScaleFor(spec, 0.5, 40, 100)).toBeLessThan(expected);
  });

  it('adaptive clipping: the bound comes from the last commit, moves geometrically towards the target quantile, and commits', () => {
    const spec = testSpec({ privacy: adaptive, secureAggregation: true });
    expect(clipNormForRound(spec, undefined)).toBe(0.5);
    expect(clipNormForRound(spec, { clipNorm: 0.8 })).toBe(0.8);
    // Without adaptive clipping a saved bound is ignored.
    expect(clipNormForRound(testSpec({ privacy: siteDp, secureAggregation: true }), { clipNorm: 0.8 })).toBe(0.5);
    const plan = planRoundDp(spec, { clipNorm: 0.8 }, 4, 10);
    expect(plan.dp?.clipNorm).toBe(0.8);
    expect(plan.siteLevel?.withCount).toBe(true);
    // All 4 sites within the bound (fraction 1 > γ = 0.5): the bound shrinks by exp(−0.2 · 0.5).
    expect(nextClipFor(spec, 0.8, 4, 4)).toBeCloseTo(0.8 * Math.exp(-0.1), 12);
    // None within: it grows.
    expect(nextClipFor(spec, 0.8, 0, 4)).toBeCloseTo(0.8 * Math.exp(0.1), 12);
    expect(committedClip(spec, 0.8, 0.7)).toBe(0.7);
    expect(committedClip(spec, 0.8, undefined)).toBe(0.8);
    expect(committedClip(testSpec({ privacy: siteDp }), 0.8, 0.7)).toBeUndefined();
    expect(nextClipFor(testSpec({ privacy: siteDp }), 0.8, 4, 4)).toBeUndefined();
  });

  it('refuses a DP study whose noise multiplier was never resolved', () => {
    const { noiseMultiplier: _z, ...unresolved } = recordDp;
    expect(() => dpPlanFor(testSpec({ privacy: unresolved }), undefined, undefined)).toThrow('privacy.noiseMultiplier was not resolved');
  });
});
