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
  try {
    while (study.completedRounds < study.spec.rounds) {
      if (deps.signal.aborted) return study;
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
      const committed = await new RoundWorkflow(deps, study, strategy, round, floors).run();
      const reloaded = await store.getStudy(studyId);
      if (!reloaded) throw new Error(`study ${studyId} vanished`);
      study = reloaded;
      if (!committed && !deps.signal.aborted) {
        // Back off before the next attempt (not after the last one): a site slow to join gets the time.
        const failed = (await store.listRounds(studyId)).filter((r) => r.round === round && r.status === 'failed').length;
        if (failed < study.spec.maxRoundAttempts) await sleep(retryBackoffMs(study.spec, failed), deps.signal);
      }
    }
  } catch (err) {
    if (deps.signal.aborted) return study;
    const reason = `internal error: ${errorMessage(err)}`;
    logger.error({ studyId, reason }, 'study failed');
    await store.setStudyStatus(studyId, 'failed', now(), reason);
    emit({ type: 'study-finished', studyId, status: 'failed', reason });
    return (await store.getStudy(studyId)) ?? study;
  }
  // Paused or aborted (or shut down) while the last round ran: the caller decides the status.
  if (deps.signal.aborted) return study;
  await store.setStudyStatus(studyId, 'completed', now());
  emit({ type: 'study-finished', studyId, status: 'completed' });
  logger.info({ studyId, rounds: study.completedRounds }, 'study completed');
  return (await store.getStudy(studyId)) ?? study;
}
