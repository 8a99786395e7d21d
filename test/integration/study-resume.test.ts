import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import type { CoordinatorEvent } from '../../coordinator/src/rounds/events.js';
import { SqliteCoordinatorStore } from '../../coordinator/src/store/sqlite-store.js';
import { CoordinatorConfigSchema } from '../../shared/src/config/coordinator-config.js';
import { validateConfig } from '../../shared/src/config/validate.js';
import { encodeWeights } from '../../shared/src/ml/weights.js';
import { makeStudy, quietLogger, startFederation, type Federation } from '../helpers/federation-fixture.js';

describe('a study started by any route resumes after a coordinator restart (real gRPC server, SQLite file)', () => {
  let fed: Federation | undefined;
  let restarted: Coordinator | undefined;
  afterAll(async () => {
    await restarted?.close();
    if (fed) rmSync(fed.dir, { recursive: true, force: true });
  });

  it('is running again, by itself, as soon as the new process has started', async () => {
    fed = await startFederation({ sites: 2 });
    const study = makeStudy({ inputDim: 12, id: 'rest-started', timeouts: { waitForSitesMs: 60_000, fitMs: 30_000, evaluateMs: 30_000 } });
    await fed.coordinator.createStudy(study);
    // What POST /api/v1/studies/:id/start does: run it in the background (no agent is up, so round 1 waits for sites).
    await fed.coordinator.startStudy(study.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(fed.coordinator.isRunning(study.id)).toBe(true);
    await fed.coordinator.close();
    expect((await restartedStore(fed)).status).toBe('running');

    const events: CoordinatorEvent[] = [];
    restarted = await restart(fed, events);
    expect(restarted.isRunning(study.id)).toBe(true);
    for (let i = 0; i < 50 && !events.some((e) => e.type === 'round-started'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(events.filter((e) => e.type === 'study-started' || e.type === 'round-started').map((e) => e.type)).toEqual(['study-started', 'round-started']);
    // The first process's open attempt was found at start-up; the resumed run is a new attempt at round 1.
    const rounds = await restarted.store.listRounds(study.id);
    expect(rounds.map((r) => `${r.round}/${r.attempt}:${r.status}`)).toEqual(['1/1:interrupted', '1/2:waiting']);
    // An operator can stop it (the wait for sites ends at once).
    await restarted.stopStudy(study.id, 'abort');
    for (let i = 0; i < 50 && restarted.isRunning(study.id); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await restarted.store.getStudy(study.id))?.status).toBe('aborted');
  });
});

/** A new coordinator process on the federation's data folder. */
function restart(fed: Federation, events: CoordinatorEvent[]): Promise<Coordinator> {
  const c = path.join(fed.pkiDir, 'coordinator');
  return Coordinator.create({
    config: validateConfig(
      CoordinatorConfigSchema,
      {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: path.join(fed.dir, 'coordinator-data'),
        tls: { ca: path.join(c, 'ca.crt'), cert: path.join(c, 'server.crt'), key: path.join(c, 'server.key'), revocations: path.join(c, 'revocations.json') },
        heartbeatIntervalMs: 1000,
      },
      'test',
    ),
    baseDir: fed.dir,
    logger: quietLogger('coordinator'),
    onEvent: (e) => events.push(e),
  });
}

async function restartedStore(fed: Federation) {
  const store = await SqliteCoordinatorStore.open(path.join(fed.dir, 'coordinator-data', 'coordinator.sqlite'));
  try {
    return (await store.getStudy('rest-started'))!;
  } finally {
    await store.close();
  }
}

describe('a model version file corrupted on disk (real files, SQLite, audit ledger)', () => {
  let fed: Federation | undefined;
  let restarted: Coordinator | undefined;
  afterAll(async () => {
    await restarted?.close();
    if (fed) rmSync(fed.dir, { recursive: true, force: true });
  });

  it('is reported on read, and the paused study rolls back to its last good version, audited', async () => {
    fed = await startFederation({ sites: 2 });
    const study = makeStudy({ inputDim: 12, id: 'corrupt-model' });
    const created = await fed.coordinator.createStudy(study);
    // Round 1 committed as the workflow commits it (no agent needed), then the study paused.
    const { store, models } = fed.coordinator;
    await store.setStudyStatus(study.id, 'running', 1);
    const r = await store.startRound(study.id, 1, created.currentModel, 2);
    for (const s of ['fitting', 'aggregating', 'evaluating'] as const) await store.updateRound(study.id, 1, r.attempt, s, {});
    const next = await models.put(encodeWeights(new Float32Array(13).fill(0.5)));
    await store.commitRound({ studyId: study.id, round: 1, attempt: r.attempt, model: { sha256: next, studyId: study.id, round: 1, numParams: 13, createdAt: 3 }, metrics: null, trainMetrics: null, phases: {}, strategyState: null, now: 3 });
    await store.setStudyStatus(study.id, 'paused', 4, 'paused by an operator');
    await fed.coordinator.close();
    // A disk fault flips a byte of the current version.
    const file = path.join(fed.dir, 'coordinator-data', 'models', `${next}.bin`);
    const bytes = readFileSync(file);
    bytes[0] = (bytes[0] as number) ^ 0xff;
    writeFileSync(file, bytes);

    restarted = await restart(fed, []);
    await expect(restarted.models.get(next)).rejects.toMatchObject({ code: 'TESSERA_MODEL_CORRUPT' });
    const rolled = await restarted.rollbackStudy(study.id);
    expect(rolled).toMatchObject({ status: 'paused', currentModel: created.currentModel, completedRounds: 1 });
    const { entries } = await restarted.audit.list({ studyId: study.id, kind: 'study.status' });
    expect(entries.at(-1)?.details).toMatchObject({ rolledBackFrom: next, rolledBackTo: created.currentModel, toRound: 0 });
    await expect(restarted.rollbackStudy(study.id)).rejects.toThrow('reads fine; resume the study instead');
  });
});
