import { Type, type Static } from '@sinclair/typebox';
import { ConfigError } from '../errors.js';

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

/** Limits that protect a PACS from the agent (hospitals care): parallel requests and request rate. */
const PacsLimitFields = {
  /** Requests (DICOMweb) or associations (DIMSE) in flight at once. @default 4 */
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  /** Requests started per second at most (token bucket, burst = concurrency). @default 20 */
  requestsPerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10_000 })),
  /** Time a single request may take before it is abandoned and reported. @default 30000 */
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
  /** Retries of a request that failed for a transient reason (network, 429, 5xx), with backoff. @default 2 */
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
};

/** How the agent authenticates to a DICOMweb server. Secrets live in files (mode 0600), never in agent.yaml. */
export const DicomwebAuthSchema = Type.Union([
  Type.Object({ type: Type.Literal('none') }, strict),
  Type.Object({ type: Type.Literal('basic'), username: Type.String({ minLength: 1 }), passwordFile: Type.String({ minLength: 1 }) }, strict),
  Type.Object({ type: Type.Literal('bearer'), tokenFile: Type.String({ minLength: 1 }) }, strict),
]);

/** A DICOMweb PACS: QIDO-RS search and WADO-RS retrieval under one base URL (e.g. `https://pacs/dicom-web`). */
export const DicomwebSourceSchema = Type.Object(
  {
    kind: Type.Literal('dicomweb'),
    /** Base URL of the DICOMweb service, `http://` or `https://` (the `/studies` resource lives under it). */
    url: Type.String({ pattern: '^https?://[^\\s]+$' }),
    /** @default { type: none } */
    auth: Type.Optional(DicomwebAuthSchema),
    /** PEM file of the hospital's own CA that signed the PACS certificate (https only). */
    ca: Type.Optional(Type.String({ minLength: 1 })),
    /** PEM file of the certificate the agent presents to a PACS that asks for one (mutual TLS; https only, with `clientKey`). */
    clientCertificate: Type.Optional(Type.String({ minLength: 1 })),
    /** PEM file of `clientCertificate`'s private key (unencrypted; keep it 0600). */
    clientKey: Type.Optional(Type.String({ minLength: 1 })),
    ...PacsLimitFields,
  },
  strict,
);

/** A DIMSE PACS: C-FIND to list instances, C-GET (or C-MOVE to the agent's own storage SCP) to retrieve them. */
export const DimseSourceSchema = Type.Object(
  {
    kind: Type.Literal('dimse'),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** The PACS's AE title. */
    calledAeTitle: Type.String({ pattern: '^[ -~]{1,16}$' }),
    /** The agent's AE title (the PACS must know it). */
    callingAeTitle: Type.String({ pattern: '^[ -~]{1,16}$' }),
    /** `c-get` (default): instances come back on the same association; `c-move`: the PACS sends them to the agent's own storage SCP `storeScp` (listening on 127.0.0.1 unless `host` says otherwise). */
    retrieve: Type.Optional(Type.Union([Type.Literal('c-get'), Type.Literal('c-move')])),
    /** The agent's storage SCP for C-MOVE: AE title the PACS moves to (configured in the PACS) and the port it listens on. */
    storeScp: Type.Optional(
      Type.Object(
        {
          aeTitle: Type.String({ pattern: '^[ -~]{1,16}$' }),
          /** @default 127.0.0.1 */
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Integer({ minimum: 0, maximum: 65535 }),
        },
        strict,
      ),
    ),
    /**
     * DICOM TLS (PS3.15 Annex B.1, the Basic TLS Secure Transport Connection Profile): every association, and the
     * C-MOVE storage SCP, runs over TLS. `ca` verifies the PACS; `clientCertificate` and `clientKey` are what the agent
     * presents (PACS usually require one) and what its storage SCP serves.
     */
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1 })),
          clientCertificate: Type.Optional(Type.String({ minLength: 1 })),
          clientKey: Type.Optional(Type.String({ minLength: 1 })),
        },
        strict,
      ),
    ),
    ...PacsLimitFields,
  },
  strict,
);

/** One PACS the site agent may pull from. */
export const PacsSourceSchema = Type.Union([DicomwebSourceSchema, DimseSourceSchema]);

const DicomDate = Type.String({ pattern: '^[0-9]{8}$' });

/**
 * What to pull from a PACS: every criterion given must match (lists match any of their values). A cohort (the
 * study data contract) fills `accessionNumbers` or `patientIds`.
 */
export const PacsQuerySchema = Type.Object(
  {
    /** Modalities (e.g. CR, DX, CT, MR). */
    modalities: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z0-9_]{1,16}$' }), { minItems: 1 })),
    /** First study date included, `YYYYMMDD`. */
    studyDateFrom: Type.Optional(DicomDate),
    /** Last study date included, `YYYYMMDD`. */
    studyDateTo: Type.Optional(DicomDate),
    /** Study description; `*` and `?` are wildcards. */
    studyDescription: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Series description; `*` and `?` are wildcards. */
    seriesDescription: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Body Part Examined (e.g. CHEST). */
    bodyPart: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    /** Accession numbers (one search each). */
    accessionNumbers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16 }), { minItems: 1 })),
    /** Patient IDs (one search each). */
    patientIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1 })),
    /** Most instances pulled per sync. */
    maxInstances: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  strict,
);

/**
 * One local imaging study: DICOM images (a folder of original files, or a PACS `source` with a `query`) and
 * FHIR exports, both ingested through the de-identification gate into `cache` at agent start; training reads
 * only the cache.
 */
export const AgentImagingDatasetSchema = Type.Object(
  {
    kind: Type.Literal('imaging-study'),
    /** Folder of original DICOM files (read-only). Exactly one of `dicom` and `source`. */
    dicom: Type.Optional(Type.String({ minLength: 1 })),
    /** Name of a PACS in `sources`; the de-identified cache is then filled incrementally. Exactly one of `dicom` and `source`. */
    source: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
    /** What to pull from `source`. @default everything the PACS lists */
    query: Type.Optional(PacsQuerySchema),
    /**
     * When to pull from `source`: `start` (the agent pulls `query` at start), or `study` (nothing at start; each
     * study that declares `data:` pulls only its cohort's studies: `query` narrowed to the cohort's patients,
     * modalities and body part, docs/reference/study-data.md). @default 'start'
     */
    pull: Type.Optional(Type.Union([Type.Literal('start'), Type.Literal('study')])),
    /**
     * The one folder (created 0700) where retrieved, still identified instances wait for the gate; each is
     * removed as soon as it is through, and the folder is swept at start. @default `<cache>.incoming`
     */
    incoming: Type.Optional(Type.String({ minLength: 1 })),
    /** Folder of FHIR R4 exports (`*.json` Bundles, `*.ndjson`), read-only. Without it images carry no labels. */
    fhir: Type.Optional(Type.String({ minLength: 1 })),
    /** The de-identified cache folder (rebuilt at each start for a folder; kept and synced for a PACS source). */
    cache: Type.String({ minLength: 1 }),
    /** Site secret file for pseudonyms, UIDs and date shifts (created 0600 if absent). */
    secret: Type.String({ minLength: 1 }),
    /** PS3.15 options (e.g. `retain-longitudinal-modified-dates`). @default [] */
    deidOptions: Type.Optional(Type.Array(Type.String())),
    /**
     * What the gate accepts of images whose pixels may carry burned-in text (docs/decisions/008-burned-in-annotation.md).
     * By default every such image is quarantined. `acceptUnknown`: modalities (e.g. `US`, or `*`) whose images
     * without a Burned In Annotation value this site accepts (it knows its devices put no identifying text in the
     * pixels); `acceptDeclared`: modalities whose images declaring Burned In Annotation YES it accepts (it cleans
     * the pixels before the gate). Images with Recognizable Visual Features YES are never accepted.
     * @default { acceptUnknown: [], acceptDeclared: [] }
     */
    burnedInAnnotation: Type.Optional(
      Type.Object(
        {
          acceptUnknown: Type.Optional(Type.Array(Type.String({ pattern: '^(\\*|[A-Z0-9_]{1,16})$' }), { uniqueItems: true })),
          acceptDeclared: Type.Optional(Type.Array(Type.String({ pattern: '^(\\*|[A-Z0-9_]{1,16})$' }), { uniqueItems: true })),
        },
        strict,
      ),
    ),
    /** `[height, width, channels]` of the images the study's model takes. */
    inputShape: Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })]),
    /** Split names (DiagnosticReport category) that train. @default ['train'] */
    trainSplits: Type.Optional(Type.Array(Type.String())),
    /** Split names held out for evaluation. @default ['test'] */
    testSplits: Type.Optional(Type.Array(Type.String())),
    /** Split names evaluated for model selection, reported apart from the test split. @default ['val'] */
    valSplits: Type.Optional(Type.Array(Type.String())),
    /** The site's harmonisation file, for studies that declare `data:` (docs/reference/study-data.md). */
    mapping: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * An `emr` dataset of this agent.yaml whose records give `data:` studies their cohort and labels, joined
     * to the images by the keyed patient pseudonym (both must name the same `secret` file).
     */
    emr: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
  },
  strict,
);

/**
 * The site's EMR records for studies that declare `data:` (docs/reference/study-data.md): FHIR R4 Bundles
 * (`*.json`), bulk-export NDJSON (`*.ndjson`) and Synthea CSV folders (holding `patients.csv`) under `input`,
 * the folder formats `tessera deid-emr` accepts, ingested through the Safe Harbor gate into `cache` at agent
 * start. Each study's cohort, features, label and split are evaluated on the cache when its task arrives.
 */
export const AgentEmrDatasetSchema = Type.Object(
  {
    kind: Type.Literal('emr'),
    /** Folder of EMR exports (read-only). */
    input: Type.String({ minLength: 1 }),
    /** The de-identified cache folder (one NDJSON file per resource type, rebuilt at each start). */
    cache: Type.String({ minLength: 1 }),
    /** Site secret file for pseudonyms, date shifts and study splits (created 0600 if absent). */
    secret: Type.String({ minLength: 1 }),
    /** The site's harmonisation file (local codes, units, descriptions → the study's code systems). */
    mapping: Type.Optional(Type.String({ minLength: 1 })),
  },
  strict,
);

/** One local dataset: tabular CSV, an imaging study behind the de-identification gate, or EMR records for study contracts. */
export const AgentDatasetSchema = Type.Union([AgentCsvDatasetSchema, AgentImagingDatasetSchema, AgentEmrDatasetSchema]);

/** `agent.yaml`: the site's own configuration; nothing in it is ever sent to the coordinator except ids. */
export const AgentConfigSchema = Type.Object(
  {
    /** Folder of the site kit from `tessera provision` (kit.json, site.crt, site.key, ca.crt). */
    kit: Type.String({ minLength: 1 }),
    /** Overrides the coordinator address in kit.json (`host:port`). */
    coordinator: Type.Optional(Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$' })),
    /** PACS the agent may pull imaging datasets from, by name (`source:` in a dataset). @default {} */
    sources: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }), PacsSourceSchema)),
    /** Local datasets by the name studies use. */
    datasets: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }), AgentDatasetSchema),
    /**
     * The site's own signed audit ledger (JSONL): what it received and sent, signed with the site key.
     * @default `audit-ledger.jsonl` in the kit folder
     */
    auditLedger: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Folder of the site's FedBN state: per study, its batch-normalisation weights (kept at the site under
     * `training.fedBn`) and the last global model received, so they survive a restart (created 0700, files 0600).
     * @default `fedbn` in the kit folder
     */
    fedBnState: Type.Optional(Type.String({ minLength: 1 })),
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
        /** Feasibility counts below this are shown as suppressed (`<10`), never as the number or 0. @default 10 */
        minCellCount: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
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
export type PacsSourceConfig = Static<typeof PacsSourceSchema>;
export type DicomwebSourceConfig = Static<typeof DicomwebSourceSchema>;
export type DimseSourceConfig = Static<typeof DimseSourceSchema>;
export type PacsQuery = Static<typeof PacsQuerySchema>;
export type AgentEmrDatasetConfig = Static<typeof AgentEmrDatasetSchema>;

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

/**
 * Rules of `agent.yaml` a schema cannot state (pass as `crossCheck` to `parseConfigText`): an imaging dataset
 * has exactly one of `dicom` and `source`; `source` names an entry of `sources`; `query` and `incoming` go with
 * `source` only; a `dimse` source that retrieves by C-MOVE has a `storeScp`; a date range is in order.
 */
export function checkAgentConfig(config: AgentConfig, source: string): void {
  const fail = (field: string, message: string): never => {
    throw new ConfigError(`${source}: '${field}' ${message}`, { source, field });
  };
  for (const [name, src] of Object.entries(config.sources ?? {})) {
    if (src.kind === 'dimse' && src.retrieve === 'c-move' && src.storeScp === undefined) fail(`sources.${name}.storeScp`, 'is required when retrieve is c-move');
    if (src.kind === 'dicomweb' && src.ca !== undefined && !src.url.startsWith('https://')) fail(`sources.${name}.ca`, 'needs an https:// url');
    const tls = src.kind === 'dicomweb' ? { at: `sources.${name}`, cert: src.clientCertificate, key: src.clientKey } : { at: `sources.${name}.tls`, cert: src.tls?.clientCertificate, key: src.tls?.clientKey };
    if ((tls.cert === undefined) !== (tls.key === undefined)) fail(`${tls.at}.${tls.cert === undefined ? 'clientCertificate' : 'clientKey'}`, `is required with ${tls.cert === undefined ? 'clientKey' : 'clientCertificate'}`);
    if (src.kind === 'dicomweb' && src.clientCertificate !== undefined && !src.url.startsWith('https://')) fail(`sources.${name}.clientCertificate`, 'needs an https:// url');
    if (src.kind === 'dimse' && src.tls !== undefined && src.retrieve === 'c-move' && src.tls.clientCertificate === undefined) {
      fail(`sources.${name}.tls.clientCertificate`, 'is required with retrieve c-move over TLS (the storage SCP serves it)');
    }
  }
  for (const [name, ds] of Object.entries(config.datasets)) {
    if (!('kind' in ds) || ds.kind !== 'imaging-study') continue;
    const at = `datasets.${name}`;
    if (ds.emr !== undefined) {
      const linked = config.datasets[ds.emr];
      if (linked === undefined || !('kind' in linked) || linked.kind !== 'emr') fail(`${at}.emr`, `names '${ds.emr}', which is not an emr dataset`);
    }
    if ((ds.dicom === undefined) === (ds.source === undefined)) fail(at, 'needs exactly one of dicom (a folder) and source (a PACS in sources)');
    if (ds.source !== undefined && config.sources?.[ds.source] === undefined) fail(`${at}.source`, `names '${ds.source}', which is not in sources`);
    if (ds.source === undefined && ds.query !== undefined) fail(`${at}.query`, 'applies to a PACS source only');
    if (ds.source === undefined && ds.incoming !== undefined) fail(`${at}.incoming`, 'applies to a PACS source only');
    if (ds.source === undefined && ds.pull !== undefined) fail(`${at}.pull`, 'applies to a PACS source only');
    const q = ds.query;
    if (q?.studyDateFrom !== undefined && q.studyDateTo !== undefined && q.studyDateFrom > q.studyDateTo) fail(`${at}.query.studyDateFrom`, 'is after studyDateTo');
  }
}
