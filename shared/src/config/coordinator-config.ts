import { Type, type Static } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

/** `coordinator.yaml`: where the coordinator listens, keeps its state, and finds its TLS material. */
export const CoordinatorConfigSchema = Type.Object(
  {
    /** @default 'coordinator' */
    coordinatorId: Type.String({ minLength: 1, maxLength: 64, default: 'coordinator' }),
    listen: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 7443 }),
      },
      { ...strict, default: {} },
    ),
    /** Folder for the SQLite database, model versions and partial uploads (relative to the config file). */
    dataDir: Type.String({ minLength: 1 }),
    tls: Type.Object(
      {
        ca: Type.String({ minLength: 1 }),
        cert: Type.String({ minLength: 1 }),
        key: Type.String({ minLength: 1 }),
        /** Signed revocation list; re-read when it changes, no restart needed. */
        revocations: Type.Optional(Type.String({ minLength: 1 })),
      },
      strict,
    ),
    /**
     * REST API and dashboard (absent: not served). Operators authenticate with the bearer tokens `tessera provision`
     * writes to `operators/<id>/token`; the coordinator only holds their SHA-256 (`tokens`, usually
     * `coordinator/operators.json`).
     */
    api: Type.Optional(
      Type.Object(
        {
          /** Loopback by default. Any other address requires `tls: true` (bearer tokens never cross a network in clear). */
          host: Type.String({ minLength: 1, default: '127.0.0.1' }),
          /** @default 7480 */
          port: Type.Integer({ minimum: 0, maximum: 65535, default: 7480 }),
          /** operators.json from `tessera provision` (relative to the config file). */
          tokens: Type.String({ minLength: 1 }),
          /** Serve HTTPS with the coordinator's certificate (`tls.cert`/`tls.key`). @default false */
          tls: Type.Boolean({ default: false }),
          rateLimit: Type.Object(
            {
              /** Requests per window per credential (or per address before authentication). @default 600 */
              max: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 600 }),
              /** @default 60000 ms */
              windowMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000 }),
            },
            { ...strict, default: {} },
          ),
        },
        strict,
      ),
    ),
    /** How often each side sends a heartbeat. @default 5000 ms */
    heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000 }),
    /**
     * A site silent this long is disconnected (its stream closed; the agent reconnects) and dropped from its round
     * at once. Agents heartbeat between training steps, so it must exceed the longest single step; raise it where
     * agents share a loaded host: 100 agents on two cores can each stall for tens of seconds while training.
     * @default 4 × heartbeatIntervalMs
     */
    heartbeatTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
  },
  strict,
);

export type CoordinatorConfig = Static<typeof CoordinatorConfigSchema>;
