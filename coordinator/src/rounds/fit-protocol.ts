import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { ClientUpdate } from '../strategies/index.js';
import type { RoundDpPlan } from './dp-plan.js';
import type { RoundDeps } from './round-ports.js';
import type { ModelRef, RoundTasks } from './round-tasks.js';
import type { SiteResult } from './site-task.js';

/** Training metrics one fit reported, with the weight it counts with (its examples; 1 under secure aggregation). */
export interface FitMetrics {
  n: number;
  loss: number;
  accuracy: number;
}

/** What a fit protocol hands the strategy: updates, the sites in them, training metrics. */
export type FitOutcome =
  | {
      ok: true;
      updates: ClientUpdate[];
      metrics: FitMetrics[];
      /** Sites whose update is in `updates` (for the secure protocol: in the secure sum). */
      contributors: string[];
      /** Site-level DP with adaptive clipping: the noisy number of contributors within the clipping bound. */
      noisyUnclipped?: number;
    }
  | { ok: false; reason: string };

/** What both fit protocols are given for one round attempt. */
export interface FitContext {
  deps: RoundDeps;
  spec: StudySpec;
  tasks: RoundTasks;
  /** The global model the cohort trains from. */
  model: ModelRef;
  global: Float32Array;
  dp: RoundDpPlan;
  /** Sees each result that may carry a site's DP ledger. */
  reportPrivacy(siteId: string, result: SiteResult): void;
}

/**
 * The fit phase of a round: plain (each site uploads its update, plain-fit.ts) or secure (SecAgg(+), only
 * the weighted mean is learned, secure-fit.ts). Each records every cohort site's fit outcome once.
 */
export interface FitProtocol {
  run(cohort: readonly string[]): Promise<FitOutcome>;
}
