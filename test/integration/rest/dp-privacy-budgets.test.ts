import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dpPrivacyBudgets } from '../../../coordinator/src/rest/privacy.js';
import type { CoordinatorEvent } from '../../../coordinator/src/rounds/events.js';
import { SqliteCoordinatorStore } from '../../../coordinator/src/store/sqlite-store.js';
import { epsilonFor } from '../../../shared/src/dp/accountant.js';
import { resolveStudyPrivacy } from '../../../shared/src/dp/study-privacy.js';
import { StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import { validateConfig } from '../../../shared/src/config/validate.js';

let dir: string;
let store: SqliteCoordinatorStore;
beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-budgets-'));
  store = await SqliteCoordinatorStore.open(path.join(dir, 'coordinator.sqlite'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (c: string): string => c.repeat(64);

describe('privacy budgets with DP figures (REST source, real SQLite store)', () => {
  it('shows ε from committed participation under the study accountant, or the larger figure a site reported', async () => {
    // Arrange: a DP study whose σ the coordinator calibrates, two committed rounds, site-2 absent from round 2.
    const spec = resolveStudyPrivacy(
      validateConfig(StudySpecSchema, {
        id: 'dp-study', name: 'dp', dataset: 'heart-disease', model: 'logreg', inputDim: 13, rounds: 10, strategy: 'fedavg',
        privacy: { mode: 'record', epsilon: 1, delta: 1e-5, samplingRate: 0.5, stepsPerRound: 5 },
      }, 'study'),
    );
    const sigma = spec.privacy?.noiseMultiplier as number;
    await store.createStudy(spec, { sha256: sha('a'), studyId: 'dp-study', round: 0, numParams: 14, createdAt: 1 }, 1);
    for (const [round, sites] of [[1, ['site-1', 'site-2']], [2, ['site-1']]] as const) {
      await store.startRound('dp-study', round, sha(round === 1 ? 'a' : 'b'), 10 * round);
      for (const siteId of sites) {
        await store.recordSiteOutcome({ studyId: 'dp-study', round, attempt: 1, siteId, phase: 'fit', outcome: 'ok', numExamples: 100, loss: 0.5, accuracy: 0.7, updateSha256: sha('c'), updateBytes: 56, durationMs: 5, reason: null });
      }
      await store.commitRound({ studyId: 'dp-study', round, attempt: 1, model: { sha256: sha(round === 1 ? 'b' : 'd'), studyId: 'dp-study', round, numParams: 14, createdAt: 10 * round + 1 }, metrics: null, trainMetrics: null, phases: {}, strategyState: null, now: 10 * round + 1 });
    }
    const listeners: ((e: CoordinatorEvent) => void)[] = [];
    const source = dpPrivacyBudgets({ store, subscribe: (l) => (listeners.push(l), () => undefined) });

    // Act: site-2 reports a retried attempt's spend (3 fits) from its own ledger.
    const reported = epsilonFor('pld', { q: 0.5, sigma, steps: 15 }, 1e-5);
    for (const l of listeners) l({ type: 'site-privacy', studyId: 'dp-study', round: 2, siteId: 'site-2', epsilon: reported, delta: 1e-5, accountant: 'pld', dpRounds: 3 });
    const budgets = await source.list({});

    // Assert
    expect(budgets.map((b) => [b.siteId, b.roundsParticipated])).toEqual([['site-1', 2], ['site-2', 1]]);
    const [one, two] = budgets;
    expect(one?.dp).toEqual({ mechanism: 'dp-sgd (record-level, pld)', epsilonSpent: epsilonFor('pld', { q: 0.5, sigma, steps: 10 }, 1e-5), epsilonBudget: 1, delta: 1e-5 });
    expect(two?.dp?.epsilonSpent).toBe(reported);
    expect(reported).toBeGreaterThan(epsilonFor('pld', { q: 0.5, sigma, steps: 5 }, 1e-5));
  });
});
