import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import type { CoordinatorEvent } from '../../coordinator/src/rounds/events.js';
import { SqliteCoordinatorStore } from '../../coordinator/src/store/sqlite-store.js';
import { CoordinatorConfigSchema } from '../../shared/src/config/coordinator-config.js';
import { validateConfig } from '../../shared/src/config/validate.js';
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
    const c = path.join(fed.pkiDir, 'coordinator');
    restarted = await Coordinator.create({
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

async function restartedStore(fed: Federation) {
  const store = await SqliteCoordinatorStore.open(path.join(fed.dir, 'coordinator-data', 'coordinator.sqlite'));
  try {
    return (await store.getStudy('rest-started'))!;
  } finally {
    await store.close();
  }
}
