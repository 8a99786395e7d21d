import { ConfigError } from '../../../shared/src/errors.js';
import { FedAvg } from './fedavg.js';
import { FedOpt, type FedOptOptions } from './fedopt.js';
import { RobustAggregate, robustMinUpdates, type RobustName, type RobustOptions } from './robust.js';
import { ROBUST_STRATEGIES, type StudySpec } from '../../../shared/src/study/study-spec.js';
import { STRATEGY_NAMES, type Strategy, type StrategyName } from './strategy.js';

/** Options for {@link createStrategy} and {@link strategyTrainingOverrides}; each strategy reads its own. */
export interface StrategyOptions extends FedOptOptions, RobustOptions {
  /**
   * FedProx proximal coefficient μ sent to the sites (ignored by other strategies).
   * @default 0.01
   */
  proximalMu?: number;
}

/** FedProx's default μ. */
export const DEFAULT_PROXIMAL_MU = 0.01;

function assertName(name: string): asserts name is StrategyName {
  if (!(STRATEGY_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(`'strategy' must be one of ${STRATEGY_NAMES.join(', ')}`, { field: 'strategy' });
  }
}

/**
 * Creates a strategy by name. Options that do not apply to it are ignored.
 * @throws ConfigError on an unknown name or an out-of-range option (the field is named).
 */
export function createStrategy(name: StrategyName, options: StrategyOptions = {}): Strategy {
  assertName(name);
  switch (name) {
    case 'fedavg':
    case 'fedprox':
      strategyTrainingOverrides(name, options); // validates proximalMu
      return new FedAvg(name);
    case 'fedadam':
    case 'fedyogi':
    case 'fedadagrad':
      return optionsChecked(`strategy.${name}`, () => new FedOpt(name, options));
    case 'fedmedian':
    case 'fedtrimmedavg':
    case 'krum':
      return optionsChecked('strategyOptions', () => new RobustAggregate(name, options));
  }
}

/** Builds a strategy whose constructor throws RangeError on a bad option, as a ConfigError naming `field`. */
function optionsChecked(field: string, build: () => Strategy): Strategy {
  try {
    return build();
  } catch (err) {
    if (err instanceof RangeError) throw new ConfigError(err.message, { field }, { cause: err });
    throw err;
  }
}

/** Local-training settings a strategy imposes on the sites for each round. */
export interface TrainingOverrides {
  /** FedProx proximal coefficient μ (0: plain local SGD/Adam). */
  proximalMu: number;
}

/**
 * What the sites must change in their local training for this strategy: `{ proximalMu }` is
 * `options.proximalMu ?? 0.01` for `fedprox` and 0 for every other strategy.
 * @throws ConfigError when `proximalMu` is negative or not finite.
 */
export function strategyTrainingOverrides(name: StrategyName, options: StrategyOptions = {}): TrainingOverrides {
  assertName(name);
  if (name !== 'fedprox') return { proximalMu: 0 };
  const mu = options.proximalMu ?? DEFAULT_PROXIMAL_MU;
  if (!Number.isFinite(mu) || mu < 0) {
    throw new ConfigError("'strategy.proximalMu' must be a finite number ≥ 0", { field: 'strategy.proximalMu' });
  }
  return { proximalMu: mu };
}

/**
 * Checks a study's strategy against the rest of the study: its options, that a robust strategy (which
 * needs every site's update) runs without secure aggregation, and that Krum gets enough sites.
 * @throws ConfigError naming the field.
 */
export function checkStudyStrategy(spec: Pick<StudySpec, 'id' | 'strategy' | 'strategyOptions' | 'secureAggregation' | 'minSites'>): void {
  createStrategy(spec.strategy, spec.strategyOptions);
  if (!(ROBUST_STRATEGIES as readonly string[]).includes(spec.strategy)) return;
  const name = spec.strategy as RobustName;
  if (spec.secureAggregation) {
    throw new ConfigError(`study '${spec.id}': strategy '${name}' needs every site's update, but secure aggregation reveals only their sum; set secureAggregation: false`, { field: 'strategy' });
  }
  const need = robustMinUpdates(name, spec.strategyOptions);
  if (spec.minSites < need) {
    throw new ConfigError(`study '${spec.id}': strategy '${name}' needs at least ${need} sites per round (2·byzantineSites + 3 for Krum); minSites is ${spec.minSites}`, { field: 'minSites' });
  }
}
