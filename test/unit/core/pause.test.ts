import { describe, expect, it } from 'vitest';
import { runStudy } from '../../../coordinator/src/rounds/study-runner.js';
import { encodeWeights } from '../../../shared/src/ml/weights.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import { memoryDeps, plainSite, scripted, testSpec } from './fake-sites.js';

async function setUp(spec: StudySpec) {
  const stop = new AbortController();
  const deps = memoryDeps();
  const initial = await deps.memModels.put(encodeWeights(new Float32Array(4)));
  await deps.memStore.createStudy(spec, { sha256: initial, studyId: spec.id, round: 0, numParams: 4, createdAt: 1 }, 1);
  return { deps: { ...deps, stop: stop.signal }, stop, mem: deps };
}

describe("an operator's pause or abort", () => {
  it('lets the round in flight finish and starts no other', async () => {
    const { deps, stop, mem } = await setUp(testSpec({ rounds: 3, timeouts: { waitForSitesMs: 1000, fitMs: 5000, evaluateMs: 5000 } }));
    mem.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    // b is slow to fit; the pause comes while the round is fitting.
    const b = plainSite({ delta: 1, numExamples: 10 });
    mem.channel.connect('b', scripted(b, (t) => {
      if (t.kind !== 'fit' || t.round !== 1) return undefined;
      stop.abort('pause');
      return undefined;
    }));
    const study = await runStudy(deps, 'core-study');
    expect(study.completedRounds).toBe(1);
    expect((await mem.memStore.listRounds('core-study')).map((r) => `${r.round}:${r.status}`)).toEqual(['1:committed']);
    // The runner leaves the status to its caller (the coordinator sets paused or aborted).
    expect(study.status).toBe('running');
  });

  it('ends a wait for sites at once, as an interrupted attempt that does not count', async () => {
    const { deps, stop, mem } = await setUp(testSpec({ rounds: 1, timeouts: { waitForSitesMs: 60_000, fitMs: 1000, evaluateMs: 1000 } }));
    mem.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    setTimeout(() => stop.abort('pause'), 20);
    const study = await runStudy(deps, 'core-study');
    expect(study.completedRounds).toBe(0);
    expect((await mem.memStore.listRounds('core-study')).map((r) => r.status)).toEqual(['interrupted']);
  });

  it('ends the back-off between failed attempts at once', async () => {
    const { deps, stop, mem } = await setUp(testSpec({ rounds: 1, timeouts: { waitForSitesMs: 100, fitMs: 1000, evaluateMs: 1000, retryBackoffMs: 60_000 } }));
    mem.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    mem.events.length = 0;
    const run = runStudy(deps, 'core-study');
    // The first attempt fails after 100 ms of waiting for a second site; the stop comes during the back-off.
    setTimeout(() => stop.abort('abort'), 300);
    const study = await run;
    expect(study.completedRounds).toBe(0);
    expect((await mem.memStore.listRounds('core-study')).map((r) => r.status)).toEqual(['failed']);
  });
});
