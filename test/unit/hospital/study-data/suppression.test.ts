import { describe, expect, it } from 'vitest';
import { createRng } from '../../../../shared/src/rng.js';
import { publishedStudyCounts, type StudyFeasibility } from '../../../../site-agent/src/hospital/study-data/feasibility.js';
import { suppressLinked, type CountSum, type ReportedCount } from '../../../../site-agent/src/hospital/study-data/suppression.js';

type Published = Pick<StudyFeasibility, 'patients' | 'excluded' | 'labelsPerClass' | 'splits' | 'images'>;

/**
 * The attacker's side, written from the report's meaning alone: every sum the published counts obey.
 * Reasons are excluded at the index stage ('no index event'), the cohort stage, or the label stage.
 */
function attackerSums(p: Published, multilabel: boolean): CountSum[] {
  const ex = (keep: (r: string) => boolean): string[] => Object.keys(p.excluded).filter(keep).map((r) => `excluded.${r}`);
  const label = (r: string): boolean => r === 'label unknown in the label window' || r.startsWith("no value for '");
  const sums: CountSum[] = [
    { total: 'patients.total', parts: ['patients.withIndexEvent', ...ex((r) => r === 'no index event')] },
    { total: 'patients.withIndexEvent', parts: ['patients.inCohort', ...ex((r) => r !== 'no index event' && !label(r))] },
    { total: 'patients.inCohort', parts: ['patients.labelled', ...ex(label)] },
    { total: 'patients.labelled', parts: Object.keys(p.splits).map((s) => `splits.${s}`) },
  ];
  if (!multilabel) sums.push({ total: 'patients.labelled', parts: Object.keys(p.labelsPerClass).map((c) => `labelsPerClass.${c}`) });
  if (p.images !== undefined && Object.keys(p.images.skippedByReason).length > 0) sums.push({ total: 'images.skipped', parts: Object.keys(p.images.skippedByReason).map((r) => `images.skippedByReason.${r}`) });
  return sums;
}

function cellsOf(p: Published): Map<string, ReportedCount> {
  const m = new Map<string, ReportedCount>();
  for (const [k, v] of Object.entries(p.patients)) m.set(`patients.${k}`, v);
  for (const [group, rec] of [['excluded', p.excluded], ['labelsPerClass', p.labelsPerClass], ['splits', p.splits]] as const) for (const [k, v] of Object.entries(rec)) m.set(`${group}.${k}`, v);
  if (p.images !== undefined) {
    m.set('images.skipped', p.images.skipped);
    for (const [k, v] of Object.entries(p.images.skippedByReason)) m.set(`images.skippedByReason.${k}`, v);
  }
  return m;
}

/**
 * Every value each suppressed cell can take, by exhaustive search over all integer assignments that agree
 * with what is published: a `<min` cell in 0..min−1, a `suppressed` cell in min..upper, every sum holding.
 */
function possibleValues(shown: ReadonlyMap<string, ReportedCount>, sums: readonly CountSum[], min: number, upper: number): Map<string, Set<number>> {
  const hidden = [...shown].filter(([, v]) => typeof v !== 'number').map(([c]) => c);
  const value = new Map<string, number>();
  for (const [c, v] of shown) if (typeof v === 'number') value.set(c, v);
  const out = new Map(hidden.map((c) => [c, new Set<number>()]));
  const consistent = (): boolean =>
    sums.every((s) => {
      const cells = [s.total, ...s.parts];
      if (!cells.every((c) => value.has(c) || !shown.has(c))) return true; // not all assigned yet
      const v = (c: string): number => value.get(c) ?? 0;
      return v(s.total) === s.parts.reduce((a, c) => a + v(c), 0);
    });
  const walk = (i: number): void => {
    if (!consistent()) return;
    if (i === hidden.length) {
      for (const c of hidden) out.get(c)?.add(value.get(c) ?? -1);
      return;
    }
    const c = hidden[i] as string;
    const [lo, hi] = shown.get(c) === 'suppressed' ? [min, upper] : [0, min - 1];
    for (let v = lo; v <= hi; v++) {
      value.set(c, v);
      walk(i + 1);
    }
    value.delete(c);
  };
  walk(0);
  return out;
}

/** Asserts that no suppressed cell of `p` is pinned to one value, and that the truth is among the candidates. */
function expectNothingDerivable(p: Published, truth: ReadonlyMap<string, number>, min: number, multilabel = false): void {
  const shown = cellsOf(p);
  const upper = Math.max(...truth.values());
  const values = possibleValues(shown, attackerSums(p, multilabel), min, upper);
  for (const [cell, set] of values) {
    expect(set.has(truth.get(cell) ?? 0), `${cell}: the search must find the true value`).toBe(true);
    expect(set.size, `${cell} is derivable from the published counts (only ${[...set].join(', ')})`).toBeGreaterThan(1);
  }
}

function truthOf(c: { patients: number; indexed: number; inCohort: number; labelled: number; excluded: Record<string, number>; labelsPerClass: Record<string, number>; splits: Record<string, number> }, images?: { skipped: number; byReason: Record<string, number> }): Map<string, number> {
  const m = new Map<string, number>([
    ['patients.total', c.patients],
    ['patients.withIndexEvent', c.indexed],
    ['patients.inCohort', c.inCohort],
    ['patients.labelled', c.labelled],
  ]);
  for (const [group, rec] of [['excluded', c.excluded], ['labelsPerClass', c.labelsPerClass], ['splits', c.splits]] as const) for (const [k, v] of Object.entries(rec)) m.set(`${group}.${k}`, v);
  if (images !== undefined) {
    m.set('images.skipped', images.skipped);
    for (const [k, v] of Object.entries(images.byReason)) m.set(`images.skippedByReason.${k}`, v);
  }
  return m;
}

describe('feasibility counts: complementary suppression', () => {
  it('suppresses the next-smallest class when one class is below the minimum and the total is shown', () => {
    // Arrange: 40 labelled patients, 3 positive; the splits and the exclusions all shown.
    const c = { patients: 60, indexed: 50, inCohort: 40, labelled: 40, excluded: { 'no index event': 10, 'age outside the cohort': 10 }, labelsPerClass: { negative: 37, positive: 3 }, splits: { train: 20, val: 10, test: 10 } };
    // Act
    const p = publishedStudyCounts(c, 'binary', undefined, 10);
    // Assert: without the complement, 40 − 37 would give the 3 away.
    expect(p.labelsPerClass).toEqual({ negative: 'suppressed', positive: '<10' });
    expect(p.patients).toEqual({ total: 60, withIndexEvent: 50, inCohort: 40, labelled: 40 });
    expect(p.splits).toEqual({ train: 20, val: 10, test: 10 });
    expectNothingDerivable(p, truthOf(c), 10);
  });

  it('does not take a complement that the bounds would pin with it (a "<10" and a hidden cell adding up to exactly min)', () => {
    const c = { patients: 30, indexed: 30, inCohort: 30, labelled: 30, excluded: {}, labelsPerClass: { a: 0, b: 10, c: 20 }, splits: { train: 15, val: 0, test: 15 } };
    const p = publishedStudyCounts(c, 'multiclass', undefined, 10);
    // Hiding b (the next-smallest) would leave a + b = 10 with a < 10 ≤ b, i.e. a = 0 and b = 10, and c would have
    // to go too; hiding c alone leaves a + c = 20 with a anywhere in 0..9.
    expect(p.labelsPerClass).toEqual({ a: '<10', b: 10, c: 'suppressed' });
    expectNothingDerivable(p, truthOf(c), 10);
  });

  it('protects a suppressed exclusion reason through the chain of totals (index → cohort → label)', () => {
    const c = { patients: 45, indexed: 41, inCohort: 30, labelled: 28, excluded: { 'no index event': 4, 'inclusion criterion 0 not met': 11, 'label unknown in the label window': 2 }, labelsPerClass: { negative: 16, positive: 12 }, splits: { train: 18, val: 0, test: 10 } };
    const p = publishedStudyCounts(c, 'binary', { used: 50, skipped: 14, byReason: { 'modality not selected by the study': 12, 'patient not in the study\'s cohort with a label': 2 } }, 10);
    expect(p.excluded['no index event']).toBe('<10');
    expect(p.excluded['label unknown in the label window']).toBe('<10');
    expectNothingDerivable(p, truthOf(c, { skipped: 14, byReason: { 'modality not selected by the study': 12, "patient not in the study's cohort with a label": 2 } }), 10);
  });

  it('leaves no suppressed count derivable on 300 random sites (exhaustive search over every consistent assignment)', () => {
    const rng = createRng(20261208);
    const int = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));
    const min = 3;
    let suppressedSeen = 0;
    for (let run = 0; run < 300; run++) {
      // A random funnel: exclusions at each stage, then classes and splits of what is left.
      const excluded: Record<string, number> = {};
      const put = (k: string, n: number): number => (n > 0 ? ((excluded[k] = n), n) : 0);
      const labelled = int(0, 14);
      const labelStage = put('label unknown in the label window', int(0, 4));
      const inCohort = labelled + labelStage;
      const cohortStage = put('inclusion criterion 0 not met', int(0, 5)) + put('age outside the cohort', int(0, 3));
      const indexed = inCohort + cohortStage;
      const patients = indexed + put('no index event', int(0, 4));
      const kinds = ['binary', 'multiclass', 'multilabel'] as const;
      const labelType = kinds[int(0, 2)] ?? 'binary';
      const a = int(0, labelled);
      const b = labelType === 'multiclass' ? int(0, labelled - a) : labelled - a;
      const labelsPerClass = labelType === 'multiclass' ? { a, b, c: labelled - a - b } : labelType === 'multilabel' ? { a: int(0, labelled), b: int(0, labelled) } : { negative: a, positive: b };
      const test = int(0, labelled);
      const splits = { train: labelled - test, val: 0, test };
      const c = { patients, indexed, inCohort, labelled, excluded, labelsPerClass, splits };
      const p = publishedStudyCounts(c, labelType, undefined, min);
      suppressedSeen += [...cellsOf(p).values()].filter((v) => typeof v !== 'number').length;
      expectNothingDerivable(p, truthOf(c), min, labelType === 'multilabel');
    }
    // The random sites do exercise suppression (this test would pass vacuously otherwise).
    expect(suppressedSeen).toBeGreaterThan(300);
  });

  it('without the complementary pass, the same search does find derivable cells (the check can fail)', () => {
    const shown = new Map<string, ReportedCount>([['t', 40], ['a', 37], ['b', '<10']]);
    const values = possibleValues(shown, [{ total: 't', parts: ['a', 'b'] }], 10, 40);
    expect([...(values.get('b') ?? [])]).toEqual([3]);
    expect(suppressLinked(new Map([['t', 40], ['a', 37], ['b', 3]]), [{ total: 't', parts: ['a', 'b'] }], 10).get('a')).toBe('suppressed');
  });

  it('hides a stage total rather than the whole funnel below it when that hides fewer counts', () => {
    // 20 patients, 2 excluded by the cohort, 18 in it and labelled: 20 − 18 would give the 2 away.
    const c = { patients: 20, indexed: 20, inCohort: 18, labelled: 18, excluded: { 'exclusion criterion 0 met': 2 }, labelsPerClass: { negative: 7, positive: 11 }, splits: { train: 14, val: 0, test: 4 } };
    const p = publishedStudyCounts(c, 'binary', undefined, 5);
    // Hiding inCohort would pin labelled, then the classes and splits; hiding withIndexEvent and total spares them.
    expect(p.patients).toEqual({ total: 'suppressed', withIndexEvent: 'suppressed', inCohort: 18, labelled: 18 });
    expect(p.labelsPerClass).toEqual({ negative: 7, positive: 11 });
    expectNothingDerivable(p, truthOf(c), 5);
  });
});
