import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CoordinatorEvent } from '../../coordinator/src/rounds/events.js';
import type { StudySummary } from '../../coordinator/src/study-summary.js';
import { SqliteCoordinatorStore } from '../../coordinator/src/store/sqlite-store.js';
import { parseConsortiumConfig } from '../../shared/src/config/consortium-config.js';
import { writeSyntheticCohort } from '../../site-agent/src/hospital/datasets/index.js';
import { repoRoot } from '../../shared/src/paths.js';
import { provisionConsortium } from '../../coordinator/src/pki/index.js';

const BIN = path.join(repoRoot(), 'bin', 'tessera.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

type Msg = { kind: string; event?: CoordinatorEvent; summary?: StudySummary };

// The study runs under secure aggregation (the default): 'fit' kills the coordinator while the sites train and
// advertise keys, 'secagg-masked-input' while masked inputs are being uploaded. Either way the attempt is lost
// with the coordinator's memory, the round is retried with fresh keys, and nothing is counted twice.
describe.each(['fit', 'secagg-masked-input'])('coordinator killed with SIGKILL mid-round at phase %s (real processes)', (killPhase) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-crash-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes from the last committed model, counts no round twice, and the sites reconnect by themselves', async () => {
    // Arrange: a consortium, three sites' data, a coordinator config on a fixed port, a 5-round study.
    const sites = ['site-1', 'site-2', 'site-3'];
    const pki = path.join(dir, 'pki');
    provisionConsortium(parseConsortiumConfig(JSON.stringify({ name: 'crash', sites: sites.map((id) => ({ id })) }), 'consortium'), pki, new Date());
    const csvs = await writeSyntheticCohort(path.join(dir, 'data'), { sites: 3, seed: 3, examplesPerSite: 300 });
    const port = await freePort();
    const c = path.join(pki, 'coordinator');
    const coordinatorYaml = path.join(dir, 'coordinator.json');
    writeFileSync(coordinatorYaml, JSON.stringify({
      listen: { host: '127.0.0.1', port },
      dataDir: path.join(dir, 'state'),
      tls: { ca: path.join(c, 'ca.crt'), cert: path.join(c, 'server.crt'), key: path.join(c, 'server.key'), revocations: path.join(c, 'revocations.json') },
      heartbeatIntervalMs: 500,
    }));
    const studyFile = path.join(dir, 'study.json');
    writeFileSync(studyFile, JSON.stringify({
      id: 'crash-study', name: 'crash', dataset: 'synthetic-cohort', model: 'logreg', inputDim: 10, rounds: 5, strategy: 'fedadam',
      minSites: 3, training: { localEpochs: 20, batchSize: 8, learningRate: 0.05 },
      timeouts: { waitForSitesMs: 60_000, fitMs: 60_000, evaluateMs: 60_000 },
    }));
    const startCoordinator = (onMessage: (m: Msg, child: ChildProcess) => void): ChildProcess => {
      const child = fork(BIN, ['coordinator', '--config', coordinatorYaml, '--study', studyFile, '--exit-when-done'], {
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
        env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
      });
      child.on('message', (m) => onMessage(m as Msg, child));
      children.push(child);
      return child;
    };
    const agents = sites.map((id, i) => {
      const cfg = path.join(dir, `agent-${id}.json`);
      writeFileSync(cfg, JSON.stringify({
        kit: path.join(pki, 'sites', id),
        coordinator: `127.0.0.1:${port}`,
        datasets: { 'synthetic-cohort': { csv: csvs[i], schema: 'builtin:synthetic-cohort' } },
        reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
      }));
      const child = fork(BIN, ['agent', '--config', cfg], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } });
      children.push(child);
      return child;
    });

    // Act 1: run until round 3's fit phase is under way, then kill -9 the coordinator.
    const killedAt = await new Promise<number>((resolve, reject) => {
      startCoordinator((m, child) => {
        if (m.kind === 'event' && m.event?.type === 'round-phase' && m.event.phase === killPhase && m.event.round === 3) {
          child.kill('SIGKILL');
          resolve(m.event.round);
        }
      }).on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`coordinator exited early: ${code ?? signal ?? '?'}`));
      });
    });
    expect(killedAt).toBe(3);

    // Act 2: restart the coordinator on the same state; the agents are the same processes, never restarted.
    const summary = await new Promise<StudySummary>((resolve, reject) => {
      startCoordinator((m) => {
        if (m.kind === 'summary' && m.summary) resolve(m.summary);
      }).on('exit', (code) => {
        if (code !== 0) reject(new Error(`restarted coordinator exited with ${code ?? '?'}`));
      });
    });

    // Assert
    expect(summary.status).toBe('completed');
    expect(summary.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
    for (const a of agents) expect(a.exitCode).toBeNull();
    const store = await SqliteCoordinatorStore.open(path.join(dir, 'state', 'coordinator.sqlite'));
    try {
      const rounds = await store.listRounds('crash-study');
      const committed = rounds.filter((r) => r.status === 'committed');
      expect(committed.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
      const interrupted = rounds.filter((r) => r.status === 'interrupted');
      expect(interrupted.map((r) => r.round)).toEqual([3]);
      // Each committed round starts from the model the previous one committed: nothing lost, nothing applied twice.
      for (let i = 1; i < committed.length; i++) expect(committed[i]!.modelIn).toBe(committed[i - 1]!.modelOut);
      expect(interrupted[0]!.modelIn).toBe(committed[1]!.modelOut);
      const study = await store.getStudy('crash-study');
      expect(study?.completedRounds).toBe(5);
      expect(study?.currentModel).toBe(committed[4]!.modelOut);
    } finally {
      await store.close();
    }
  });
});
