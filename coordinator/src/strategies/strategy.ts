/**
 * The aggregation contract between the round workflow and a federated optimisation strategy.
 */

import type { StrategyName } from '../../../shared/src/study/study-spec.js';

/** Names of the built-in strategies: one list, defined with the study spec so the schema and the coordinator agree. */
export { STRATEGY_NAMES, type StrategyName } from '../../../shared/src/study/study-spec.js';

/** One site's result for a round. */
export interface ClientUpdate {
  /** The site's locally trained weights (flat, `weightLayout` order); not a delta. */
  weights: Float32Array;
  /** Training examples behind the update; its weight in the mean. MUST be > 0. */
  numExamples: number;
  /** For error context and audit; never used in the arithmetic. */
  siteId: string;
}

/**
 * Server optimiser state the coordinator persists between rounds so a restart resumes exactly.
 * `m`/`v` are absent until the first adaptive step (and always for FedAvg/FedProx).
 */
export interface StrategyState {
  /** First moment (momentum) of the pseudo-gradient. */
  m?: Float32Array;
  /** Second moment (adaptive scale) of the pseudo-gradient. */
  v?: Float32Array;
  /** Number of aggregations performed. */
  t: number;
}

/**
 * A federated optimisation strategy.
 *
 * Implementations MUST:
 * - validate every update (length, finiteness, `numExamples > 0`) before changing any state, throwing
 *   `InputError` so the coordinator can drop the offending site and retry with the rest;
 * - leave `global` and the updates' vectors unmodified and return a fresh vector;
 * - keep all cross-round state behind {@link Strategy.state} / {@link Strategy.restore}.
 */
export interface Strategy {
  readonly name: StrategyName;
  /**
   * Computes the next global weights from the current ones and this round's updates.
   * @throws InputError when `updates` is empty or any update is invalid (see `validateUpdates`).
   */
  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): Float32Array;
  /** A copy of the optimiser state, for persistence. */
  state(): StrategyState;
  /**
   * Replaces the optimiser state with a copy of `state` (e.g. after a coordinator restart).
   * @throws InputError `TESSERA_INPUT_STRATEGY_STATE` when `m`/`v` differ in length or `t` is invalid.
   */
  restore(state: StrategyState): void;
}
