import { describe, expect, it } from 'vitest';
import { reasonKey } from '../../../bench/chaos-check.js';
import type { FaultRecord } from '../../../bench/chaos-driver.js';
import { chaosPlan, ROUND_PHASES } from '../../../bench/chaos-plan.js';
import { type ChaosRoundRow, roundSpans, timeLostPerFault } from '../../../bench/chaos.js';

describe('chaos plan', () => {
  it('is a function of the seed and sizes', () => {
    // Arrange
    const o = { seed: 1234, sites: 10, rounds: 50 };

    // Act
    const a = chaosPlan(o);
    const b = chaosPlan(o);
    const c = chaosPlan({ ...o, seed: 1235 });

    // Assert
    expect(a).toEqual(b);
    expect(a.faults).not.toEqual(c.faults);
  });

  it('strikes an agent every round and the coordinator mid-way through every block of 10, one site late', () => {
    const plan = chaosPlan({ seed: 7, sites: 10, rounds: 50 });
    expect(plan.faults).toHaveLength(50);
    expect(plan.faults.every((f) => f.agent !== null)).toBe(true);
    expect(plan.faults.filter((f) => f.coordinator !== null).map((f) => f.round)).toEqual([5, 15, 25, 35, 45]);
    const kinds = new Set(plan.faults.map((f) => f.agent?.kind));
    expect(kinds).toEqual(new Set(['kill', 'cut']));
    for (const f of plan.faults) {
      expect(f.agent?.site).toBeGreaterThanOrEqual(0);
      expect(f.agent?.site).toBeLessThan(10);
      expect(f.agent?.downMs).toBeGreaterThanOrEqual(2000);
      expect(f.agent?.downMs).toBeLessThanOrEqual(5000);
      expect(ROUND_PHASES).toContain(f.agent?.phase);
      if (f.coordinator) expect(ROUND_PHASES).toContain(f.coordinator.phase);
    }
    expect(plan.lateSite).toBe(9);
    expect(plan.lateAtRound).toBeGreaterThanOrEqual(2);
    expect(plan.lateAtRound).toBeLessThanOrEqual(4);
  });

  it('takes an explicit short schedule for the CI form', () => {
    const plan = chaosPlan({ seed: 16, sites: 5, rounds: 7, agentFaultRounds: [2, 5], agentKinds: ['kill', 'cut'], coordinatorRounds: [4] });
    expect(plan.faults.filter((f) => f.agent).map((f) => [f.round, f.agent?.kind])).toEqual([
      [2, 'kill'],
      [5, 'cut'],
    ]);
    expect(plan.faults.filter((f) => f.coordinator).map((f) => f.round)).toEqual([4]);
  });

  it('refuses a federation too small to lose a site', () => {
    expect(() => chaosPlan({ seed: 1, sites: 2, rounds: 5 })).toThrow(/at least 3 sites/);
  });
});

describe('chaos figures', () => {
  it('spans each round from the previous commit', () => {
    expect(roundSpans({ firstStart: 1000, commitTimes: [3000, 4500, null, 9000] })).toEqual([2000, 1500, null, null]);
  });

  it('groups reasons that differ only in numbers', () => {
    expect(reasonKey('only 5 sites connected within 120000 ms')).toBe(reasonKey('only 7 sites connected within 30000 ms'));
    expect(reasonKey(null)).toBe('(none)');
  });

  it('charges a fault to its round, or to the next one when it struck after the commit', () => {
    // Arrange: a clean median of 1000 ms; rounds 2 and 3 struck by agent faults, round 4 by a coordinator kill after its commit.
    const fault = (round: number, kind: FaultRecord['kind'], phase: FaultRecord['phase']): FaultRecord => ({ round, attempt: 1, kind, target: 'x', plannedPhase: phase, phase, at: 0, restoredAt: 1 });
    const rows: ChaosRoundRow[] = [1, 2, 3, 4, 5].map((round) => ({ round, spanMs: 0, excessMs: [0, 400, 600, 0, 5000][round - 1] ?? 0, attempts: 1, faults: [] }));
    const faults = [fault(2, 'agent-kill', 'fit'), fault(3, 'proxy-cut', 'secagg-unmask'), fault(4, 'coordinator-kill', 'committed')];

    // Act
    const lost = timeLostPerFault(rows, faults);

    // Assert
    expect(lost).toEqual({ agentKill: 400, proxyCut: 600, coordinatorKill: 5000, overall: 2000 });
  });
});
