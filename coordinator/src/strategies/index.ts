// Public API of coordinator/src/strategies: server-side aggregation. Named re-exports only.
export { STRATEGY_NAMES, type ClientUpdate, type Strategy, type StrategyName, type StrategyState } from './strategy.js';
export { WeightedAccumulator } from './weighted-accumulator.js';
export { partitionUpdates, validateUpdate, validateUpdates, type RejectedUpdate } from './validate-updates.js';
export { FedAvg, weightedMean } from './fedavg.js';
export { DEFAULT_TRIM_FRACTION, RobustAggregate, robustMinUpdates, type RobustName, type RobustOptions } from './robust.js';
export {
  FedOpt,
  compileFedOptOptions,
  type CompiledFedOptOptions,
  type FedOptOptions,
  type FedOptVariant,
} from './fedopt.js';
export {
  DEFAULT_PROXIMAL_MU,
  checkStudyStrategy,
  createStrategy,
  strategyTrainingOverrides,
  type StrategyOptions,
  type TrainingOverrides,
} from './create-strategy.js';
