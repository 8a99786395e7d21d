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
 * Rolls a paused study back to its last good model version, or to the committed version `to` (a digest) an
 * operator names: that one must be one of the study's committed versions, other than the current one, and
 * read back intact; the current version may then still read fine.
 * @throws IllegalStateError when the study is not paused, its current version reads fine and no `to` is
 *   named (resume it instead), no version of it can be read, or `to` is not a readable committed version.
 */
export async function rollBackStudy(store: CoordinatorStore, models: ModelStore, studyId: string, now: number, logger: Logger, to?: string): Promise<ModelVersionRecord> {
  const study = await store.getStudy(studyId);
  if (!study) throw new IllegalStateError(`no study ${studyId}`, { studyId });
  if (study.status !== 'paused') throw new IllegalStateError(`study ${studyId} is ${study.status}; only a paused study is rolled back`, { studyId, status: study.status });
  const good = to === undefined ? await lastGoodModelVersion(store, models, studyId) : await namedVersion(store, models, studyId, study.completedRounds, to);
  if (!good) throw new IllegalStateError(`no model version of study ${studyId} can be read; restore its files`, { studyId });
  if (good.sha256 === study.currentModel) {
    throw new IllegalStateError(
      to === undefined ? `study ${studyId}'s current model version reads fine; resume the study instead` : `model version ${to} is already study ${studyId}'s current version`,
      { studyId },
    );
  }
  const why = to === undefined ? `version ${study.currentModel.slice(0, 12)} could not be read` : `named by an operator, from version ${study.currentModel.slice(0, 12)}`;
  const reason = `rolled back to the model version of round ${good.round} (${good.sha256.slice(0, 12)}): ${why}`;
  await store.setCurrentModel(studyId, good.sha256, now, reason);
  logger.warn({ studyId, from: study.currentModel, to: good.sha256, round: good.round }, 'study rolled back to an earlier model version');
  return good;
}

/** The committed version `sha256` of the study, checked to read back intact. */
async function namedVersion(store: CoordinatorStore, models: ModelStore, studyId: string, completedRounds: number, sha256: string): Promise<ModelVersionRecord> {
  const version = (await store.listModelVersions(studyId)).find((v) => v.sha256 === sha256);
  if (!version || version.round > completedRounds) throw new IllegalStateError(`model version ${sha256} is not one of study ${studyId}'s committed versions`, { studyId });
  try {
    await models.get(sha256);
  } catch (err) {
    if (!(err instanceof ModelStoreError)) throw err;
    throw new IllegalStateError(`model version ${sha256} of study ${studyId} cannot be read either (${err.message}); restore its file or name another version`, { studyId });
  }
  return version;
}
