import { Type, type Static } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

/** One local tabular dataset: a CSV file plus its declared schema. */
export const AgentCsvDatasetSchema = Type.Object(
  {
    csv: Type.String({ minLength: 1 }),
    /** `builtin:<name>` (heart-disease, synthetic-cohort) or the path of a JSON/YAML schema file. */
    schema: Type.String({ minLength: 1 }),
    /** @default 0.34 (FLamby's 66/34 split) */
    testFraction: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
    /** Seed of the stratified split. @default 42 */
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    /** @default 'zscore' (fitted on the train split only) */
    normalize: Type.Optional(Type.Union([Type.Literal('zscore'), Type.Literal('none')])),
  },
  strict,
);

/**
 * One local imaging study: original DICOM files and FHIR exports, both ingested through the
 * de-identification gate into `cache` at agent start; training reads only the cache.
 */
export const AgentImagingDatasetSchema = Type.Object(
  {
    kind: Type.Literal('imaging-study'),
    /** Folder of original DICOM files (read-only). */
    dicom: Type.String({ minLength: 1 }),
    /** Folder of FHIR R4 exports (`*.json` Bundles, `*.ndjson`), read-only. */
    fhir: Type.String({ minLength: 1 }),
    /** The de-identified cache folder (rebuilt at each start). */
    cache: Type.String({ minLength: 1 }),
    /** Site secret file for pseudonyms, UIDs and date shifts (created 0600 if absent). */
    secret: Type.String({ minLength: 1 }),
    /** PS3.15 options (e.g. `retain-longitudinal-modified-dates`). @default [] */
    deidOptions: Type.Optional(Type.Array(Type.String())),
    /** `[height, width, channels]` of the images the study's model takes. */
    inputShape: Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })]),
    /** Split names (DiagnosticReport category) that train. @default ['train'] */
    trainSplits: Type.Optional(Type.Array(Type.String())),
    /** Split names held out for evaluation. @default ['test'] */
    testSplits: Type.Optional(Type.Array(Type.String())),
    /** Split names evaluated for model selection, reported apart from the test split. @default ['val'] */
    valSplits: Type.Optional(Type.Array(Type.String())),
  },
  strict,
);

/** One local dataset: tabular CSV, or an imaging study behind the de-identification gate. */
export const AgentDatasetSchema = Type.Union([AgentCsvDatasetSchema, AgentImagingDatasetSchema]);

/** `agent.yaml`: the site's own configuration; nothing in it is ever sent to the coordinator except ids. */
export const AgentConfigSchema = Type.Object(
  {
    /** Folder of the site kit from `tessera provision` (kit.json, site.crt, site.key, ca.crt). */
    kit: Type.String({ minLength: 1 }),
    /** Overrides the coordinator address in kit.json (`host:port`). */
    coordinator: Type.Optional(Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$' })),
    /** Local datasets by the name studies use. */
    datasets: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }), AgentDatasetSchema),
    /**
     * The site's own signed audit ledger (JSONL): what it received and sent, signed with the site key.
     * @default `audit-ledger.jsonl` in the kit folder
     */
    auditLedger: Type.Optional(Type.String({ minLength: 1 })),
    /** Force a TF.js backend; otherwise tensorflow (tfjs-node-gpu) → wasm → cpu. */
    backend: Type.Optional(Type.Union([Type.Literal('tensorflow'), Type.Literal('wasm'), Type.Literal('cpu')])),
    /** The site's own limits: tasks outside them are refused with a reason. */
    policy: Type.Object(
      {
        /** Model specs this site agrees to train; empty = every spec in the vetted registry. */
        allowedModels: Type.Array(Type.String(), { default: [] }),
        /** Most local epochs per round. @default 50 */
        maxLocalEpochs: Type.Integer({ minimum: 1, default: 50 }),
        /** Largest model accepted, in parameters. @default 50000000 */
        maxParams: Type.Integer({ minimum: 1, default: 50_000_000 }),
        /** The site's own floor for secure aggregation; rounds below it are refused (TESSERA_SECAGG_POLICY). */
        secureAggregation: Type.Object(
          {
            /** Refuse rounds that do not use secure aggregation. @default false */
            require: Type.Boolean({ default: false }),
            /** Smallest Shamir threshold t this site accepts. @default 2 */
            minThreshold: Type.Integer({ minimum: 1, default: 2 }),
            /** Smallest cohort this site's update may be summed with. @default 3 */
            minCohort: Type.Integer({ minimum: 2, default: 3 }),
            /**
             * Fewest neighbours this site accepts in a SecAgg+ graph (the complete graph always passes); the
             * built-in floor is 2·log2(n). E.g. 56 resists a tenth of colluding sites at n = 100 with
             * probability ≥ 1 − 2^-40 per round. @default 0
             */
            minDegree: Type.Integer({ minimum: 0, default: 0 }),
            /**
             * Send this site's training loss and accuracy in the clear with a secure-aggregation fit (the
             * coordinator then stores them per site). Off, they stay at the site: the coordinator learns only the
             * masked sum, and the round has no training metrics. Never sent under differential privacy.
             * @default false
             */
            shareTrainMetrics: Type.Boolean({ default: false }),
          },
          { ...strict, default: {} },
        ),
      },
      { ...strict, default: {} },
    ),
    /** Differential privacy at this site: its policy file and its ε ledger. */
    privacy: Type.Optional(
      Type.Object(
        {
          /** Path of the site's privacy policy (YAML/JSON, `PrivacyPolicySchema`). */
          policy: Type.String({ minLength: 1 }),
          /** SQLite file of the ε ledger, kept across restarts. @default 'privacy-ledger.sqlite' next to agent.yaml */
          ledger: Type.Optional(Type.String({ minLength: 1 })),
        },
        strict,
      ),
    ),
    reconnect: Type.Object(
      {
        /** @default 250 ms */
        initialDelayMs: Type.Integer({ minimum: 10, default: 250 }),
        /** @default 15000 ms */
        maxDelayMs: Type.Integer({ minimum: 10, default: 15_000 }),
      },
      { ...strict, default: {} },
    ),
  },
  strict,
);

export type AgentConfig = Static<typeof AgentConfigSchema>;
export type AgentDatasetConfig = Static<typeof AgentDatasetSchema>;
export type AgentCsvDatasetConfig = Static<typeof AgentCsvDatasetSchema>;
export type AgentImagingDatasetConfig = Static<typeof AgentImagingDatasetSchema>;

/** kit.json written by `tessera provision` into each site's folder. */
export const SiteKitSchema = Type.Object(
  {
    siteId: Type.String({ minLength: 1 }),
    coordinator: Type.String({ minLength: 1 }),
    consortium: Type.String(),
    certificate: Type.String({ minLength: 1 }),
    key: Type.String({ minLength: 1 }),
    ca: Type.String({ minLength: 1 }),
  },
  strict,
);
export type SiteKit = Static<typeof SiteKitSchema>;
