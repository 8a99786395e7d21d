import { fork, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UploadStore } from '../../coordinator/src/store/blob-store.js';
import { repoRoot } from '../../shared/src/paths.js';
import { MAX_CHUNK_BYTES } from '../../shared/src/transport/chunks.js';
import { type Federation, makeStudy, startFederation } from '../helpers/federation-fixture.js';

const BIN = path.join(repoRoot(), 'bin', 'tessera.js');
const SITES = ['site-1', 'site-2', 'site-3'];
/** Site → coordinator bytes on one connection after which the proxy cuts it (once): mid-way through a 4 MB update. */
const CUT_AFTER_BYTES = 2_500_000;

/**
 * A TCP proxy between the agents and the coordinator that cuts one connection once it has carried
 * CUT_AFTER_BYTES towards the coordinator: the only bulk traffic in that direction is an update upload, so the
 * cut lands inside an agent's first try, which sends the transfer digest last (protocol 3). The TLS session
 * runs end to end through the proxy.
 */
function cuttingProxy(target: number): Promise<{ port: number; cuts: () => number; close: () => void }> {
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let up = 0;
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => {
      up += d.byteLength;
      if (cuts === 0 && up > CUT_AFTER_BYTES) {
        cuts += 1;
        drop();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr !== null ? addr.port : 0,
        cuts: () => cuts,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      });
    });
  });
}

describe('an update upload cut mid-stream (real agent processes, mTLS through a cutting proxy)', () => {
  const children: ChildProcess[] = [];
  let fed: Federation | undefined;
  let proxy: { close: () => void } | undefined;
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    proxy?.close();
    await fed?.close();
  });

  it("resumes the agent's first try (digest in the trailer) from the bytes the coordinator holds, and the round commits", async () => {
    // Arrange: an in-process coordinator (PKI, data; no in-process agents) that records every chunk it takes,
    // the proxy, and three agent processes dialling the proxy.
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
    const cutter = await cuttingProxy(coordinator.port);
    proxy = cutter;
    const logs = new Map<string, string>();
    SITES.forEach((id, i) => {
      const cfg = path.join(dir, `agent-${id}.json`);
      writeFileSync(
        cfg,
        JSON.stringify({
          kit: path.join(pkiDir, 'sites', id),
          coordinator: `127.0.0.1:${cutter.port}`,
          datasets: { 'synthetic-cohort': { csv: siteCsv[i], schema: 'builtin:synthetic-cohort' } },
          reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
        }),
      );
      const logFile = path.join(dir, `${id}.log`);
      logs.set(id, logFile);
      const fd = openSync(logFile, 'a');
      children.push(fork(BIN, ['agent', '--config', cfg], { stdio: ['ignore', fd, fd, 'ipc'], env: { ...process.env, TESSERA_LOG_LEVEL: 'info' } }));
    });
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
    expect(cutter.cuts()).toBe(1);
    expect(done.status).toBe('completed');
    const rounds = (await coordinator.store.listRounds(study.id)).filter((r) => r.status === 'committed');
    expect(rounds.map((r) => r.round)).toEqual([1, 2]);
    for (const r of rounds) {
      const fit = (await coordinator.store.listRoundSites(study.id, r.round, r.attempt)).filter((x) => x.phase === 'fit' && x.updateSha256 != null);
      expect(fit.map((x) => x.siteId).sort()).toEqual(SITES);
    }
    const interrupted = SITES.filter((id) => readFileSync(logs.get(id) ?? '', 'utf8').includes('transfer interrupted; resuming'));
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
