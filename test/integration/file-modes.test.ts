import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFederation } from '../../cli/src/local-federation/index.js';
import { writeSyntheticCohort } from '../../site-agent/src/hospital/datasets/index.js';

/** Every file and folder under `dir` whose mode lets anyone but the owner in, as `path mode`. */
function openToOthers(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = statSync(p);
    if ((st.mode & 0o077) !== 0) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) out.push(...openToOthers(p));
  }
  return out;
}

/**
 * Files with secrets or state are created 0600 in 0700 folders by the real processes (issue 16): the
 * coordinator's database, journal, models and uploads, and the logs; a database an earlier version left 0644
 * is tightened when the coordinator starts.
 */
describe('file modes of the coordinator state and logs (real processes)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-modes-'));
  let fed: LocalFederation | undefined;
  afterAll(async () => {
    await fed?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates state 0600 in 0700 folders whatever the umask, and tightens state left open', async () => {
    // Arrange: a one-round plaintext study on two sites, the parent's umask left wide open.
    const previous = process.umask(0o000);
    try {
      const csvs = await writeSyntheticCohort(dataDir, { sites: 2, seed: 4, examplesPerSite: 40 });
      const study = path.join(dataDir, 'study.json');
      writeFileSync(study, JSON.stringify({
        id: 'modes', name: 'modes', dataset: 'synthetic-cohort', model: 'logreg', inputDim: 10, rounds: 1, strategy: 'fedavg', minSites: 2,
        secureAggregation: false, training: { localEpochs: 1, batchSize: 16, learningRate: 0.1 }, timeouts: { waitForSitesMs: 60_000, fitMs: 60_000, evaluateMs: 60_000 },
      }));
      fed = await LocalFederation.create({
        name: 'modes',
        sites: ['site-1', 'site-2'].map((id, i) => ({ id, datasets: { 'synthetic-cohort': { csv: csvs[i] ?? '', schema: 'builtin:synthetic-cohort' } } })),
        coordinator: { studies: [study] },
        logLevel: 'warn',
      });
    } finally {
      process.umask(previous);
    }
    const f = fed;
    const state = path.join(f.dir, 'coordinator-data');

    // Act 1: run the study.
    const summary = f.waitForMessage((m) => m.kind === 'summary', { timeoutMs: 240_000 });
    await f.start();
    await summary;

    // Assert 1
    expect(statSync(path.join(state, 'coordinator.sqlite')).mode & 0o777).toBe(0o600);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    expect(openToOthers(state)).toEqual([]);
    expect(openToOthers(path.join(f.dir, 'logs'))).toEqual([]);
    expect(statSync(path.join(f.dir, 'logs')).mode & 0o777).toBe(0o700);

    // Act 2: an install from before, left open; the coordinator restarts on it.
    await f.kill('coordinator');
    chmodSync(state, 0o755);
    chmodSync(path.join(state, 'coordinator.sqlite'), 0o644);
    await f.startCoordinator();

    // Assert 2
    expect(statSync(state).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(state, 'coordinator.sqlite')).mode & 0o777).toBe(0o600);
  }, 300_000);
});
