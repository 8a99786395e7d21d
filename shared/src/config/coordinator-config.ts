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
    /** How often each side sends a heartbeat; a site silent for 4 intervals is disconnected. @default 5000 ms */
    heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000 }),
  },
  strict,
);

export type CoordinatorConfig = Static<typeof CoordinatorConfigSchema>;
