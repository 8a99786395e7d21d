import { describe, expect, it } from 'vitest';
import { checkStudyCohort, CohortFloors, cohortFloorOf, cohortReady, retryBackoffMs } from '../../../coordinator/src/rounds/cohort.js';
import { RoundWorkflow } from '../../../coordinator/src/rounds/round-workflow.js';
import { runStudy } from '../../../coordinator/src/rounds/study-runner.js';
import { createStrategy } from '../../../coordinator/src/strategies/index.js';
import { encodeWeights } from '../../../shared/src/ml/weights.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import { memoryDeps, plainSite, scripted, testSpec } from './fake-sites.js';

const FLOOR_REFUSAL = "cohort of 2 sites is below this site's minimum of 3";

async function setUp(spec: StudySpec) {
  const deps = memoryDeps();
  const initial = await deps.memModels.put(encodeWeights(new Float32Array(4)));
  await deps.memStore.createStudy(spec, { sha256: initial, studyId: spec.id, round: 0, numParams: 4, createdAt: 1 }, 1);
  return deps;
}

describe('the cohort a round waits for (pure)', () => {
  it('reads a site floor only from a secure-aggregation policy refusal', () => {
    expect(cohortFloorOf(`TESSERA_SECAGG_POLICY: ${FLOOR_REFUSAL}`)).toBe(3);
    expect(cohortFloorOf('TESSERA_SECAGG_POLICY: threshold 1 is below this site\'s minimum of 2')).toBeUndefined();
    expect(cohortFloorOf(`TESSERA_AGENT_REFUSED: ${FLOOR_REFUSAL}`)).toBeUndefined();
  });

  it('is ready with every expected site, or with as many sites as the highest known floor asks', () => {
    const floors = new CohortFloors();
    const spec = testSpec({ minSites: 2 });
    expect(cohortReady(spec, ['a'], floors)).toBe(false);
    expect(cohortReady(spec, ['a', 'b'], floors)).toBe(true);
    floors.learn('a', `TESSERA_SECAGG_POLICY: ${FLOOR_REFUSAL}`);
    expect(cohortReady(spec, ['a', 'b'], floors)).toBe(false);
    expect(cohortReady(spec, ['a', 'b', 'c'], floors)).toBe(true);
    // A floor above maxSites cannot be met by waiting.
    expect(cohortReady(testSpec({ minSites: 2, maxSites: 2 }), ['a', 'b'], floors)).toBe(true);
    const named = testSpec({ minSites: 2, expectedSites: ['a', 'b', 'c'] });
    expect(cohortReady(named, ['a', 'b'], new CohortFloors())).toBe(false);
    expect(cohortReady(named, ['a', 'b', 'c', 'd'], new CohortFloors())).toBe(true);
  });

  it('refuses a contract no round can satisfy, naming the field', () => {
    expect(() => checkStudyCohort(testSpec({ minSites: 3, maxSites: 2 }))).toThrow("study 'core-study': minSites (3) must be at most maxSites (2)");
    expect(() => checkStudyCohort(testSpec({ minSites: 3, expectedSites: ['a', 'b'] }))).toThrow('expectedSites names 2 sites, fewer than minSites (3)');
    expect(() => checkStudyCohort(testSpec({ minSites: 2, maxSites: 2, expectedSites: ['a', 'b'] }))).not.toThrow();
  });

  it('backs off exponentially between failed attempts, up to a minute', () => {
    const spec = testSpec({ timeouts: { waitForSitesMs: 100, fitMs: 100, evaluateMs: 100, retryBackoffMs: 1000 } });
    expect([0, 1, 2, 3, 10].map((n) => retryBackoffMs(spec, n))).toEqual([0, 1000, 2000, 4000, 60_000]);
    expect(retryBackoffMs(testSpec(), 1)).toBe(1000);
    expect(retryBackoffMs(testSpec({ timeouts: { waitForSitesMs: 100, fitMs: 100, evaluateMs: 100, retryBackoffMs: 0 } }), 3)).toBe(0);
  });
});

describe('a round starts when its cohort is there', () => {
  it('waits for the expected sites once minSites are connected, and runs with all of them', async () => {
    const deps = await setUp(testSpec({ minSites: 2, expectedSites: ['a', 'b', 'c'], timeouts: { waitForSitesMs: 1000, fitMs: 1000, evaluateMs: 1000, joinMs: 5000 } }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('b', plainSite({ delta: 1, numExamples: 10 }));
    setTimeout(() => deps.channel.connect('c', plainSite({ delta: 1, numExamples: 10 })), 30);
    const study = (await deps.memStore.getStudy('core-study'))!;
    expect(await new RoundWorkflow(deps, study, createStrategy('fedavg', {}), 1).run()).toBe(true);
    expect(deps.channel.tasksOf('c', 'fit')).toHaveLength(1);
    expect((await deps.memStore.listRoundSites('core-study', 1, 1)).filter((s) => s.phase === 'fit').map((s) => s.outcome)).toEqual(['ok', 'ok', 'ok']);
  });

  it('starts without an expected site that does not join within joinMs, recording it for the round', async () => {
    const deps = await setUp(testSpec({ minSites: 2, expectedSites: ['a', 'b', 'late'], timeouts: { waitForSitesMs: 1000, fitMs: 1000, evaluateMs: 1000, joinMs: 50 } }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('b', plainSite({ delta: 1, numExamples: 10 }));
    const study = (await deps.memStore.getStudy('core-study'))!;
    expect(await new RoundWorkflow(deps, study, createStrategy('fedavg', {}), 1).run()).toBe(true);
    const late = (await deps.memStore.listRoundSites('core-study', 1, 1)).find((s) => s.siteId === 'late');
    expect(late).toMatchObject({ phase: 'fit', outcome: 'timeout', reason: 'did not join within 50 ms' });
  });

  it('learns a site floor from its refusal, backs off, and the next attempt waits for a cohort every site accepts', async () => {
    const spec = testSpec({ rounds: 1, minSites: 2, timeouts: { waitForSitesMs: 1000, fitMs: 1000, evaluateMs: 1000, joinMs: 5000, retryBackoffMs: 40 } });
    const deps = await setUp(spec);
    // Like an agent's default policy: refuse a cohort under 3.
    const picky = () =>
      scripted(plainSite({ delta: 1, numExamples: 10 }), (t) =>
        t.kind === 'fit' && deps.channel.connectedSites().length < 3 ? { refuse: FLOOR_REFUSAL.replace('2', String(deps.channel.connectedSites().length)), code: 'TESSERA_SECAGG_POLICY' } : undefined,
      );
    deps.channel.connect('a', picky());
    deps.channel.connect('b', picky());
    deps.events.length = 0;
    const done = runStudy(deps, 'core-study');
    // The third site connects while the first attempt fails or backs off.
    setTimeout(() => deps.channel.connect('c', picky()), 20);
    const final = await done;
    expect(final.status).toBe('completed');
    const rounds = await deps.memStore.listRounds('core-study');
    expect(rounds.map((r) => r.status)).toEqual(['failed', 'committed']);
    expect(rounds[1]!.startedAt - rounds[0]!.endedAt!).toBeGreaterThanOrEqual(40);
    expect(deps.channel.tasksOf('c', 'fit')).toHaveLength(1);
  });
});
