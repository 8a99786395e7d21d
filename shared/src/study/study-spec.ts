import { Type, type Static } from '@sinclair/typebox';
import { PARTICIPANT_ID_PATTERN } from '../config/consortium-config.js';
import { checkStudyData, StudyDataSchema } from './study-data-spec.js';

/** The five aggregation strategies of the foundation. */
export const STRATEGY_NAMES = ['fedavg', 'fedprox', 'fedadam', 'fedyogi', 'fedadagrad', 'fedmedian', 'fedtrimmedavg', 'krum'] as const;
/** Byzantine-robust strategies: they need every site's update, so they run only without secure aggregation. */
export const ROBUST_STRATEGIES = ['fedmedian', 'fedtrimmedavg', 'krum'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

const strict = { additionalProperties: false } as const;

/** Accountants a study or a site policy may name. */
export const ACCOUNTANTS = ['pld', 'rdp'] as const;

/** A study's differential-privacy settings (see docs/explanation/differential-privacy.md). */
export const StudyPrivacySchema = Type.Object(
  {
    /** `record`: DP-SGD at each site (records protected). `site`: DP-FedAvg (each site's whole data protected). */
    mode: Type.Union([Type.Literal('record'), Type.Literal('site')]),
    /** Target ε over the whole study, per site. */
    epsilon: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
    /** Target δ; well below 1/n for n records. */
    delta: Type.Number({ exclusiveMinimum: 0, maximum: 0.01 }),
    accountant: Type.Union(ACCOUNTANTS.map((a) => Type.Literal(a)), { default: 'pld' }),
    /** record: per-example gradient L2 bound; site: model-update L2 bound. */
    clipNorm: Type.Number({ exclusiveMinimum: 0, maximum: 1e6, default: 1 }),
    /** Poisson sampling rate per local step. */
    samplingRate: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.3 }),
    /** DP-SGD steps per round at each site. */
    stepsPerRound: Type.Integer({ minimum: 1, maximum: 100_000, default: 5 }),
    /**
     * σ; when absent the coordinator calibrates it so the study reaches (ε, δ): `rounds × stepsPerRound`
     * Poisson steps (record), or `rounds` Gaussian releases of the sum of site updates (site).
     */
    noiseMultiplier: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    /**
     * Site mode under secure aggregation only: adaptive clipping (Andrew et al. 2021). The clipping bound
     * starts at `clipNorm` and moves each round towards the `targetQuantile` of the sites' update norms,
     * from the securely summed, noised count of sites whose update was within the bound.
     */
    adaptiveClipping: Type.Optional(
      Type.Object(
        {
          /** Fraction γ of sites whose update should be within the bound (0.5: the median norm). */
          targetQuantile: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
          /** Geometric step η_C of the bound per round. */
          learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.2 }),
          /** σ_b, noise std of the count (sensitivity ½); default minSites/20. Must exceed noiseMultiplier/2. */
          countNoise: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e6 })),
        },
        strict,
      ),
    ),
  },
  strict,
);
export type StudyPrivacy = Static<typeof StudyPrivacySchema>;

/**
 * A study file: what to train, where, and how. Everything a site needs to decide whether to take part is
 * in here (model spec name, dataset, feature count), and sites check it against their own policy.
 */
export const StudySpecSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    /** Dataset name each site maps to its local files. */
    dataset: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
    /** Name of a model spec in the vetted registry. */
    model: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
    /** Feature count of the dataset's encoded rows; a site whose data differs refuses the study. */
    inputDim: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    rounds: Type.Integer({ minimum: 1, maximum: 10_000 }),
    strategy: Type.Union(STRATEGY_NAMES.map((n) => Type.Literal(n))),
    strategyOptions: Type.Object(
      {
        eta: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10 })),
        beta1: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
        beta2: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
        tau: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
        proximalMu: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
        /** fedtrimmedavg: fraction β cut from each end of every coordinate (default 0.2). */
        trimFraction: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 0.5 })),
        /** krum: sites that may be Byzantine, f (default 1); needs minSites ≥ 2f + 3. */
        byzantineSites: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
        /** krum: best-scored updates averaged, m (default 1: Krum; more: Multi-Krum). */
        krumSelect: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      },
      { ...strict, default: {} },
    ),
    /** A round needs at least this many sites to succeed; fewer and it is retried. */
    minSites: Type.Integer({ minimum: 1, default: 2 }),
    maxSites: Type.Optional(Type.Integer({ minimum: 1 })),
    /**
     * The sites the study expects (their certificate ids). Once `minSites` are connected, a round waits up
     * to `timeouts.joinMs` for the rest of them before it starts; one that does not join is recorded for the
     * round, not fatal. Without it the round waits for as many sites as every connected site's own floor asks.
     */
    expectedSites: Type.Optional(Type.Array(Type.String({ pattern: PARTICIPANT_ID_PATTERN }), { minItems: 1, uniqueItems: true })),
    training: Type.Object(
      {
        localEpochs: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
        batchSize: Type.Integer({ minimum: 1, maximum: 65_536, default: 32 }),
        learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.05 }),
        optimizer: Type.Union([Type.Literal('sgd'), Type.Literal('adam')], { default: 'sgd' }),
        /**
         * Client learning rate of round r is `learningRate · learningRateDecay^(r − 1)` (a per-round
         * exponential schedule; 1 keeps it constant). @default 1
         */
        learningRateDecay: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
        /**
         * FedBN (Li et al. 2021): batch-normalisation weights stay local to each site; the coordinator
         * publishes, aggregates (securely, with DP) and sites send the rest of the vector only. For models
         * with batch normalisation (e.g. `resnet-small`); no effect on others. @default false
         */
        fedBn: Type.Optional(Type.Boolean()),
        /**
         * Class weighting of a binary head's loss. `balanced`: each site weights its examples by
         * `n / (2 · n_class)` from its own training labels, so the rarer class counts as much as the common
         * one (a site with one normal radiograph in ten still learns what normal looks like). Binary models
         * only, not with record-level `privacy` (DP-SGD's accounting assumes unweighted examples). @default 'none'
         */
        classWeighting: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('balanced')])),
      },
      { ...strict, default: {} },
    ),
    timeouts: Type.Object(
      {
        /** How long a round waits for `minSites` to be connected. @default 120000 ms */
        waitForSitesMs: Type.Integer({ minimum: 100, default: 120_000 }),
        /** Fit phase deadline; sites not done by then are stragglers, dropped from the round. @default 300000 ms */
        fitMs: Type.Integer({ minimum: 100, default: 300_000 }),
        /** Evaluate phase deadline. @default 120000 ms */
        evaluateMs: Type.Integer({ minimum: 100, default: 120_000 }),
        /**
         * Once `minSites` are connected, how long a round waits for the rest of its cohort (`expectedSites`,
         * or enough sites for every connected site's minimum cohort). @default 30000 ms
         */
        joinMs: Type.Optional(Type.Integer({ minimum: 0 })),
        /** Wait before the first retry of a failed round attempt; it doubles per failed attempt, up to 60 s. @default 1000 ms */
        retryBackoffMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
      },
      { ...strict, default: {} },
    ),
    /** Attempts per round before the study fails. @default 3 */
    maxRoundAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
    seed: Type.Integer({ minimum: 0, maximum: 4294967295, default: 42 }),
    /**
     * Secure aggregation (SecAgg/SecAgg+, docs/explanation/secure-aggregation.md): the coordinator learns
     * only the weighted sum of the sites' updates. On by default. @default true
     */
    secureAggregation: Type.Boolean({ default: true }),
    /** Parameters of secure aggregation; ignored when it is off. Sites check them against their own policy. */
    secureAggregationOptions: Type.Object(
      {
        /**
         * Shamir threshold t, counted among a site's share holders (its neighbours and itself). A round
         * completes only if at least t sites survive to the end. @default ⌊holders / 2⌋ + 1
         */
        threshold: Type.Optional(Type.Integer({ minimum: 1 })),
        /** Per-coordinate clip of the update delta before quantization. @default 8 */
        clip: Type.Number({ exclusiveMinimum: 0, maximum: 1e6, default: 8 }),
        /** Bucketed example counts are capped at this weight. @default 16384 */
        maxWeight: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 16_384 }),
        /** Example counts are rounded to a multiple of this before weighting. @default 8 */
        weightBucket: Type.Integer({ minimum: 1, maximum: 65_536, default: 8 }),
        /** Cohorts up to this size use the complete graph; larger ones a random k-regular graph. @default 32 */
        completeGraphUpTo: Type.Integer({ minimum: 2, maximum: 100_000, default: 32 }),
        /**
         * Neighbours per site (k) in cohorts above `completeGraphUpTo`: an even number, capped at n − 1
         * (the complete graph). Exclusive with `colludingFraction`. @default the even number ≥ 3·log2(n)
         */
        degree: Type.Optional(Type.Integer({ minimum: 4, maximum: 100_000, multipleOf: 2 })),
        /**
         * Choose k per round as the smallest even degree for which a coalition of the coordinator and this
         * fraction of the sites learns some site's update with probability ≤ 2^-40 per round (binomial
         * bound, docs/explanation/secure-aggregation.md), e.g. 0.1 → k = 56 at n = 100. Exclusive with `degree`.
         */
        colludingFraction: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 0.5 })),
        /** Deadline of each stage after the first (key sharing, masked input, unmasking). @default 60000 ms */
        stageTimeoutMs: Type.Integer({ minimum: 100, default: 60_000 }),
      },
      { ...strict, default: {} },
    ),
    /**
     * Differential privacy. `record`: DP-SGD at each site, so each site's records are (ε, δ)-DP over the
     * whole study. Every site re-checks it against its own policy and budget.
     */
    privacy: Type.Optional(StudyPrivacySchema),
    /**
     * The study's data contract (docs/reference/study-data.md): cohort, index date, windows, features,
     * label and split, evaluated by every site on its own records. Absent: the site's dataset is used as it is.
     */
    data: Type.Optional(StudyDataSchema),
  },
  strict,
);

export type StudySpec = Static<typeof StudySpecSchema>;

/** `crossCheck` for a study file: the `data:` contract's rules, naming the file and field (the coordinator checks again). */
export function checkStudySpecData(spec: StudySpec, source: string): void {
  if (spec.data !== undefined) checkStudyData(spec.data, source);
}

/** The client learning rate of `round` (1-based): `learningRate · learningRateDecay^(round − 1)`. */
export function roundLearningRate(training: { learningRate: number; learningRateDecay?: number | undefined }, round: number): number {
  return training.learningRate * (training.learningRateDecay ?? 1) ** Math.max(0, round - 1);
}
