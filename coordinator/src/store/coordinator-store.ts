import type { StudySpec } from '../../../shared/src/study/study-spec.js';

import type { RoundStatus, StudyStatus } from './states.js';

export { RoundStatus, StudyStatus, TERMINAL_ROUND_STATUSES, TERMINAL_STUDY_STATUSES } from './states.js';

export interface PhaseTiming {
  startedAt: number;
  endedAt?: number;
}

export interface RoundMetrics {
  loss: number;
  accuracy: number;
  numExamples: number;
  /**
   * Pooled ROC AUC over every evaluating site's held-out examples, from the per-class score histograms
   * the sites report (absent when a site sent none, or one class is missing overall).
   */
  auc?: number;
  /**
   * Pooled ROC AUC over the sites' validation examples (`val.*` histograms), for model selection; absent
   * unless every evaluating site reported a validation split.
   */
  valAuc?: number;
  /** How many validation examples `valAuc` covers. */
  valExamples?: number;
}

export interface StudyRecord {
  id: string;
  spec: StudySpec;
  status: StudyStatus;
  /** sha256 of the current global model version. */
  currentModel: string;
  completedRounds: number;
  createdAt: number;
  updatedAt: number;
  reason: string | null;
}

export interface RoundRecord {
  studyId: string;
  round: number;
  attempt: number;
  status: RoundStatus;
  modelIn: string;
  modelOut: string | null;
  startedAt: number;
  endedAt: number | null;
  phases: Record<string, PhaseTiming>;
  /** Example-weighted federated evaluation on the sites' held-out splits. */
  metrics: RoundMetrics | null;
  /** Example-weighted training metrics reported by the sites. */
  trainMetrics: RoundMetrics | null;
  reason: string | null;
}

export type SiteOutcome = 'ok' | 'timeout' | 'disconnected' | 'refused' | 'invalid';

export interface RoundSiteRecord {
  studyId: string;
  round: number;
  attempt: number;
  siteId: string;
  phase: 'fit' | 'evaluate';
  outcome: SiteOutcome;
  numExamples: number;
  loss: number | null;
  accuracy: number | null;
  updateSha256: string | null;
  updateBytes: number | null;
  durationMs: number | null;
  reason: string | null;
}

export interface SiteRecord {
  id: string;
  connected: boolean;
  firstSeen: number;
  lastSeen: number;
  backend: string;
  agentVersion: string;
  certSerial: string;
  certNotAfter: number;
}

export interface ModelVersionRecord {
  sha256: string;
  studyId: string;
  round: number;
  numParams: number;
  createdAt: number;
}

export interface CommitRoundInput {
  studyId: string;
  round: number;
  attempt: number;
  model: ModelVersionRecord;
  metrics: RoundMetrics | null;
  trainMetrics: RoundMetrics | null;
  phases: Record<string, PhaseTiming>;
  strategyState: Buffer | null;
  now: number;
}

/**
 * Persistence for the coordinator: SqliteCoordinatorStore (sqlite-store.ts) and MemoryCoordinatorStore
 * (memory-store.ts), both held to test/contract/coordinator-store.contract.test.ts. Implementations MUST:
 * - make `commitRound` atomic (model version, round status, study progress and strategy state together or
 *   not at all), commit a round number at most once per study, and only from `evaluating`;
 * - check every status change against the tables of states.ts in the same write (a study or round not
 *   in a status the new one may follow is left alone and the call throws IllegalStateError);
 * - take `now` from the caller rather than reading a clock;
 * - refuse a second study with an existing id.
 */
export interface CoordinatorStore {
  createStudy(spec: StudySpec, initialModel: ModelVersionRecord, now: number): Promise<StudyRecord>;
  getStudy(id: string): Promise<StudyRecord | undefined>;
  listStudies(): Promise<StudyRecord[]>;
  setStudyStatus(id: string, status: StudyStatus, now: number, reason?: string): Promise<void>;
  /**
   * Points a study that is not running (created or paused) at one of its own committed model versions, for
   * the next round to start from (a rollback after its current version was lost). History is kept: no round
   * is uncommitted. Throws IllegalStateError when the study runs or is finished, or the version is not one of
   * its versions up to its completed rounds.
   */
  setCurrentModel(studyId: string, sha256: string, now: number, reason: string): Promise<void>;

  startRound(studyId: string, round: number, modelIn: string, now: number): Promise<RoundRecord>;
  /**
   * `candidate`: the model version the round works on from this status on (named when it moves to `evaluating`,
   * before any site fetches it), so the audit ledger names every version a site may receive, committed or not.
   */
  updateRound(
    studyId: string,
    round: number,
    attempt: number,
    status: RoundStatus,
    phases: Record<string, PhaseTiming>,
    candidate?: string,
  ): Promise<void>;
  recordSiteOutcome(record: RoundSiteRecord): Promise<void>;
  commitRound(input: CommitRoundInput): Promise<void>;
  failRound(studyId: string, round: number, attempt: number, reason: string, now: number): Promise<void>;
  /** Marks every non-terminal round `interrupted`; called once at start-up. Returns how many. */
  interruptOpenRounds(now: number): Promise<number>;
  listRounds(studyId: string): Promise<RoundRecord[]>;
  listRoundSites(studyId: string, round: number, attempt: number): Promise<RoundSiteRecord[]>;

  upsertSite(site: SiteRecord): Promise<void>;
  setSiteConnected(id: string, connected: boolean, now: number): Promise<void>;
  listSites(): Promise<SiteRecord[]>;

  getModelVersion(sha256: string): Promise<ModelVersionRecord | undefined>;
  listModelVersions(studyId: string): Promise<ModelVersionRecord[]>;
  getStrategyState(studyId: string): Promise<Buffer | null>;

  close(): Promise<void>;
}
