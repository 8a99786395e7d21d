import { Type, type Static } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

/** One local dataset: a CSV file plus its declared schema. */
export const AgentDatasetSchema = Type.Object(
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

/** `agent.yaml`: the site's own configuration; nothing in it is ever sent to the coordinator except ids. */
export const AgentConfigSchema = Type.Object(
  {
    /** Folder of the site kit from `tessera provision` (kit.json, site.crt, site.key, ca.crt). */
    kit: Type.String({ minLength: 1 }),
    /** Overrides the coordinator address in kit.json (`host:port`). */
    coordinator: Type.Optional(Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$' })),
    /** Local datasets by the name studies use. */
    datasets: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }), AgentDatasetSchema),
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
