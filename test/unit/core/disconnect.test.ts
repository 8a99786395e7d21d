import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CoordinatorMessage } from '../../../protos/gen/tessera/v1/CoordinatorMessage.js';
import type { TaskResult__Output } from '../../../protos/gen/tessera/v1/TaskResult.js';
import { createConsortiumCa, issueCertificate, type CaMaterial, type IssuedCertificate } from '../../../coordinator/src/pki/index.js';
import { RoundWorkflow } from '../../../coordinator/src/rounds/round-workflow.js';
import { SiteSessions, type SiteSession } from '../../../coordinator/src/sessions/site-sessions.js';
import { createStrategy } from '../../../coordinator/src/strategies/index.js';
import { encodeWeights } from '../../../shared/src/ml/weights.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import { memoryDeps, plainSite, scripted, secureSite, stageOf, testSpec } from './fake-sites.js';

function fakeSession(siteId: string, inbox: CoordinatorMessage[]): SiteSession {
  return { siteId, backend: 'wasm', agentVersion: 't', connectedAt: Date.now(), lastSeen: Date.now(), send: (m) => (inbox.push(m), true), close: () => undefined };
}

function resultFor(taskId: string): TaskResult__Output {
  return { taskId, studyId: 's', round: 1, kind: 'TASK_KIND_EVALUATE', numExamples: 3, metrics: { loss: 1, accuracy: 1 }, updateSha256: '', updateBytes: 0, durationMs: 0, privacy: null, secagg: null };
}

describe('SiteSessions: a site that goes away', () => {
  it('gets its tasks again when it comes back within the reconnect grace', async () => {
    const sessions = new SiteSessions(pino({ level: 'silent' }), Date.now, { reconnectGraceMs: 200 });
    const first: CoordinatorMessage[] = [];
    const s1 = fakeSession('h1', first);
    sessions.register(s1);
    const outcome = sessions.dispatch('h1', { taskId: 't1', kind: 'TASK_KIND_EVALUATE', studyId: 's', round: 1 }, 5000);
    sessions.unregister(s1);
    const second: CoordinatorMessage[] = [];
    sessions.register(fakeSession('h1', second));
    expect(second.map((m) => m.task?.taskId)).toEqual(['t1']);
    expect(sessions.acceptResult('h1', resultFor('t1'))).toBeNull();
    expect(await outcome).toMatchObject({ ok: true });
  });

  it('ends its tasks disconnected once the grace runs out, long before their deadline, and tells the listeners', async () => {
    const sessions = new SiteSessions(pino({ level: 'silent' }), Date.now, { reconnectGraceMs: 50 });
    const gone: string[] = [];
    sessions.onDisconnect((id) => gone.push(id));
    const s1 = fakeSession('h1', []);
    sessions.register(s1);
    const outcome = sessions.dispatch('h1', { taskId: 't1', kind: 'TASK_KIND_EVALUATE', studyId: 's', round: 1 }, 60_000);
    sessions.unregister(s1);
    expect(gone).toEqual(['h1']);
    expect(await outcome).toMatchObject({ ok: false, outcome: 'disconnected', reason: 'the site is not connected and did not come back within 50 ms' });
    // A task for a site that is not connected waits the same grace.
    expect(await sessions.dispatch('h2', { taskId: 't2', kind: 'TASK_KIND_FIT', studyId: 's', round: 1 }, 60_000)).toMatchObject({ ok: false, outcome: 'disconnected' });
  });

  it('keeps the deadline of a site whose stream was closed after a long silence (busy training, not gone)', async () => {
    const sessions = new SiteSessions(pino({ level: 'silent' }), Date.now, { reconnectGraceMs: 20, silentAfterMs: 1000 });
    const quiet = { ...fakeSession('h1', []), lastSeen: Date.now() - 5000 };
    sessions.register(quiet);
    const outcome = sessions.dispatch('h1', { taskId: 't1', kind: 'TASK_KIND_FIT', studyId: 's', round: 1 }, 150);
    sessions.unregister(quiet);
    const later = sessions.dispatch('h1', { taskId: 't2', kind: 'TASK_KIND_EVALUATE', studyId: 's', round: 1 }, 150);
    expect(await outcome).toMatchObject({ ok: false, outcome: 'timeout' });
    expect(await later).toMatchObject({ ok: false, outcome: 'timeout' });
  });
});

async function setUp(spec: StudySpec, caPem = '', now: () => number = Date.now) {
  const deps = memoryDeps({ caCertPem: caPem, now });
  const initial = await deps.memModels.put(encodeWeights(new Float32Array(4)));
  await deps.memStore.createStudy(spec, { sha256: initial, studyId: spec.id, round: 0, numParams: 4, createdAt: 1 }, 1);
  const study = (await deps.memStore.getStudy(spec.id))!;
  return { deps, run: () => new RoundWorkflow(deps, study, createStrategy('fedavg', {}), 1).run() };
}

describe('a round loses a site', () => {
  it('records a site whose stream ends mid-fit as disconnected, sends it no evaluate task and commits with the rest', async () => {
    const { deps, run } = await setUp(testSpec({ minSites: 2, timeouts: { waitForSitesMs: 1000, fitMs: 60_000, evaluateMs: 60_000 } }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('b', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('c', scripted(plainSite({ delta: 1, numExamples: 10 }), (t) => (t.kind === 'fit' ? { disconnect: true } : undefined)));
    expect(await run()).toBe(true);
    const sites = await deps.memStore.listRoundSites('core-study', 1, 1);
    expect(sites.map((s) => `${s.siteId}/${s.phase}/${s.outcome}`)).toEqual(['a/evaluate/ok', 'a/fit/ok', 'b/evaluate/ok', 'b/fit/ok', 'c/fit/disconnected']);
    expect(deps.channel.tasksOf('c').map((t) => t.kind)).toEqual(['fit']);
  });

  it('records a site that died after its fit as disconnected in the evaluation, after the grace, not the deadline', async () => {
    const { deps, run } = await setUp(testSpec({ minSites: 2, timeouts: { waitForSitesMs: 1000, fitMs: 60_000, evaluateMs: 60_000 } }));
    deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
    deps.channel.connect('b', plainSite({ delta: 1, numExamples: 10 }));
    const c = plainSite({ delta: 1, numExamples: 10 });
    deps.channel.connect('c', async (task, site) => {
      const reply = await c(task, site);
      // The process dies right after its result left.
      if (task.kind === 'fit') deps.channel.disconnect('c');
      return reply;
    });
    expect(await run()).toBe(true);
    const rows = (await deps.memStore.listRoundSites('core-study', 1, 1)).filter((s) => s.siteId === 'c');
    expect(rows.map((s) => `${s.phase}/${s.outcome}`)).toEqual(['evaluate/disconnected', 'fit/ok']);
    expect(rows[0]?.reason).toBe('the site is not connected and did not come back within 100 ms');
  });

  describe('under secure aggregation', () => {
    const NOW = new Date('2026-03-01T12:00:00Z');
    let ca: CaMaterial;
    const certs = new Map<string, IssuedCertificate>();
    beforeAll(() => {
      ca = createConsortiumCa({ name: 'core-disconnect', validityDays: 365, now: NOW });
      for (const id of ['a', 'b', 'c', 'd']) certs.set(id, issueCertificate({ ca, role: 'site', id, validityDays: 30, now: NOW }));
    }, 60_000);
    const site = (id: string) => secureSite({ siteId: id, certPem: certs.get(id)!.certPem, keyPem: certs.get(id)!.keyPem, caPem: ca.certPem, delta: 1, numExamples: 8, now: NOW });

    it('drops a site killed between stages at once, unmasks without it, and sends it nothing more', async () => {
      const spec = testSpec({ secureAggregation: true, minSites: 2, secureAggregationOptions: { stageTimeoutMs: 60_000, weightBucket: 1 }, timeouts: { waitForSitesMs: 1000, fitMs: 60_000, evaluateMs: 60_000 } });
      const { deps, run } = await setUp(spec, ca.certPem, () => NOW.getTime());
      for (const id of ['a', 'b', 'c']) deps.channel.connect(id, site(id));
      deps.channel.connect('d', scripted(site('d'), (t) => (stageOf(t) === 'masked-input' ? { disconnect: true } : undefined)));
      expect(await run()).toBe(true);
      const d = (await deps.memStore.listRoundSites('core-study', 1, 1)).filter((s) => s.siteId === 'd');
      expect(d.map((s) => [s.phase, s.outcome])).toEqual([['fit', 'disconnected']]);
      expect(deps.channel.tasksOf('d').map(stageOf)).toEqual(['advertise', 'share-keys', 'masked-input']);
      expect(deps.channel.tasksOf('a').find((t) => stageOf(t) === 'unmask')?.secagg?.request).toMatchObject({ dropped: ['d'] });
    });
  });
});
