import type { RoundMetrics } from '../store/coordinator-store.js';

/** Progress events of a running study: a `type`-tagged union, consumed by the CLI, demo and dashboard. */
export type CoordinatorEvent =
  | { type: 'study-started'; studyId: string; rounds: number; fromRound: number }
  | { type: 'round-started'; studyId: string; round: number; attempt: number }
  | { type: 'round-phase'; studyId: string; round: number; attempt: number; phase: string; sites: number }
  | {
      type: 'site-finished';
      studyId: string;
      round: number;
      siteId: string;
      phase: 'fit' | 'evaluate';
      outcome: string;
      reason?: string;
    }
  | {
      type: 'round-committed';
      studyId: string;
      round: number;
      attempt: number;
      durationMs: number;
      metrics: RoundMetrics | null;
      trainMetrics: RoundMetrics | null;
      modelVersion: string;
      sites: number;
    }
  | {
      /** A site's own privacy ledger for the study after a DP fit (its accountant, its numbers). */
      type: 'site-privacy';
      studyId: string;
      round: number;
      siteId: string;
      epsilon: number;
      delta: number;
      accountant: string;
      dpRounds: number;
    }
  | { type: 'round-failed'; studyId: string; round: number; attempt: number; reason: string }
  | { type: 'study-paused'; studyId: string; completedRounds: number }
  | { type: 'study-finished'; studyId: string; status: 'completed' | 'failed' | 'aborted'; reason?: string };

export type EventSink = (event: CoordinatorEvent) => void;
