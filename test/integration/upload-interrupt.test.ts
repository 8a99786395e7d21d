import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFederation } from '../../cli/src/local-federation/index.js';
import { UploadStore } from '../../coordinator/src/store/blob-store.js';
import { MAX_CHUNK_BYTES } from '../../shared/src/transport/chunks.js';
import { type Federation, makeStudy, startFederation } from '../helpers/federation-fixture.js';

const SITES = ['site-1', 'site-2', 'site-3'];
/** Site → coordinator bytes on one connection after which the proxy cuts it (once): mid-way through a 4 MB update. */
const CUT_AFTER_BYTES = 2_500_000;

describe('an update upload cut mid-stream (real agent processes, mTLS through a cutting proxy)', () => {
  let fed: Federation | undefined;
  let agents: LocalFederation | undefined;
  afterAll(async () => {
    await agents?.close();
    await fed?.close();
  });

  it("resumes the agent's first try (digest in the trailer) from the bytes the coordinator holds, and the round commits", async () => {
    // Arrange: an in-process coordinator (PKI, data; no in-process agents) that records every chunk it takes,
    // and three agent processes (the local-federation launcher, on the fixture's PKI), the first dialling
    // through a proxy that cuts one connection once it has carried CUT_AFTER_BYTES towards the coordinator: the
    // only bulk traffic in that direction is an update upload, so the cut lands inside that agent's first try,
    // which sends the transfer digest last (protocol 3). The TLS session runs end to end through the proxy.
    const taken: { taskId: string; offset: number }[] = [];
    const originalAppend = UploadStore.prototype.append;
    UploadStore.prototype.append = function (taskId, chunk, owner) {
      taken.push({ taskId, offset: chunk.offset });
      return originalAppend.call(this, taskId, chunk, owner);
    };
    const begun: { taskId: string; offset: number; digest: boolean }[] = [];
    const originalBegin = UploadStore.prototype.begin;
    UploadStore.prototype.begin = function (taskId, totalBytes, sha256, offset, owner) {
      begun.push({ taskId, offset, digest: sha256 !== undefined });
      return originalBegin.call(this, taskId, totalBytes, sha256, offset, owner);
    };
    afterAll(() => {
      UploadStore.prototype.append = originalAppend;
      UploadStore.prototype.begin = originalBegin;
    });
    fed = await startFederation({ sites: SITES.length, seed: 5, examplesPerSite: 60, heartbeatIntervalMs: 500 });
    const { coordinator, dir, pkiDir, siteCsv } = fed;
    agents = await LocalFederation.create({
      workdir: path.join(dir, 'agents'),
      pkiDir,
      coordinatorPort: coordinator.port,
      sites: SITES.map((id, i) => ({
        id,
        datasets: { 'synthetic-cohort': { csv: siteCsv[i] ?? '', schema: 'builtin:synthetic-cohort' } },
        config: { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } },
        ...(i === 0 ? { proxy: { cutOnceAfterBytes: CUT_AFTER_BYTES } } : {}),
      })),
      logLevel: 'info',
    });
    const f = agents;
    const cutter = f.proxy(SITES[0] ?? '');
    for (const id of SITES) f.startAgent(id);
    for (let i = 0; i < 600 && coordinator.sessions.connectedSites().length < SITES.length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(coordinator.sessions.connectedSites()).toEqual(SITES);
    const study = await coordinator.createStudy(
      makeStudy({
        id: 'cut-it',
        inputDim: 10,
        model: 'mlp-1m',
        rounds: 2,
        minSites: 3,
        secureAggregation: false,
        training: { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' },
        timeouts: { waitForSitesMs: 30_000, fitMs: 60_000, evaluateMs: 30_000 },
      }),
    );

    // Act
    const done = await coordinator.runStudy(study.id);

    // Assert: one cut, both rounds committed with all three sites, and the cut upload resumed rather than restarted.
    expect(cutter?.cuts()).toBe(1);
    expect(done.status).toBe('completed');
    const rounds = (await coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2]);
    for (const r of rounds) {
      const fit = (await coordinator.store.listRoundSites(study.id, r.round, r.attempt)).filter((x) => x.phase === 'fit' && x.updateSha256 != null);
      expect(fit.map((x) => x.siteId).sort()).toEqual(SITES);
    }
    const interrupted = SITES.filter((id) => readFileSync(f.logFile(id), 'utf8').includes('transfer interrupted; resuming'));
    expect(interrupted).toHaveLength(1);
    // Every upload but one began once, at byte 0, without the digest (it came in the trailer). The cut one began
    // again, naming its digest, at the bytes the coordinator held: a whole number of chunks short of its 4.
    const resumed = begun.filter((b) => b.offset > 0);
    expect(resumed).toHaveLength(1);
    const cut = resumed[0] ?? { taskId: '', offset: 0, digest: false };
    expect(cut.taskId).toContain(`/fit/${interrupted[0] ?? ''}`);
    expect(cut.digest).toBe(true);
    expect(cut.offset % MAX_CHUNK_BYTES).toBe(0);
    expect(cut.offset).toBeLessThan(4 * MAX_CHUNK_BYTES);
    expect(begun.filter((b) => b.taskId === cut.taskId).map((b) => [b.offset === 0, b.digest])).toEqual([[true, false], [false, true]]);
    for (const b of begun.filter((x) => x.taskId !== cut.taskId)) expect(b).toMatchObject({ offset: 0, digest: false });
    // The resumed stream sent only the chunks after the held prefix: byte 0 reached the coordinator once.
    expect(taken.filter((t) => t.taskId === cut.taskId && t.offset === 0)).toHaveLength(1);
  }, 300_000);
});
