import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CoordinatorStore, ModelVersionRecord } from '../../coordinator/src/store/coordinator-store.js';
import { MemoryCoordinatorStore } from '../../coordinator/src/store/memory-store.js';
import { SqliteCoordinatorStore } from '../../coordinator/src/store/sqlite-store.js';
import { ALLOWED_ROUND_TRANSITIONS, ALLOWED_STUDY_TRANSITIONS, type RoundStatus, type StudyStatus } from '../../coordinator/src/store/states.js';
import { validateConfig } from '../../shared/src/config/validate.js';
import { StudySpecSchema, type StudySpec } from '../../shared/src/study/study-spec.js';
import { makeTempDir } from '../unit/pki/pki-fixtures.js';

const dir = makeTempDir('store-contract');
let fileNo = 0;

/** Every CoordinatorStore implementation: the memory twin and SQLite on a real file. */
const implementations: [string, () => Promise<CoordinatorStore>][] = [
  ['memory', () => Promise.resolve(new MemoryCoordinatorStore())],
  ['sqlite file', () => SqliteCoordinatorStore.open(path.join(dir, `store-${++fileNo}.sqlite`))],
];

function spec(id = 'study-a', rounds = 3): StudySpec {
  return validateConfig(StudySpecSchema, { id, name: id, dataset: 'toy', model: 'logreg', inputDim: 4, rounds, strategy: 'fedavg' }, 'spec');
}

const sha = (n: number): string => n.toString(16).padStart(64, '0');
const model = (studyId: string, round: number, n = round): ModelVersionRecord => ({ sha256: sha(n + 1), studyId, round, numParams: 4, createdAt: 100 + round });

async function withStudy(store: CoordinatorStore, id = 'study-a'): Promise<void> {
  await store.createStudy(spec(id), model(id, 0), 10);
}

/** Drives round `round` of `studyId` to `evaluating`, returns its attempt. */
async function toEvaluating(store: CoordinatorStore, studyId: string, round: number, modelIn: string): Promise<number> {
  const r = await store.startRound(studyId, round, modelIn, 200);
  for (const s of ['fitting', 'aggregating', 'evaluating'] as const) await store.updateRound(studyId, round, r.attempt, s, { [s]: { startedAt: 200 } });
  return r.attempt;
}

describe.each(implementations)('CoordinatorStore contract: %s', (_name, open) => {
  it('creates a study with its initial model version and refuses a second study with the same id', async () => {
    const store = await open();
    const created = await store.createStudy(spec(), model('study-a', 0), 10);
    expect(created).toMatchObject({ id: 'study-a', status: 'created', currentModel: sha(1), completedRounds: 0, createdAt: 10, updatedAt: 10, reason: null });
    expect(created.spec).toEqual(spec());
    await expect(store.createStudy(spec(), model('study-a', 0), 11)).rejects.toMatchObject({ code: 'TESSERA_STUDY_CONFLICT' });
    expect(await store.listModelVersions('study-a')).toEqual([model('study-a', 0)]);
    expect(await store.getModelVersion(sha(1))).toEqual(model('study-a', 0));
    expect(await store.getStudy('nope')).toBeUndefined();
    await store.close();
  });

  it('allows exactly the study transitions of the table, checked in the write', async () => {
    const all = Object.keys(ALLOWED_STUDY_TRANSITIONS) as StudyStatus[];
    // Reach each status by an allowed path, then try every target from it.
    const pathTo: Record<StudyStatus, StudyStatus[]> = { created: [], running: ['running'], paused: ['running', 'paused'], completed: ['running', 'completed'], failed: ['running', 'failed'], aborted: ['aborted'] };
    const store = await open();
    let n = 0;
    for (const from of all) {
      for (const to of all) {
        const id = `s-${n++}`;
        await withStudy(store, id);
        for (const step of pathTo[from]) await store.setStudyStatus(id, step, 20);
        const write = store.setStudyStatus(id, to, 30, 'why');
        if (ALLOWED_STUDY_TRANSITIONS[from].includes(to)) {
          await write;
          expect(await store.getStudy(id)).toMatchObject({ status: to, updatedAt: 30, reason: 'why' });
        } else {
          await expect(write, `${from} → ${to}`).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION' });
          expect((await store.getStudy(id))?.status).toBe(from);
        }
      }
    }
    await expect(store.setStudyStatus('missing', 'running', 1)).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION' });
    await store.close();
  });

  it('numbers attempts per round, allows exactly the round transitions of the table and keeps the row when refused', async () => {
    const store = await open();
    await withStudy(store);
    const first = await store.startRound('study-a', 1, sha(1), 100);
    const second = await store.startRound('study-a', 1, sha(1), 101);
    expect([first.attempt, second.attempt]).toEqual([1, 2]);
    expect(first).toMatchObject({ status: 'waiting', modelIn: sha(1), modelOut: null, startedAt: 100, endedAt: null, phases: {}, metrics: null, trainMetrics: null, reason: null });
    const open_: RoundStatus[] = ['waiting', 'fitting', 'aggregating', 'evaluating'];
    for (const from of open_) {
      for (const to of ['waiting', 'fitting', 'aggregating', 'evaluating', 'interrupted', 'failed'] as RoundStatus[]) {
        const r = await store.startRound('study-a', 2, sha(1), 100);
        for (const step of open_.slice(1, open_.indexOf(from) + 1)) await store.updateRound('study-a', 2, r.attempt, step, {});
        const write = store.updateRound('study-a', 2, r.attempt, to, { [to]: { startedAt: 1 } });
        const rows = async (): Promise<RoundStatus | undefined> => (await store.listRounds('study-a')).find((x) => x.round === 2 && x.attempt === r.attempt)?.status;
        if (ALLOWED_ROUND_TRANSITIONS[from].includes(to)) {
          await write;
          expect(await rows()).toBe(to);
        } else {
          await expect(write, `${from} → ${to}`).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION' });
          expect(await rows()).toBe(from);
        }
      }
    }
    await store.close();
  });

  it('commits a round atomically, once, only from evaluating, and advances the study', async () => {
    const store = await open();
    await withStudy(store);
    // Not from fitting.
    const early = await store.startRound('study-a', 1, sha(1), 100);
    await store.updateRound('study-a', 1, early.attempt, 'fitting', {});
    const input = (attempt: number) => ({ studyId: 'study-a', round: 1, attempt, model: model('study-a', 1), metrics: { loss: 0.5, accuracy: 0.75, numExamples: 40, auc: 0.8 }, trainMetrics: null, phases: { evaluating: { startedAt: 1, endedAt: 2 } }, strategyState: Buffer.from([1, 2, 3]), now: 300 });
    await expect(store.commitRound(input(early.attempt))).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION' });
    expect((await store.getStudy('study-a'))?.completedRounds).toBe(0);
    expect(await store.listModelVersions('study-a')).toHaveLength(1);
    await store.failRound('study-a', 1, early.attempt, 'too few sites', 150);

    const attempt = await toEvaluating(store, 'study-a', 1, sha(1));
    await store.commitRound(input(attempt));
    const study = await store.getStudy('study-a');
    expect(study).toMatchObject({ completedRounds: 1, currentModel: sha(2), updatedAt: 300 });
    expect(await store.getStrategyState('study-a')).toEqual(Buffer.from([1, 2, 3]));
    const committed = (await store.listRounds('study-a')).find((r) => r.attempt === attempt);
    expect(committed).toMatchObject({ status: 'committed', modelOut: sha(2), endedAt: 300, metrics: { loss: 0.5, accuracy: 0.75, numExamples: 40, auc: 0.8 }, trainMetrics: null });
    expect((await store.listModelVersions('study-a')).map((m) => m.round)).toEqual([0, 1]);

    // A second attempt at a committed round number never commits.
    const again = await toEvaluating(store, 'study-a', 1, sha(1));
    await expect(store.commitRound({ ...input(again), model: model('study-a', 1, 7) })).rejects.toThrow();
    expect(await store.getStudy('study-a')).toMatchObject({ completedRounds: 1, currentModel: sha(2) });
    expect(await store.listModelVersions('study-a')).toHaveLength(2);
    await store.close();
  });

  it('fails a round with its reason, from an open status or once the workflow moved it to failed, never twice', async () => {
    const store = await open();
    await withStudy(store);
    const a = await store.startRound('study-a', 1, sha(1), 100);
    await store.updateRound('study-a', 1, a.attempt, 'fitting', {});
    await store.updateRound('study-a', 1, a.attempt, 'failed', {});
    await store.failRound('study-a', 1, a.attempt, 'only 1 site', 120);
    const b = await store.startRound('study-a', 1, sha(1), 130);
    await store.failRound('study-a', 1, b.attempt, 'waited too long', 140);
    const rounds = await store.listRounds('study-a');
    expect(rounds.map((r) => [r.attempt, r.status, r.reason, r.endedAt])).toEqual([
      [1, 'failed', 'only 1 site', 120],
      [2, 'failed', 'waited too long', 140],
    ]);
    await expect(store.failRound('study-a', 1, a.attempt, 'again', 150)).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION' });
    await store.close();
  });

  it('interrupts every open round at start-up and leaves finished ones alone', async () => {
    const store = await open();
    await withStudy(store);
    await withStudy(store, 'study-b');
    const done = await toEvaluating(store, 'study-a', 1, sha(1));
    await store.commitRound({ studyId: 'study-a', round: 1, attempt: done, model: model('study-a', 1), metrics: null, trainMetrics: null, phases: {}, strategyState: null, now: 300 });
    await toEvaluating(store, 'study-a', 2, sha(2));
    const w = await store.startRound('study-b', 1, sha(1), 100);
    expect(await store.interruptOpenRounds(500)).toBe(2);
    expect(await store.interruptOpenRounds(600)).toBe(0);
    expect((await store.listRounds('study-a')).map((r) => [r.round, r.status])).toEqual([
      [1, 'committed'],
      [2, 'interrupted'],
    ]);
    expect((await store.listRounds('study-b'))[0]).toMatchObject({ attempt: w.attempt, status: 'interrupted', endedAt: 500, reason: 'coordinator stopped during the round' });
    expect(await store.getStrategyState('study-a')).toBeNull();
    await store.close();
  });

  it('records site outcomes per (round, attempt, site, phase), the last write winning, in site then phase order', async () => {
    const store = await open();
    await withStudy(store);
    const r = await store.startRound('study-a', 1, sha(1), 100);
    const base = { studyId: 'study-a', round: 1, attempt: r.attempt, numExamples: 0, loss: null, accuracy: null, updateSha256: null, updateBytes: null, durationMs: null, reason: null };
    await store.recordSiteOutcome({ ...base, siteId: 'b', phase: 'fit', outcome: 'timeout', reason: 'no result' });
    await store.recordSiteOutcome({ ...base, siteId: 'a', phase: 'fit', outcome: 'ok', numExamples: 12, loss: 0.5, accuracy: 0.7, updateSha256: 'ab', updateBytes: 16, durationMs: 40 });
    await store.recordSiteOutcome({ ...base, siteId: 'a', phase: 'evaluate', outcome: 'ok', numExamples: 3 });
    await store.recordSiteOutcome({ ...base, siteId: 'b', phase: 'fit', outcome: 'disconnected', reason: 'stream ended' });
    const rows = await store.listRoundSites('study-a', 1, r.attempt);
    expect(rows.map((x) => [x.siteId, x.phase, x.outcome, x.reason])).toEqual([
      ['a', 'evaluate', 'ok', null],
      ['a', 'fit', 'ok', null],
      ['b', 'fit', 'disconnected', 'stream ended'],
    ]);
    expect(rows[1]).toMatchObject({ numExamples: 12, loss: 0.5, accuracy: 0.7, updateSha256: 'ab', updateBytes: 16, durationMs: 40 });
    expect(await store.listRoundSites('study-a', 1, r.attempt + 1)).toEqual([]);
    await store.close();
  });

  it('keeps sites: first seen stays, the rest follows the latest hello; connection flag and last seen follow the stream', async () => {
    const store = await open();
    const site = { id: 'h1', connected: true, firstSeen: 10, lastSeen: 10, backend: 'wasm', agentVersion: '1.0', certSerial: '01', certNotAfter: 999 };
    await store.upsertSite(site);
    await store.upsertSite({ ...site, firstSeen: 50, lastSeen: 50, agentVersion: '1.1' });
    await store.setSiteConnected('h1', false, 60);
    await store.upsertSite({ ...site, id: 'a0' });
    expect(await store.listSites()).toEqual([
      { ...site, id: 'a0' },
      { ...site, firstSeen: 10, lastSeen: 60, agentVersion: '1.1', connected: false },
    ]);
    await store.close();
  });

  it('points a paused study at one of its committed versions, and refuses anything else', async () => {
    const store = await open();
    await withStudy(store);
    await withStudy(store, 'study-b');
    await store.setStudyStatus('study-a', 'running', 20);
    const attempt = await toEvaluating(store, 'study-a', 1, sha(1));
    await store.commitRound({ studyId: 'study-a', round: 1, attempt, model: model('study-a', 1), metrics: null, trainMetrics: null, phases: {}, strategyState: null, now: 300 });
    await expect(store.setCurrentModel('study-a', sha(1), 310, 'rollback')).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION' });
    await store.setStudyStatus('study-a', 'paused', 320);
    // Not a version of this study (study-b's initial model has another id), and not an unknown one.
    await expect(store.setCurrentModel('study-a', sha(99), 330, 'rollback')).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION' });
    await store.setCurrentModel('study-a', sha(1), 340, 'rolled back to round 0');
    expect(await store.getStudy('study-a')).toMatchObject({ status: 'paused', currentModel: sha(1), completedRounds: 1, updatedAt: 340, reason: 'rolled back to round 0' });
    expect((await store.listRounds('study-a')).map((r) => r.status)).toEqual(['committed']);
    await store.close();
  });

  it('lists studies in creation order', async () => {
    const store = await open();
    await store.createStudy(spec('late'), model('late', 0, 5), 20);
    await store.createStudy(spec('early'), model('early', 0, 6), 10);
    expect((await store.listStudies()).map((s) => s.id)).toEqual(['early', 'late']);
    await store.close();
  });
});
