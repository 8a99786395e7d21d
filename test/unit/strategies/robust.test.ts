import { describe, expect, it } from 'vitest';
import { checkStudyStrategy, createStrategy, RobustAggregate, type ClientUpdate } from '../../../coordinator/src/strategies/index.js';
import { ConfigError, InputError } from '../../../shared/src/errors.js';

const D = 6;
const global = new Float32Array(D);

function update(siteId: string, values: number[], numExamples = 10): ClientUpdate {
  return { siteId, weights: Float32Array.from(values), numExamples };
}

/** Four honest sites near 1.0 per coordinate and one attacker far away. */
function poisoned(attack: number): ClientUpdate[] {
  const honest = [0.9, 1.0, 1.05, 1.1].map((v, i) => update(`site-${i + 1}`, Array.from({ length: D }, (_, j) => v + j / 100)));
  return [...honest, update('attacker', Array.from({ length: D }, () => attack), 1000)];
}

describe('Byzantine-robust strategies (plaintext studies)', () => {
  it('fedmedian takes the coordinate-wise median (odd and even counts) and ignores one extreme site', () => {
    const s = createStrategy('fedmedian');
    const odd = s.aggregate(global, poisoned(1e6));
    for (let j = 0; j < D; j++) expect(odd[j]).toBeCloseTo(1.05 + j / 100, 6);
    const even = s.aggregate(global, poisoned(1e6).slice(0, 4));
    for (let j = 0; j < D; j++) expect(even[j]).toBeCloseTo((1.0 + 1.05) / 2 + j / 100, 6);
    // FedAvg on the same input is dragged to the attacker (weight 1000 of 1040 examples).
    expect(createStrategy('fedavg').aggregate(global, poisoned(1e6))[0]).toBeGreaterThan(9e5);
    expect(s.state().t).toBe(2);
  });

  it('fedtrimmedavg drops ⌊β·n⌋ values at each end of every coordinate, then averages', () => {
    const s = createStrategy('fedtrimmedavg', { trimFraction: 0.2 }); // n = 5: one from each end
    const out = s.aggregate(global, poisoned(-1e6));
    // Sorted: −1e6, 0.9, 1.0, 1.05, 1.1 → the attacker and the largest honest value go.
    for (let j = 0; j < D; j++) expect(out[j]).toBeCloseTo((0.9 + 1.0 + 1.05) / 3 + j / 100, 6);
    // β = 0 is the unweighted mean.
    const plain = createStrategy('fedtrimmedavg', { trimFraction: 0 }).aggregate(global, poisoned(5));
    expect(plain[0]).toBeCloseTo((0.9 + 1.0 + 1.05 + 1.1 + 5) / 5, 6);
  });

  it('krum picks the update closest to its n − f − 2 neighbours; multi-krum averages the m best by examples', () => {
    const ups = poisoned(50);
    const krum = createStrategy('krum', { byzantineSites: 1 }).aggregate(global, ups);
    // Scores over the 2 nearest others: site-3 (1.05) is closest to 1.0 and 1.1.
    expect(Array.from(krum)).toEqual(Array.from(ups[2]!.weights));
    const multi = createStrategy('krum', { byzantineSites: 1, krumSelect: 3 }).aggregate(global, ups);
    for (let j = 0; j < D; j++) expect(multi[j]).toBeCloseTo((1.0 + 1.05 + 1.1) / 3 + j / 100, 5);
    expect(() => createStrategy('krum', { byzantineSites: 1 }).aggregate(global, ups.slice(0, 4))).toThrow(InputError);
    expect(() => createStrategy('krum', { byzantineSites: 1 }).aggregate(global, ups.slice(0, 4))).toThrow(/krum needs at least 5 updates, got 4/);
  });

  it('validates every update in full before aggregating, naming the site (a median would hide a NaN)', () => {
    const ups = poisoned(1);
    ups[1] = update('site-2', [1, Number.NaN, 1, 1, 1, 1]);
    expect(() => createStrategy('fedmedian').aggregate(global, ups)).toThrow(/site-2/);
    expect(() => createStrategy('fedmedian').aggregate(global, [update('short', [1, 2])])).toThrow(InputError);
  });

  it('refuses a robust strategy under secure aggregation, Krum with too few sites, and options out of range', () => {
    const base = { id: 's', strategyOptions: {}, minSites: 5 };
    expect(() => checkStudyStrategy({ ...base, strategy: 'fedmedian', secureAggregation: true })).toThrow(ConfigError);
    expect(() => checkStudyStrategy({ ...base, strategy: 'fedmedian', secureAggregation: true })).toThrow(/secure aggregation reveals only their sum; set secureAggregation: false/);
    expect(() => checkStudyStrategy({ ...base, strategy: 'krum', secureAggregation: false, minSites: 4 })).toThrow(/at least 5 sites per round/);
    expect(() => checkStudyStrategy({ ...base, strategy: 'krum', secureAggregation: false, strategyOptions: { byzantineSites: 2 }, minSites: 7 })).not.toThrow();
    expect(() => checkStudyStrategy({ ...base, strategy: 'fedavg', secureAggregation: true })).not.toThrow();
    expect(() => new RobustAggregate('fedtrimmedavg', { trimFraction: 0.5 })).toThrow(/trimFraction/);
    expect(() => createStrategy('krum', { krumSelect: 0 })).toThrow(ConfigError);
  });
});
