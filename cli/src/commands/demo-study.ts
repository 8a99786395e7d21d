import type { StudySpec, StrategyName } from '../../../shared/src/study/study-spec.js';

/** Per-dataset defaults of the demo, tuned on this 2-core machine (see README "Results"). */
export const DEMO_DEFAULTS = {
  synthetic: { rounds: 10, localEpochs: 2, learningRate: 0.1, batchSize: 16, model: 'logreg' },
  'heart-disease': { rounds: 25, localEpochs: 2, learningRate: 0.05, batchSize: 8, model: 'mlp-small' },
} as const;

/** Server learning rates for the adaptive strategies on these small tabular tasks. */
const ETA: Partial<Record<StrategyName, number>> = { fedadam: 0.05, fedyogi: 0.05, fedadagrad: 0.1 };

export function demoStudy(a: {
  dataset: 'synthetic' | 'heart-disease';
  rounds: number;
  strategy: StrategyName;
  model: string | undefined;
  localEpochs: number | undefined;
  learningRate: number | undefined;
  seed: number;
  inputDim: number;
  minSites: number;
  /** @default true */
  secureAggregation?: boolean;
}): StudySpec {
  const d = DEMO_DEFAULTS[a.dataset];
  const eta = ETA[a.strategy];
  return {
    id: 'demo-study',
    name: `Tessera demo on ${a.dataset}`,
    dataset: a.dataset === 'synthetic' ? 'synthetic-cohort' : 'heart-disease',
    model: a.model ?? d.model,
    inputDim: a.inputDim,
    rounds: a.rounds,
    strategy: a.strategy,
    strategyOptions: eta === undefined ? {} : { eta },
    minSites: a.minSites,
    training: {
      localEpochs: a.localEpochs ?? d.localEpochs,
      batchSize: d.batchSize,
      learningRate: a.learningRate ?? d.learningRate,
      optimizer: 'sgd',
    },
    timeouts: { waitForSitesMs: 60_000, fitMs: 120_000, evaluateMs: 60_000 },
    maxRoundAttempts: 3,
    seed: a.seed,
    secureAggregation: a.secureAggregation ?? true,
    secureAggregationOptions: { clip: 8, maxWeight: 16_384, weightBucket: 8, completeGraphUpTo: 32, stageTimeoutMs: 60_000 },
  };
}
