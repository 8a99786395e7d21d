/**
 * Under secure aggregation a site's own training loss and accuracy stay at the site unless its policy says
 * `secureAggregation.revealTrainingMetrics: true`: three agents over mTLS, one of them revealing; every result
 * the coordinator takes off the wire is recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskResult__Output } from '../../protos/gen/tessera/v1/TaskResult.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';

describe("a site's training metrics under secure aggregation (3 agents over mTLS)", () => {
  let fed: Federation;
  const received: { siteId: string; kind: string; metrics: Record<string, number> }[] = [];

  beforeAll(async () => {
    fed = await startFederation({
      sites: 3,
      examplesPerSite: 60,
      agent: (siteId) => (siteId === 'site-3' ? { config: { policy: { secureAggregation: { revealTrainingMetrics: true } } } } : {}),
    });
    const sessions = fed.coordinator.sessions;
    const accept = sessions.acceptResult.bind(sessions);
    sessions.acceptResult = (siteId: string, result: TaskResult__Output) => {
      received.push({ siteId, kind: String(result.kind), metrics: { ...result.metrics } });
      return accept(siteId, result);
    };
    for (let i = 0; i < 3; i++) await fed.startAgent(i);
  });

  afterAll(async () => {
    await fed?.close();
  });

  it('never reaches the coordinator from a site that does not reveal them; a revealing site sends its own', { timeout: 180_000 }, async () => {
    // Arrange
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'quiet-metrics', inputDim, rounds: 1, minSites: 3 }));

    // Act
    const done = await fed.coordinator.runStudy(study.id);

    // Assert: the round ran under secure aggregation with all three sites.
    expect(done).toMatchObject({ status: 'completed', completedRounds: 1 });
    expect(done.spec.secureAggregation).toBe(true);
    const fits = received.filter((r) => r.kind === 'TASK_KIND_FIT');
    expect(fits.map((r) => r.siteId).sort()).toEqual(['site-1', 'site-2', 'site-3']);
    for (const r of fits) {
      if (r.siteId === 'site-3') expect(Object.keys(r.metrics).sort()).toEqual(['accuracy', 'loss']);
      else expect(r.metrics).toEqual({});
    }
    // Nothing else a non-revealing site sent during fitting carries a training metric either.
    for (const r of received.filter((x) => x.kind !== 'TASK_KIND_EVALUATE' && x.siteId !== 'site-3')) expect(r.metrics).toEqual({});
    // The coordinator stores no per-site training metric under secure aggregation in any case.
    const committed = (await fed.coordinator.store.listRounds(study.id)).find((r) => r.status === 'committed')!;
    const fitRows = (await fed.coordinator.store.listRoundSites(study.id, 1, committed.attempt)).filter((s) => s.phase === 'fit');
    expect(fitRows).toHaveLength(3);
    for (const s of fitRows) expect({ loss: s.loss, accuracy: s.accuracy }).toEqual({ loss: null, accuracy: null });
  });
});
