import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoundSiteRecord } from '../../coordinator/src/store/coordinator-store.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';

/**
 * Per-site training metrics under secure aggregation (issue 16): a site's training loss and accuracy are
 * facts about its data that the masked sum hides, so they leave the site only where its own policy says
 * `shareTrainMetrics: true`. Three sites over real mTLS; only site-1 allows it.
 */
describe('per-site training metrics under secure aggregation follow each site policy (real mTLS)', () => {
  let fed: Federation;
  let fitRows: RoundSiteRecord[] = [];
  let trainMetrics: unknown;
  beforeAll(async () => {
    fed = await startFederation({
      sites: 3,
      agent: (siteId) => (siteId === 'site-1' ? { config: { policy: { secureAggregation: { shareTrainMetrics: true } } } } : {}),
    });
    for (let i = 0; i < 3; i++) await fed.startAgent(i);
    for (let i = 0; i < 200 && fed.coordinator.sessions.connectedSites().length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'metrics', inputDim: 10, rounds: 1, minSites: 3, secureAggregation: true }));
    const done = await fed.coordinator.runStudy(study.id);
    expect(done.status).toBe('completed');
    const round = (await fed.coordinator.store.listRounds('metrics')).find((r) => r.status === 'committed');
    fitRows = (await fed.coordinator.store.listRoundSites('metrics', 1, round?.attempt ?? 1)).filter((r) => r.phase === 'fit');
    trainMetrics = round?.trainMetrics;
  }, 240_000);
  afterAll(async () => {
    await fed?.close();
  });

  it('stores no training loss or accuracy for the sites whose policy keeps them', () => {
    expect(fitRows.map((r) => r.siteId).sort()).toEqual(['site-1', 'site-2', 'site-3']);
    for (const r of fitRows.filter((x) => x.siteId !== 'site-1')) {
      expect(r.outcome).toBe('ok');
      expect(r.loss).toBeNull();
      expect(r.accuracy).toBeNull();
    }
  });

  it("stores the metrics of the one site whose policy shares them, and nothing else's in the round's aggregate", () => {
    const shared = fitRows.find((r) => r.siteId === 'site-1');
    expect(Number.isFinite(shared?.loss)).toBe(true);
    expect(Number.isFinite(shared?.accuracy)).toBe(true);
    // The round's training metrics come from the sites that shared theirs: here site-1's alone.
    expect(trainMetrics).toMatchObject({ loss: shared?.loss, accuracy: shared?.accuracy });
  });
});
