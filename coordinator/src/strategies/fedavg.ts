import type { ClientUpdate, Strategy, StrategyState } from './strategy.js';
import { validateUpdates } from './validate-updates.js';
import { WeightedAccumulator } from './weighted-accumulator.js';
import { InputError } from '../../../shared/src/errors.js';

/** Example-weighted mean of the updates' weights (McMahan et al. 2017). Validates first. */
export function weightedMean(global: Float32Array, updates: readonly ClientUpdate[]): Float32Array {
  validateUpdates(global, updates);
  const acc = new WeightedAccumulator(global.length);
  for (const u of updates) acc.add(u.weights, u.numExamples);
  return acc.mean();
}

/** @throws InputError `TESSERA_INPUT_STRATEGY_STATE` when `t` is not a non-negative integer. */
export function checkRoundCounter(t: number): void {
  if (!Number.isSafeInteger(t) || t < 0) {
    throw new InputError('TESSERA_INPUT_STRATEGY_STATE', "strategy state 't' must be a non-negative integer", {
      field: 't',
    });
  }
}

/**
 * FedAvg: the new global model is the example-weighted mean of the sites' weights.
 *
 * FedProx (Li et al. 2020) is the same at the server; its proximal term `(μ/2)·‖w − w_global‖²` is
 * added to the sites' local loss (see `strategyTrainingOverrides`). It is this class named `fedprox`.
 */
export class FedAvg implements Strategy {
  readonly name: 'fedavg' | 'fedprox';
  #t = 0;

  /** @param name `fedprox` when the sites train with a proximal term. @default 'fedavg' */
  constructor(name: 'fedavg' | 'fedprox' = 'fedavg') {
    this.name = name;
  }

  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): Float32Array {
    const next = weightedMean(global, updates);
    this.#t += 1;
    return next;
  }

  state(): StrategyState {
    return { t: this.#t };
  }

  restore(state: StrategyState): void {
    checkRoundCounter(state.t);
    this.#t = state.t;
  }
}
