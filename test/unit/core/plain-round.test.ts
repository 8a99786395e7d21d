import { describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights } from '../../../shared/src/ml/weights.js';
import { RoundWorkflow } from '../../../coordinator/src/rounds/round-workflow.js';
import { runStudy } from '../../../coordinator/src/rounds/study-runner.js';
import { createStrategy } from '../../../coordinator/src/strategies/index.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import { memoryDeps, plainSite, scripted, testSpec } from './fake-sites.js';

const DIM = 6;

async function setUp(spec: StudySpec) {
  const deps = memoryDeps();
  const initial = await deps.memModels.put(encodeWeights(new Float32Array(DIM)));
  await deps.memStore.createStudy(spec, { sha256: initial, studyId: spec.id, round: 0, numParams: DIM, createdAt: 1 }, 1);
  await deps.memStore.setStudyStatus(spec.id, 'running', 2);
  return deps;
}

async function runRound(deps: Awaited<ReturnType<typeof setUp>>, round = 1): Promise<boolean> {
  const study = (await deps.memStore.getStudy('core-study'))!;
  return new RoundWorkflow(deps, study, createStrategy(study.spec.strategy, study.spec.strategyOptions), round).run();
}

describe('plain round on scripted sites (no gRPC, no SQLite)', () => {
  it('commits the example-weighted mean of the updates, records every site and discards the uploads', async () => {
    const deps = await setUp(testSpec());
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('b', plainSite({ delta: 4, numExamples: 30 }));
    expect(await runRound(deps)).toBe(true);
    const study = (await deps.memStore.getStudy('core-study'))!;
    expect(study.completedRounds).toBe(1);
    const weights = decodeWeights(await deps.memModels.get(study.currentModel), DIM);
    // (10·1 + 30·4) / 40 = 3.25
    for (const w of weights) expect(w).toBeCloseTo(3.25, 5);
    const [round] = await deps.memStore.listRounds('core-study');
    expect(round?.status).toBe('committed');
    expect(round?.metrics).toMatchObject({ numExamples: 40, loss: 0.5, accuracy: 0.8 });
    const sites = await deps.memStore.listRoundSites('core-study', 1, 1);
    expect(sites.map((s) => `${s.siteId}/${s.phase}/${s.outcome}`)).toEqual(['a/evaluate/ok', 'a/fit/ok', 'b/evaluate/ok', 'b/fit/ok']);
    expect(deps.memUploads.held()).toEqual([]);
    expect(deps.events.map((e) => e.type)).toContain('round-committed');
  });

  it('drops a refusing site, a straggler and a site sending a wrong-sized update, and commits with those left', async () => {
    const deps = await setUp(testSpec({ minSites: 2 }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('b', plainSite({ delta: 3, numExamples: 10 }));
    deps.channel.connect('c', scripted(plainSite({ delta: 9, numExamples: 10 }), (t) => (t.kind === 'fit' ? { refuse: 'minCohort 5' } : undefined)));
    deps.channel.connect('d', scripted(plainSite({ delta: 9, numExamples: 10 }), (t) => (t.kind === 'fit' ? { silent: true } : undefined)));
    deps.channel.connect('e', scripted(plainSite({ delta: 9, numExamples: 10 }), (t) => (t.kind === 'fit' ? { ok: true, numExamples: 10, upload: encodeWeights(new Float32Array(DIM + 1)) } : undefined)));
    expect(await runRound(deps)).toBe(true);
    const fit = (await deps.memStore.listRoundSites('core-study', 1, 1)).filter((s) => s.phase === 'fit');
    expect(Object.fromEntries(fit.map((s) => [s.siteId, s.outcome]))).toEqual({ a: 'ok', b: 'ok', c: 'refused', d: 'timeout', e: 'invalid' });
    expect(fit.find((s) => s.siteId === 'c')?.reason).toContain('minCohort 5');
    const study = (await deps.memStore.getStudy('core-study'))!;
    for (const w of decodeWeights(await deps.memModels.get(study.currentModel), DIM)) expect(w).toBeCloseTo(2, 5);
    // The invalid upload was dropped at once; the valid ones after the commit.
    expect(deps.memUploads.held()).toEqual([]);
  });

  it('fails the attempt with a reason when too few valid updates remain', async () => {
    const deps = await setUp(testSpec({ minSites: 2 }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('b', scripted(plainSite({ delta: 1, numExamples: 10 }), (t) => (t.kind === 'fit' ? { refuse: 'no' } : undefined)));
    expect(await runRound(deps)).toBe(false);
    const [round] = await deps.memStore.listRounds('core-study');
    expect(round).toMatchObject({ status: 'failed', reason: '1 of 2 sites returned valid updates; the study needs 2' });
    expect(round?.endedAt).not.toBeNull();
    expect((await deps.memStore.getStudy('core-study'))?.completedRounds).toBe(0);
  });

  it('a site that disconnects mid-fit and comes back gets its task again and its update counts', async () => {
    const deps = await setUp(testSpec({ timeouts: { waitForSitesMs: 300, fitMs: 2000, evaluateMs: 300 } }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    let cut = false;
    const b = plainSite({ delta: 3, numExamples: 10 });
    deps.channel.connect('b', scripted(b, (t) => {
      if (t.kind !== 'fit' || cut) return undefined;
      cut = true;
      setTimeout(() => deps.channel.connect('b', b), 20);
      return { disconnect: true };
    }));
    expect(await runRound(deps)).toBe(true);
    expect(deps.channel.tasksOf('b', 'fit')).toHaveLength(2);
  });

  it('a coordinator stop between phases leaves the attempt interrupted; after the restart the next attempt commits', async () => {
    const deps = await setUp(testSpec({ rounds: 1, timeouts: { waitForSitesMs: 300, fitMs: 5000, evaluateMs: 300 } }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    // b trains slowly: the stop comes while the round is fitting.
    deps.channel.connect('b', scripted(plainSite({ delta: 1, numExamples: 10 }), (t) => {
      if (t.kind === 'fit') setTimeout(() => deps.abort.abort(), 10);
      return t.kind === 'fit' ? { silent: true } : undefined;
    }));
    const first = runRound(deps);
    // The crash: the process is gone, the store keeps the open row; start-up marks it interrupted.
    await new Promise((r) => setTimeout(r, 50));
    expect(await deps.memStore.interruptOpenRounds(Date.now())).toBe(1);
    void first.catch(() => undefined);
    const restarted = memoryDeps({ store: deps.memStore, models: deps.memModels });
    restarted.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    restarted.channel.connect('b', plainSite({ delta: 1, numExamples: 10 }));
    const final = await runStudy(restarted, 'core-study');
    expect(final.status).toBe('completed');
    const rounds = await deps.memStore.listRounds('core-study');
    expect(rounds.map((r) => `${r.attempt}:${r.status}`)).toEqual(['1:interrupted', '2:committed']);
  });

  it('runStudy fails the study after maxRoundAttempts failed attempts, each recorded', async () => {
    const deps = await setUp(testSpec({ maxRoundAttempts: 2, timeouts: { waitForSitesMs: 100, fitMs: 300, evaluateMs: 300, retryBackoffMs: 10 } }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    const final = await runStudy(deps, 'core-study');
    expect(final).toMatchObject({ status: 'failed', reason: 'round 1 failed 2 times (maxRoundAttempts 2)' });
    expect((await deps.memStore.listRounds('core-study')).map((r) => r.status)).toEqual(['failed', 'failed']);
  });
});
