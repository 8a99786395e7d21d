/**
 * A site that stops heartbeating is dropped from its round at once as `disconnected` (issue 16), over real
 * mTLS: three agent processes, one frozen with SIGSTOP while its control stream stays open at the TCP level.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFederation } from '../../cli/src/local-federation/index.js';
import { type Federation, makeStudy, startFederation } from '../helpers/federation-fixture.js';

const SITES = ['site-1', 'site-2', 'site-3'];

describe('a site that stops heartbeating (real agent processes, mTLS)', () => {
  let fed: Federation | undefined;
  let agents: LocalFederation | undefined;
  afterAll(async () => {
    agents?.process('site-3')?.kill('SIGCONT');
    await agents?.close();
    await fed?.close();
  });

  it('is dropped from the round as disconnected long before the fit deadline, and the round commits with the rest', { timeout: 120_000 }, async () => {
    // Arrange: heartbeats every 250 ms, 1.5 s of silence allowed; the fit deadline is far away (100 s).
    fed = await startFederation({ sites: SITES.length, seed: 3, examplesPerSite: 60, heartbeatIntervalMs: 250, heartbeatTimeoutMs: 1500 });
    const { coordinator, dir, pkiDir, siteCsv } = fed;
    agents = await LocalFederation.create({
      workdir: path.join(dir, 'agents'),
      pkiDir,
      coordinatorPort: coordinator.port,
      sites: SITES.map((id, i) => ({ id, datasets: { 'synthetic-cohort': { csv: siteCsv[i] ?? '', schema: 'builtin:synthetic-cohort' } } })),
      logLevel: 'warn',
    });
    for (const id of SITES) agents.startAgent(id);
    for (let i = 0; i < 600 && coordinator.sessions.connectedSites().length < SITES.length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(coordinator.sessions.connectedSites()).toEqual(SITES);
    const study = await coordinator.createStudy(
      makeStudy({
        id: 'frozen-site',
        inputDim: 10,
        rounds: 1,
        minSites: 2,
        secureAggregation: false,
        timeouts: { waitForSitesMs: 30_000, fitMs: 100_000, evaluateMs: 100_000 },
      }),
    );

    // Act: site-3 freezes (its process stopped: no heartbeat, no FIN), then the round starts.
    agents.process('site-3')?.kill('SIGSTOP');
    const done = await coordinator.runStudy(study.id);

    // Assert
    expect(done).toMatchObject({ status: 'completed', completedRounds: 1 });
    const round = (await coordinator.store.listRounds(study.id)).find((r) => r.status === 'committed')!;
    const rows = await coordinator.store.listRoundSites(study.id, 1, round.attempt);
    // Drawn into the cohort (it was connected), sent its fit task, dropped when its silence ran out, and sent no
    // evaluate task; had the deadline ended it, the outcome would be `timeout` (and the test would time out first).
    expect(rows.filter((r) => r.siteId === 'site-3')).toEqual([
      expect.objectContaining({ phase: 'fit', outcome: 'disconnected', reason: expect.stringMatching(/^the site missed heartbeats for \d+ ms$/) as string }),
    ]);
    expect(rows.filter((r) => r.phase === 'fit' && r.outcome === 'ok').map((r) => r.siteId).sort()).toEqual(['site-1', 'site-2']);
    expect(coordinator.sessions.connectedSites()).not.toContain('site-3');
  });
});
