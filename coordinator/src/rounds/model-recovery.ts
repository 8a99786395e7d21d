import { IllegalStateError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { ModelStoreError } from '../errors.js';
import type { CoordinatorStore, ModelVersionRecord } from '../store/coordinator-store.js';
import type { ModelStore } from './round-ports.js';

/**
 * The path back when a study's current model version cannot be read (its file missing or corrupt; the
 * runner pauses the study): restore the file and resume, or roll the study back to the newest of its
 * committed versions whose file still verifies. The next round then starts from that version; the
 * rounds committed after it stay in the history (and in every privacy account).
 */
export async function lastGoodModelVersion(store: CoordinatorStore, models: ModelStore, studyId: string): Promise<ModelVersionRecord | undefined> {
  const study = await store.getStudy(studyId);
  if (!study) throw new IllegalStateError(`no study ${studyId}`, { studyId });
  const versions = (await store.listModelVersions(studyId)).filter((v) => v.round <= study.completedRounds).sort((a, b) => b.round - a.round || b.createdAt - a.createdAt);
  for (const v of versions) {
    try {
      await models.get(v.sha256);
      return v;
    } catch (err) {
      if (!(err instanceof ModelStoreError)) throw err;
    }
  }
  return undefined;
}

/**
 * Rolls a paused study back to its last good model version.
 * @throws IllegalStateError when the study is not paused, its current version reads fine (resume it
 *   instead), or no version of it can be read.
 */
export async function rollBackStudy(store: CoordinatorStore, models: ModelStore, studyId: string, now: number, logger: Logger): Promise<ModelVersionRecord> {
  const study = await store.getStudy(studyId);
  if (!study) throw new IllegalStateError(`no study ${studyId}`, { studyId });
  if (study.status !== 'paused') throw new IllegalStateError(`study ${studyId} is ${study.status}; only a paused study is rolled back`, { studyId, status: study.status });
  const good = await lastGoodModelVersion(store, models, studyId);
  if (!good) throw new IllegalStateError(`no model version of study ${studyId} can be read; restore its files`, { studyId });
  if (good.sha256 === study.currentModel) throw new IllegalStateError(`study ${studyId}'s current model version reads fine; resume the study instead`, { studyId });
  const reason = `rolled back to the model version of round ${good.round} (${good.sha256.slice(0, 12)}): version ${study.currentModel.slice(0, 12)} could not be read`;
  await store.setCurrentModel(studyId, good.sha256, now, reason);
  logger.warn({ studyId, from: study.currentModel, to: good.sha256, round: good.round }, 'study rolled back to its last good model version');
  return good;
}
