import { describe, expect, it } from 'vitest';
import { runChaos } from '../../bench/chaos.js';

/**
 * The CI form of `npm run bench -- chaos` (issue 16): 5 agent processes and a coordinator over mTLS with secure
 * aggregation, 5 rounds; in each round one agent is killed (-9) or cut off by its proxy for 1-2 s, the
 * coordinator is killed at a random phase in rounds 2 and 4 and restarted, and one agent starts once round 1 has committed. Every
 * round commits exactly once, the coordinator's ledger verifies and every site's ledger agrees with it.
 */
describe('chaos run, short form (real processes, mTLS, secure aggregation)', () => {
  it('commits every round once through agent kills, proxy cuts, coordinator kills and a late agent; the ledgers hold', async () => {
    // Act
    const r = await runChaos({ sites: 5, rounds: 5, cleanRounds: 2, coordinatorKillEvery: 2, downMs: [1000, 2000], lateStartAfterRound: 1, examplesPerSite: 40, seed: 7 }, () => undefined);

    // Assert: the faults happened …
    expect(r.faults.agentKills + r.faults.proxyCuts).toBeGreaterThanOrEqual(5);
    expect(r.faults.coordinatorKills).toBe(2);
    expect(r.interruptedAttempts).toBeLessThanOrEqual(2);
    // … and the study rode them out.
    expect(r.status).toBe('completed');
    expect(r.roundsCommitted).toBe(5);
    expect(r.committedExactlyOnce).toBe(true);
    expect(r.lateSiteJoined).toBe(true);
    expect(r.ledgerVerified).toBe(true);
    expect(r.crossChecks).toEqual({ 'site-01': 0, 'site-02': 0, 'site-03': 0, 'site-04': 0, 'site-05': 0 });
    expect(Number.isFinite(r.cleanRoundMs) && r.cleanRoundMs > 0).toBe(true);
  }, 900_000);
});
