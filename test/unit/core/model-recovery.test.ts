import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { rollBackStudy } from '../../../coordinator/src/rounds/model-recovery.js';
import { RoundWorkflow } from '../../../coordinator/src/rounds/round-workflow.js';
import { runStudy } from '../../../coordinator/src/rounds/study-runner.js';
import { createStrategy } from '../../../coordinator/src/strategies/index.js';
import { MemoryModelRepository } from '../../../coordinator/src/store/memory-blobs.js';
import { encodeWeights } from '../../../shared/src/ml/weights.js';
import { memoryDeps, plainSite, testSpec } from './fake-sites.js';

const logger = pino({ level: 'silent' });

/** A study with one round committed, on two scripted sites. */
async function afterOneRound(models?: MemoryModelRepository) {
  const deps = memoryDeps(models ? { models } : {});
  const spec = testSpec({ rounds: 3, timeouts: { waitForSitesMs: 500, fitMs: 500, evaluateMs: 500, retryBackoffMs: 10 } });
  const initial = await deps.memModels.put(encodeWeights(new Float32Array(4)));
  await deps.memStore.createStudy(spec, { sha256: initial, studyId: spec.id, round: 0, numParams: 4, createdAt: 1 }, 1);
  deps.channel.connect('a', plainSite({ delta: 1, numExamples: 10 }));
  deps.channel.connect('b', plainSite({ delta: 1, numExamples: 10 }));
  await deps.memStore.setStudyStatus(spec.id, 'running', 2);
  const study = (await deps.memStore.getStudy(spec.id))!;
  expect(await new RoundWorkflow(deps, study, createStrategy('fedavg', {}), 1).run()).toBe(true);
  const current = (await deps.memStore.getStudy(spec.id))!.currentModel;
  return { deps, initial, current, bytes: await deps.memModels.get(current) };
}

describe('a model version that cannot be read', () => {
  it('fails the attempt with a clear reason, leaves no live row, and pauses the study instead of failing it', async () => {
    const { deps, current } = await afterOneRound();
    deps.memModels.corrupt(current);
    const study = await runStudy(deps, 'core-study');
    expect(study.status).toBe('paused');
    expect(study.reason).toContain(`model version ${current} is corrupt`);
    expect(study.reason).toContain('restore the file and resume the study, or roll it back');
    const rounds = await deps.memStore.listRounds('core-study');
    expect(rounds.map((r) => `${r.round}:${r.status}`)).toEqual(['1:committed', '2:failed']);
    expect(rounds[1]?.reason).toContain("the study's current model version cannot be read");
    // No site was asked to train on it.
    expect(deps.channel.tasksOf('a', 'fit').filter((t) => t.round === 2)).toEqual([]);
    expect(deps.events.some((e) => e.type === 'study-paused')).toBe(true);
  });

  it('resumes to completion once the file is restored', async () => {
    const { deps, current, bytes } = await afterOneRound();
    deps.memModels.remove(current);
    expect((await runStudy(deps, 'core-study')).status).toBe('paused');
    await deps.memModels.put(bytes);
    await deps.memStore.setStudyStatus('core-study', 'running', 10);
    const done = await runStudy(deps, 'core-study');
    expect(done).toMatchObject({ status: 'completed', completedRounds: 3 });
  });

  it('rolls back to the last version that reads, keeping the history, and the study completes from there', async () => {
    const { deps, initial, current } = await afterOneRound();
    deps.memModels.corrupt(current);
    await runStudy(deps, 'core-study');
    await expect(rollBackStudy(deps.memStore, deps.memModels, 'core-study', 20, logger)).resolves.toMatchObject({ sha256: initial, round: 0 });
    const rolled = (await deps.memStore.getStudy('core-study'))!;
    expect(rolled).toMatchObject({ status: 'paused', currentModel: initial, completedRounds: 1 });
    expect(rolled.reason).toContain('rolled back to the model version of round 0');
    await deps.memStore.setStudyStatus('core-study', 'running', 21);
    const done = await runStudy(deps, 'core-study');
    expect(done).toMatchObject({ status: 'completed', completedRounds: 3 });
    const committed = (await deps.memStore.listRounds('core-study')).filter((r) => r.status === 'committed');
    expect(committed.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(committed[1]?.modelIn).toBe(initial);
  });

  it('refuses a rollback while the current version reads, or of a study that is not paused', async () => {
    const { deps } = await afterOneRound();
    await expect(rollBackStudy(deps.memStore, deps.memModels, 'core-study', 20, logger)).rejects.toMatchObject({ code: 'TESSERA_STATE_ILLEGAL_TRANSITION', message: expect.stringContaining('is running') as string });
    await deps.memStore.setStudyStatus('core-study', 'paused', 21);
    await expect(rollBackStudy(deps.memStore, deps.memModels, 'core-study', 22, logger)).rejects.toThrow('reads fine; resume the study instead');
  });

  it('an unexpected error inside a round still ends its row', async () => {
    class FailingPut extends MemoryModelRepository {
      override put(bytes: Uint8Array): Promise<string> {
        return bytes.byteLength > 0 && this.armed ? Promise.reject(new Error('disk full')) : super.put(bytes);
      }
      armed = false;
    }
    const models = new FailingPut();
    const { deps } = await afterOneRound(models);
    models.armed = true;
    const study = (await deps.memStore.getStudy('core-study'))!;
    await expect(new RoundWorkflow(deps, study, createStrategy('fedavg', {}), 2).run()).rejects.toThrow('disk full');
    const r2 = (await deps.memStore.listRounds('core-study')).find((r) => r.round === 2);
    expect(r2).toMatchObject({ status: 'failed', reason: 'internal error: disk full' });
  });
});
