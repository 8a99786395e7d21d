import { errorMessage } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { createStrategy, type Strategy } from '../strategies/index.js';
import type { CoordinatorStore, StudyRecord } from '../store/coordinator-store.js';
import { isTerminalStudyStatus } from '../store/states.js';
import type { RoundDeps } from './round-workflow.js';
import { RoundWorkflow } from './round-workflow.js';
import { decodeStrategyState } from './strategy-state.js';
import { CohortFloors, retryBackoffMs } from './cohort.js';

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** Builds the study's strategy and restores its optimizer state from the last committed round. */
export async function loadStrategy(store: CoordinatorStore, study: StudyRecord): Promise<Strategy> {
  const strategy = createStrategy(study.spec.strategy, study.spec.strategyOptions);
  const saved = await store.getStrategyState(study.id);
  if (saved != null) strategy.restore(decodeStrategyState(saved));
  return strategy;
}

/**
 * Drives a study from its last committed round to the end. Safe to call again after a crash: it reads
 * `completedRounds` and the strategy state from the store, so no round is counted twice.
 */
export async function runStudy(deps: RoundDeps & { logger: Logger }, studyId: string): Promise<StudyRecord> {
  const { store, now, emit, logger } = deps;
  let study = await store.getStudy(studyId);
  if (!study) throw new Error(`no study ${studyId}`);
  if (isTerminalStudyStatus(study.status)) return study;
  await store.setStudyStatus(studyId, 'running', now());
  emit({ type: 'study-started', studyId, rounds: study.spec.rounds, fromRound: study.completedRounds + 1 });
  const strategy = await loadStrategy(store, study);
  const floors = new CohortFloors();
  // Shutdown, or an operator's pause/abort: no new round or attempt starts (the one in flight finishes).
  const halt = deps.stop ? AbortSignal.any([deps.signal, deps.stop]) : deps.signal;
  try {
    while (study.completedRounds < study.spec.rounds) {
      if (halt.aborted) return study;
      const round = study.completedRounds + 1;
      const failedAttempts = (await store.listRounds(studyId)).filter(
        (r) => r.round === round && r.status === 'failed',
      ).length;
      if (failedAttempts >= study.spec.maxRoundAttempts) {
        const reason = `round ${round} failed ${failedAttempts} times (maxRoundAttempts ${study.spec.maxRoundAttempts})`;
        await store.setStudyStatus(studyId, 'failed', now(), reason);
        emit({ type: 'study-finished', studyId, status: 'failed', reason });
        return (await store.getStudy(studyId)) ?? study;
      }
      const workflow = new RoundWorkflow(deps, study, strategy, round, floors);
      const committed = await workflow.run();
      const reloaded = await store.getStudy(studyId);
      if (!reloaded) throw new Error(`study ${studyId} vanished`);
      study = reloaded;
      if (workflow.modelProblem) {
        // Retrying cannot help until the file is back: pause (resumable), do not burn attempts or fail for good.
        const reason = `${workflow.modelProblem.message}: restore the file and resume the study, or roll it back to its last good model version`;
        logger.error({ studyId, code: workflow.modelProblem.code, reason }, 'study paused: its current model version cannot be read');
        await store.setStudyStatus(studyId, 'paused', now(), reason);
        emit({ type: 'study-paused', studyId, completedRounds: study.completedRounds });
        return (await store.getStudy(studyId)) ?? study;
      }
      if (!committed && !halt.aborted) {
        // Back off before the next attempt (not after the last one): a site slow to join gets the time.
        const failed = (await store.listRounds(studyId)).filter((r) => r.round === round && r.status === 'failed').length;
        if (failed < study.spec.maxRoundAttempts) await sleep(retryBackoffMs(study.spec, failed), halt);
      }
    }
  } catch (err) {
    if (halt.aborted) return study;
    const reason = `internal error: ${errorMessage(err)}`;
    logger.error({ studyId, reason }, 'study failed');
    await store.setStudyStatus(studyId, 'failed', now(), reason);
    emit({ type: 'study-finished', studyId, status: 'failed', reason });
    return (await store.getStudy(studyId)) ?? study;
  }
  // Shut down, or paused or aborted, before the last round committed: the caller decides the status.
  if (halt.aborted && study.completedRounds < study.spec.rounds) return study;
  await store.setStudyStatus(studyId, 'completed', now());
  emit({ type: 'study-finished', studyId, status: 'completed' });
  logger.info({ studyId, rounds: study.completedRounds }, 'study completed');
  return (await store.getStudy(studyId)) ?? study;
}
