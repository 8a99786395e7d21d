import type { EncryptedShare, Reveal, SignedKeys } from '../../../shared/src/secagg/index.js';

/**
 * The round core's own view of a task and its outcome. Generated wire types (protos/gen) never reach the
 * round and SecAgg workflows: coordinator/src/grpc/wire-convert.ts converts at the edge.
 */
export type SiteTaskKind = 'fit' | 'evaluate' | 'secagg';

/** A DP site's settings for one fit (the noise multiplier was calibrated when the study was created). */
export interface DpPlan {
  mode: string;
  noiseMultiplier: number;
  clipNorm: number;
  samplingRate: number;
  stepsPerRound: number;
  plannedRounds: number;
  targetEpsilon: number;
  delta: number;
  accountant: string;
  noiseShares: number;
  quantizationScale: number;
  secureAggregation: boolean;
  countNoise: number;
}

export interface TrainingPlan {
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: string;
  proximalMu: number;
  seed: number;
  /** FedBN: the model travels without its batch-normalisation weights, which each site keeps. */
  fedBn?: boolean;
  /** `'balanced'`: each site weights its binary loss by its own class frequencies. */
  classWeighting?: 'balanced';
  dp?: DpPlan;
}

/** The public parameters of a SecAgg session, as the advertise stage carries them to every site. */
export interface SecAggParamsPlan {
  threshold: number;
  cohort: string[];
  degree: number;
  graphSeed: Buffer;
  clip: number;
  maxWeight: number;
  weightBucket: number;
  attempt: number;
}

/** One SecAgg stage request; `advertise` rides on the fit task. */
export type SecAggRequest =
  | { stage: 'advertise'; params: SecAggParamsPlan }
  | { stage: 'share-keys'; keys: SignedKeys[] }
  | { stage: 'masked-input'; shares: EncryptedShare[] }
  | { stage: 'unmask'; survivors: string[]; dropped: string[] };

export interface SiteTask {
  taskId: string;
  kind: SiteTaskKind;
  studyId: string;
  round: number;
  /** sha256 of the model version the site downloads. */
  modelVersion: string;
  /** The version's transfer digest, which the site checks its download against. */
  modelDigest: string;
  modelBytes: number;
  modelSpec: string;
  dataset: string;
  /** The study's `data:` contract as JSON; empty when it has none (docs/reference/study-data.md). */
  studyData: string;
  training: TrainingPlan | null;
  /** Epoch ms. */
  deadlineMs: number;
  /** SecAgg: the stage and the attempt it belongs to. */
  secagg?: { attempt: number; request: SecAggRequest };
}

/** A site's own privacy ledger after a DP fit (its accountant, its numbers). */
export interface PrivacyReport {
  epsilon: number;
  delta: number;
  accountant: string;
  rounds: number;
}

/** What a site's SecAgg stage sent back. */
export interface SecAggReply {
  keys?: SignedKeys;
  shares?: EncryptedShare[];
  /** The masked input's length (the vector itself arrives as an upload). */
  masked?: { length: number };
  reveal?: Reveal;
}

export interface SiteResult {
  taskId: string;
  studyId: string;
  round: number;
  kind: SiteTaskKind;
  numExamples: number;
  metrics: Readonly<Record<string, number>>;
  /** The uploaded update's transfer digest (hex) and size; empty / 0 when nothing was uploaded. */
  updateSha256: string;
  updateBytes: number;
  privacy?: PrivacyReport;
  secagg?: SecAggReply;
}

/** Why a site's task did not produce a result. */
export type SiteFailure = 'timeout' | 'refused' | 'invalid' | 'disconnected';

/** How a dispatched task ended. Failures are data, not exceptions (STYLE §10). */
export type SiteTaskOutcome =
  | { ok: true; result: SiteResult; durationMs: number }
  | { ok: false; outcome: SiteFailure; reason: string; durationMs: number };
