import type { ClientUpdate, Strategy, StrategyState } from './strategy.js';
import { validateUpdateHeaders, validateUpdates } from './validate-updates.js';
import { WeightedAccumulator } from './weighted-accumulator.js';
import { InputError } from '../../../shared/src/errors.js';
import { assertFinite } from '../../../shared/src/ml/weights.js';

/**
 * Example-weighted mean of the updates' weights (McMahan et al. 2017), with every update validated.
 *
 * Shapes and example counts are checked first (O(sites)). Finiteness is checked on the *result*: a NaN or
 * ±Infinity in any input makes the weighted sum non-finite at that index (weights are > 0), so one pass
 * over the mean stands in for one pass per site. Only then are the sites checked one by one, to name the
 * offending site in the error. Nothing is returned unless every input was finite. The global model's
 * values do not enter the mean, so they are not checked here (FedOpt checks them before using them).
 */
export function weightedMean(global: Float32Array, updates: readonly ClientUpdate[]): Float32Array {
  validateUpdateHeaders(global, updates);
  const acc = new WeightedAccumulator(global.length);
  for (const u of updates) acc.add(u.weights, u.numExamples);
  const mean = acc.mean();
  if (!isAllFinite(mean)) {
    validateUpdates(global, updates); // throws TESSERA_INPUT_WEIGHTS_NONFINITE naming the site and index
    assertFinite(mean, 'weighted mean');
  }
  return mean;
}

/** True when no element is NaN or ±Infinity: OR of the exponent-all-ones test on the raw bits, branch-free. */
export function isAllFinite(v: Float32Array): boolean {
  const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const n = bits.length;
  let bad = 0;
  // Exponent field 0xff marks NaN and ±Infinity; adding 1 to it carries into bit 8 exactly then.
  for (let i = 0; i < n; i++) bad |= (((bits[i] as number) >>> 23) & 0xff) + 1;
  return (bad & 0x100) === 0;
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
