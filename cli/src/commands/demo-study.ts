import type { StudySpec, StrategyName } from '../../../shared/src/study/study-spec.js';
import { CHEST_DATASET, CHEST_DEFAULTS } from '../demo/chest-xray/study.js';

/** Per-dataset defaults of the demo, tuned on this 2-core machine (see README "Results"). */
export const DEMO_DEFAULTS = {
  synthetic: { rounds: 10, localEpochs: 2, learningRate: 0.1, batchSize: 16, model: 'logreg' },
  'heart-disease': { rounds: 25, localEpochs: 2, learningRate: 0.05, batchSize: 8, model: 'mlp-small' },
  breastmnist: { rounds: 36, localEpochs: 5, learningRate: 0.002, batchSize: 32, model: 'cnn-breastmnist-deep', learningRateDecay: 0.96 },
  'chest-xray': { ...CHEST_DEFAULTS.full, quickRounds: CHEST_DEFAULTS.quick.rounds },
} as const;

/** The study's `dataset` name for each demo dataset. */
const DATASET_NAME = { synthetic: 'synthetic-cohort', 'heart-disease': 'heart-disease', breastmnist: 'breastmnist', 'chest-xray': CHEST_DATASET } as const;

/**
 * Record-level DP-SGD defaults (`--dp-epsilon`), tuned on heart-disease at ε = 1, δ = 1e-5 (logistic
 * regression, FLamby's model: 14 parameters carry less total noise than the MLP's 241); fewer,
 * larger-step rounds, since every step costs privacy (see docs/explanation/differential-privacy.md).
 */
export const DP_DEFAULTS = { rounds: 10, learningRate: 0.3, samplingRate: 0.5, stepsPerRound: 5, clipNorm: 1, model: 'logreg' } as const;

/** Server learning rates for the adaptive strategies on these small tabular tasks. */
const ETA: Partial<Record<StrategyName, number>> = { fedadam: 0.05, fedyogi: 0.05, fedadagrad: 0.1 };

export function demoStudy(a: {
  dataset: 'synthetic' | 'heart-disease' | 'breastmnist' | 'chest-xray';
  rounds: number;
  strategy: StrategyName;
  model: string | undefined;
  localEpochs: number | undefined;
  learningRate: number | undefined;
  seed: number;
  inputDim: number;
  minSites: number;
  /** The demo's sites: each round waits (timeouts.joinMs) for all of them once minSites are connected. */
  expectedSites?: string[];
  /** @default true */
  secureAggregation?: boolean;
  dp: { epsilon: number; delta: number; accountant: 'pld' | 'rdp'; mode: 'record' | 'site' } | undefined;
}): StudySpec {
  const d = DEMO_DEFAULTS[a.dataset];
  const dp = a.dp;
  // Record-level DP-SGD gets its own tuned defaults; site-level DP-FedAvg trains as usual and noises the update.
  const images = a.dataset === 'breastmnist' || a.dataset === 'chest-xray';
  const dpSgd = dp?.mode === 'record' && !images;
  const eta = ETA[a.strategy];
  return {
    id: 'demo-study',
    name: `Tessera demo on ${a.dataset}`,
    dataset: DATASET_NAME[a.dataset],
    model: a.model ?? (dpSgd ? DP_DEFAULTS.model : d.model),
    inputDim: a.inputDim,
    rounds: a.rounds,
    strategy: a.strategy,
    strategyOptions: eta === undefined ? {} : { eta },
    minSites: a.minSites,
    ...(a.expectedSites ? { expectedSites: a.expectedSites } : {}),
    training: {
      localEpochs: a.localEpochs ?? d.localEpochs,
      batchSize: d.batchSize,
      learningRate: a.learningRate ?? (dpSgd ? DP_DEFAULTS.learningRate : d.learningRate),
      // Image CNNs train with Adam; the small tabular models with plain SGD.
      optimizer: images ? 'adam' : 'sgd',
      // The CNN settles with a decaying client learning rate (0.002 → 0.0005 over 36 rounds).
      ...('learningRateDecay' in d ? { learningRateDecay: d.learningRateDecay } : {}),
      // Chest X-ray sites hold one normal radiograph in ten: each weights its loss by its own class counts.
      ...('classWeighting' in d && dp?.mode !== 'record' ? { classWeighting: d.classWeighting } : {}),
    },
    // CNN rounds on a shared 2-core machine: three sites train at once, each ingesting first.
    timeouts:
      images
        ? { waitForSitesMs: a.dataset === 'chest-xray' ? 900_000 : 300_000, fitMs: 900_000, evaluateMs: 300_000 }
        : { waitForSitesMs: 60_000, fitMs: 120_000, evaluateMs: 60_000 },
    maxRoundAttempts: 3,
    seed: a.seed,
    // DP composes with secure aggregation: record-level noise is added in training, site-level noise in
    // the integer domain right before masking.
    secureAggregation: a.secureAggregation ?? true,
    secureAggregationOptions: { clip: 8, maxWeight: 16_384, weightBucket: 8, completeGraphUpTo: 32, stageTimeoutMs: 60_000 },
    ...(dp
      ? {
          privacy: {
            mode: dp.mode,
            epsilon: dp.epsilon,
            delta: dp.delta,
            accountant: dp.accountant,
            clipNorm: DP_DEFAULTS.clipNorm,
            samplingRate: DP_DEFAULTS.samplingRate,
            stepsPerRound: DP_DEFAULTS.stepsPerRound,
          },
        }
      : {}),
  };
}
