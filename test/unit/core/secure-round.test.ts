import { beforeAll, describe, expect, it } from 'vitest';
import { createConsortiumCa, issueCertificate, type CaMaterial, type IssuedCertificate } from '../../../coordinator/src/pki/index.js';
import { RoundWorkflow } from '../../../coordinator/src/rounds/round-workflow.js';
import { createStrategy } from '../../../coordinator/src/strategies/index.js';
import { decodeWeights, encodeWeights } from '../../../shared/src/ml/weights.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import { memoryDeps, scripted, secureSite, stageOf, testSpec } from './fake-sites.js';

const DIM = 5;
const NOW = new Date('2026-03-01T12:00:00Z');
let ca: CaMaterial;
const certs = new Map<string, IssuedCertificate>();

beforeAll(() => {
  ca = createConsortiumCa({ name: 'core-test', validityDays: 365, now: NOW });
  for (const id of ['a', 'b', 'c', 'd']) certs.set(id, issueCertificate({ ca, role: 'site', id, validityDays: 30, now: NOW }));
}, 60_000);

function site(id: string, delta: number, numExamples = 16) {
  const cert = certs.get(id)!;
  return secureSite({ siteId: id, certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem, delta, numExamples, now: NOW });
}

async function setUp(spec: StudySpec) {
  const deps = memoryDeps({ caCertPem: ca.certPem, now: () => NOW.getTime() });
  const initial = await deps.memModels.put(encodeWeights(new Float32Array(DIM)));
  await deps.memStore.createStudy(spec, { sha256: initial, studyId: spec.id, round: 0, numParams: DIM, createdAt: 1 }, 1);
  return deps;
}

async function run(deps: Awaited<ReturnType<typeof setUp>>): Promise<boolean> {
  const study = (await deps.memStore.getStudy('core-study'))!;
  return new RoundWorkflow(deps, study, createStrategy('fedavg', {}), 1).run();
}

async function committedWeights(deps: Awaited<ReturnType<typeof setUp>>): Promise<Float32Array> {
  const study = (await deps.memStore.getStudy('core-study'))!;
  return decodeWeights(await deps.memModels.get(study.currentModel), DIM);
}

const secure = (o: Record<string, unknown> = {}): StudySpec =>
  testSpec({ secureAggregation: true, minSites: 2, secureAggregationOptions: { stageTimeoutMs: 300, weightBucket: 1 }, timeouts: { waitForSitesMs: 300, fitMs: 1000, evaluateMs: 300 }, ...o });

describe('secure round on scripted sites with the real SecAgg protocol (no gRPC, no SQLite)', () => {
  it('learns only the weighted mean, which equals the plain weighted mean within quantization', async () => {
    const deps = await setUp(secure());
    deps.channel.connect('a', site('a', 1, 16));
    deps.channel.connect('b', site('b', 2, 16));
    deps.channel.connect('c', site('c', 4, 32));
    const sums: string[][] = [];
    deps.onSecureSum = (info) => sums.push(info.contributors);
    expect(await run(deps)).toBe(true);
    for (const w of await committedWeights(deps)) expect(w).toBeCloseTo((16 + 32 + 128) / 64, 3);
    expect(sums).toEqual([['a', 'b', 'c']]);
    const fit = (await deps.memStore.listRoundSites('core-study', 1, 1)).filter((s) => s.phase === 'fit');
    // Example counts and each site's own training metrics stay out of the store: only the round's mean is kept.
    expect(fit.map((s) => [s.siteId, s.outcome, s.numExamples, s.loss, s.accuracy])).toEqual([
      ['a', 'ok', 0, null, null],
      ['b', 'ok', 0, null, null],
      ['c', 'ok', 0, null, null],
    ]);
    const train = (await deps.memStore.listRounds('core-study'))[0]?.trainMetrics;
    expect(train?.numExamples).toBe(3);
    expect(train?.loss).toBeCloseTo(0.6, 12);
    expect(train?.accuracy).toBeCloseTo(0.7, 12);
    // Every stage reached every site, in order.
    expect(deps.channel.tasksOf('a').map(stageOf)).toEqual(['advertise', 'share-keys', 'masked-input', 'unmask', 'evaluate']);
  });

  it('recovers the sum when a site drops after sharing its keys (its pairwise masks are removed from the reveals)', async () => {
    const deps = await setUp(secure());
    deps.channel.connect('a', site('a', 1));
    deps.channel.connect('b', site('b', 3));
    deps.channel.connect('c', site('c', 5));
    deps.channel.connect('d', scripted(site('d', 100), (t) => (stageOf(t) === 'masked-input' ? { silent: true } : undefined)));
    expect(await run(deps)).toBe(true);
    // d's update is not in the mean; its masks cancelled through the survivors' shares of its mask key.
    for (const w of await committedWeights(deps)) expect(w).toBeCloseTo(3, 3);
    const fit = (await deps.memStore.listRoundSites('core-study', 1, 1)).filter((s) => s.phase === 'fit');
    expect(Object.fromEntries(fit.map((s) => [s.siteId, s.outcome]))).toEqual({ a: 'ok', b: 'ok', c: 'ok', d: 'timeout' });
    const unmask = deps.channel.tasksOf('a').find((t) => stageOf(t) === 'unmask');
    expect(unmask?.secagg?.request).toMatchObject({ stage: 'unmask', survivors: ['a', 'b', 'c'], dropped: ['d'] });
  });

  it('completes when a survivor drops during unmasking, as long as the threshold of reveals remains', async () => {
    const deps = await setUp(secure());
    deps.channel.connect('a', site('a', 2));
    deps.channel.connect('b', site('b', 2));
    deps.channel.connect('c', site('c', 2));
    deps.channel.connect('d', scripted(site('d', 2), (t) => (stageOf(t) === 'unmask' ? { silent: true } : undefined)));
    expect(await run(deps)).toBe(true);
    for (const w of await committedWeights(deps)) expect(w).toBeCloseTo(2, 3);
  });

  it('fails the attempt, naming the stage, when a site that restarted between stages cannot go on and too few remain', async () => {
    const deps = await setUp(secure({ minSites: 3 }));
    deps.channel.connect('a', site('a', 1));
    deps.channel.connect('b', site('b', 1));
    // c crashes after advertising and comes back as a fresh process: its secrets are gone, it refuses the next stage.
    let restarted = false;
    deps.channel.connect('c', scripted(site('c', 1), (t) => {
      if (stageOf(t) !== 'share-keys' || restarted) return undefined;
      restarted = true;
      setTimeout(() => deps.channel.connect('c', site('c', 1)), 10);
      return { disconnect: true };
    }));
    expect(await run(deps)).toBe(false);
    const [round] = await deps.memStore.listRounds('core-study');
    expect(round?.status).toBe('failed');
    expect(round?.reason).toBe('secure aggregation: 2 sites completed key sharing; secure aggregation needs 3');
    const c = (await deps.memStore.listRoundSites('core-study', 1, 1)).find((s) => s.siteId === 'c');
    expect(c).toMatchObject({ outcome: 'refused' });
  });

  it('drops a site whose keys are signed for another site id', async () => {
    const deps = await setUp(secure());
    deps.channel.connect('a', site('a', 1));
    deps.channel.connect('b', site('b', 1));
    const honest = site('d', 1);
    // d relays a copy of its keys relabelled as a's: the label is checked before the signature.
    deps.channel.connect('d', async (task, ctx) => {
      const reply = await honest(task, ctx);
      if (stageOf(task) !== 'advertise' || !('ok' in reply) || !reply.secagg?.keys) return reply;
      return { ...reply, secagg: { keys: { ...reply.secagg.keys, siteId: 'a' } } };
    });
    expect(await run(deps)).toBe(true);
    const d = (await deps.memStore.listRoundSites('core-study', 1, 1)).find((s) => s.siteId === 'd' && s.phase === 'fit');
    expect(d).toMatchObject({ outcome: 'invalid' });
    expect(d?.reason).toBe('site d advertised keys for a');
  });
});
