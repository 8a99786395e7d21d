import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CoordinatorIpcMessage, LocalFederation } from '../../cli/src/local-federation/index.js';
import type { StudySummary } from '../../coordinator/src/study-summary.js';
import { SqliteCoordinatorStore } from '../../coordinator/src/store/sqlite-store.js';
import { writeSyntheticCohort } from '../../site-agent/src/hospital/datasets/index.js';

// The study runs under secure aggregation (the default): 'fit' kills the coordinator while the sites train and
// advertise keys, 'secagg-masked-input' while masked inputs are being uploaded. Either way the attempt is lost
// with the coordinator's memory, the round is retried with fresh keys, and nothing is counted twice.
describe.each(['fit', 'secagg-masked-input'])('coordinator killed with SIGKILL mid-round at phase %s (real processes)', (killPhase) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-crash-'));
  let fed: LocalFederation | undefined;
  afterAll(async () => {
    await fed?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes from the last committed model, counts no round twice, and the sites reconnect by themselves', async () => {
    // Arrange: a consortium, three sites' data, a coordinator on a fixed port, a 5-round study (the local-federation launcher).
    const sites = ['site-1', 'site-2', 'site-3'];
    const csvs = await writeSyntheticCohort(dataDir, { sites: 3, seed: 3, examplesPerSite: 300 });
    const studyFile = path.join(dataDir, 'study.json');
    writeFileSync(studyFile, JSON.stringify({
      id: 'crash-study', name: 'crash', dataset: 'synthetic-cohort', model: 'logreg', inputDim: 10, rounds: 5, strategy: 'fedadam',
      minSites: 3, training: { localEpochs: 20, batchSize: 8, learningRate: 0.05 },
      timeouts: { waitForSitesMs: 60_000, fitMs: 60_000, evaluateMs: 60_000 },
    }));
    fed = await LocalFederation.create({
      name: 'crash',
      sites: sites.map((id, i) => ({
        id,
        datasets: { 'synthetic-cohort': { csv: csvs[i] ?? '', schema: 'builtin:synthetic-cohort' } },
        config: { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } },
      })),
      coordinator: { config: { heartbeatIntervalMs: 500 }, studies: [studyFile], exitWhenDone: true },
      logLevel: 'warn',
    });
    const f = fed;

    // Act 1: run until round 3's fit phase is under way, then kill -9 the coordinator.
    const phase = f.waitForMessage((m) => m.kind === 'event' && m.event.type === 'round-phase' && m.event.phase === killPhase && m.event.round === 3);
    await f.start();
    const reached = await phase;
    await f.kill('coordinator', 'SIGKILL');
    const killedAt = reached.kind === 'event' && reached.event.type === 'round-phase' ? reached.event.round : 0;
    expect(killedAt).toBe(3);
    const agents = sites.map((id) => f.process(id));

    // Act 2: restart the coordinator on the same state; the agents are the same processes, never restarted.
    const done = f.waitForMessage((m): m is Extract<CoordinatorIpcMessage, { kind: 'summary' }> => m.kind === 'summary');
    await f.startCoordinator();
    const summary: StudySummary = (await done).summary;

    // Assert
    expect(summary.status).toBe('completed');
    expect(summary.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
    for (const a of agents) {
      expect(a).toBeDefined();
      expect(a?.exitCode).toBeNull();
    }
    const store = await SqliteCoordinatorStore.open(path.join(f.dir, 'coordinator-data', 'coordinator.sqlite'));
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
