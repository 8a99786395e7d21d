import { IllegalStateError } from '../../../shared/src/errors.js';

/**
 * The coordinator's state machines as tables (STYLE §13–14): studies, round attempts and uploads. Each
 * table lists, per status, the statuses that may follow it; a status with none is terminal, and the
 * terminal lists below are derived from the tables, never written out again. Every store write that
 * changes a status checks its transition against these tables (SQLite: `UPDATE … WHERE status IN (…)`,
 * the memory store: the same check), and docs/architecture/*.md draw the same tables (a test compares).
 */

/** A transition table: for each status, the statuses that may follow it. */
export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/** Study lifecycle. */
export const StudyStatus = {
  /** Stored with its initial model version (round 0); no round has started. */
  Created: 'created',
  /** The runner drives rounds (and, after a coordinator restart, resumes them). */
  Running: 'running',
  /** An operator paused it; no new round starts until it is resumed. */
  Paused: 'paused',
  /** Terminal: every round committed. */
  Completed: 'completed',
  /** Terminal: a round failed maxRoundAttempts times, or an internal error. */
  Failed: 'failed',
  /** Terminal: an operator aborted it. */
  Aborted: 'aborted',
} as const;
export type StudyStatus = (typeof StudyStatus)[keyof typeof StudyStatus];

export const ALLOWED_STUDY_TRANSITIONS: TransitionTable<StudyStatus> = {
  created: ['running', 'aborted'],
  // running → running: the runner resumes a study a previous coordinator process left running.
  running: ['running', 'paused', 'completed', 'failed', 'aborted'],
  paused: ['running', 'aborted'],
  completed: [],
  failed: [],
  aborted: [],
};

/**
 * One attempt at one round. A round number is committed at most once; failed or interrupted attempts
 * stay in the table as data (why, when, who dropped) and the next attempt gets `attempt + 1`.
 */
export const RoundStatus = {
  /** Waiting for enough connected sites. */
  Waiting: 'waiting',
  /** Fit tasks are out; collecting updates until all reply or the fit deadline. */
  Fitting: 'fitting',
  Aggregating: 'aggregating',
  /** Federated evaluation of the candidate model on each site's held-out split. */
  Evaluating: 'evaluating',
  /** Terminal: the model version is stored and the study advanced. */
  Committed: 'committed',
  /** Terminal: too few sites, timeouts or invalid updates; the round is retried. */
  Failed: 'failed',
  /** Terminal: the coordinator stopped (crash or shutdown) mid-round; found at the next start. */
  Interrupted: 'interrupted',
} as const;
export type RoundStatus = (typeof RoundStatus)[keyof typeof RoundStatus];

export const ALLOWED_ROUND_TRANSITIONS: TransitionTable<RoundStatus> = {
  waiting: ['fitting', 'failed', 'interrupted'],
  fitting: ['aggregating', 'failed', 'interrupted'],
  aggregating: ['evaluating', 'failed', 'interrupted'],
  evaluating: ['committed', 'failed', 'interrupted'],
  committed: [],
  failed: [],
  interrupted: [],
};

/** A site's upload of one task's update (coordinator/src/store/blob-store.ts, UploadStore). */
export const UploadStatus = {
  /** Bytes arrive (or a held prefix waits for the stream that resumes it). */
  Receiving: 'receiving',
  /** Every byte is in; the whole upload is being checked against its transfer digest. */
  Verifying: 'verifying',
  /** The upload matches its digest; the round may read it. */
  Complete: 'complete',
  /** Terminal: dropped (digest mismatch, a fresh upload over it, or the round is done with it). */
  Discarded: 'discarded',
} as const;
export type UploadStatus = (typeof UploadStatus)[keyof typeof UploadStatus];

export const ALLOWED_UPLOAD_TRANSITIONS: TransitionTable<UploadStatus> = {
  receiving: ['verifying', 'discarded'],
  verifying: ['complete', 'discarded'],
  complete: ['discarded'],
  discarded: [],
};

/** The statuses of `table` with no way out. */
export function terminalStatuses<S extends string>(table: TransitionTable<S>): readonly S[] {
  return (Object.keys(table) as S[]).filter((s) => table[s].length === 0);
}

/** The statuses of `table` from which `to` may be entered. */
export function sourcesOf<S extends string>(table: TransitionTable<S>, to: S): readonly S[] {
  return (Object.keys(table) as S[]).filter((s) => table[s].includes(to));
}

export function isAllowed<S extends string>(table: TransitionTable<S>, from: S, to: S): boolean {
  return table[from].includes(to);
}

export const TERMINAL_STUDY_STATUSES: readonly StudyStatus[] = terminalStatuses(ALLOWED_STUDY_TRANSITIONS);
export const TERMINAL_ROUND_STATUSES: readonly RoundStatus[] = terminalStatuses(ALLOWED_ROUND_TRANSITIONS);

export function isTerminalStudyStatus(status: StudyStatus): boolean {
  return TERMINAL_STUDY_STATUSES.includes(status);
}

/** @throws IllegalStateError (`TESSERA_STATE_ILLEGAL_TRANSITION`) when `to` may not follow `from`. */
export function assertTransition<S extends string>(what: string, table: TransitionTable<S>, from: S, to: S): void {
  if (!isAllowed(table, from, to)) throw new IllegalStateError(`${what} cannot go from ${from} to ${to}`, { from, to });
}

export function assertRoundTransition(from: RoundStatus, to: RoundStatus): void {
  assertTransition('round', ALLOWED_ROUND_TRANSITIONS, from, to);
}

export function assertStudyTransition(from: StudyStatus, to: StudyStatus): void {
  assertTransition('study', ALLOWED_STUDY_TRANSITIONS, from, to);
}
