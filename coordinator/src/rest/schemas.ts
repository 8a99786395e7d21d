import { type TSchema, Type } from '@sinclair/typebox';

/**
 * TypeBox schemas of the REST API (the same library as the config files): request schemas refuse unknown fields
 * (`additionalProperties: false`), response schemas document the shape in the OpenAPI document.
 */
const strict = { additionalProperties: false } as const;
const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorBody = Type.Object(
  { code: Type.String({ description: 'Stable TESSERA_* error code (docs/errors.md)' }), message: Type.String() },
  { $id: 'Error' },
);

export const StudyParams = Type.Object({ studyId: Id }, strict);
export const SiteParams = Type.Object({ siteId: Id }, strict);
export const StudySiteParams = Type.Object({ studyId: Id, siteId: Id }, strict);
export const ModelParams = Type.Object({ studyId: Id, sha256: Sha256 }, strict);
export const NoQuery = Type.Object({}, strict);

export const StudyAction = Type.Union([Type.Literal('start'), Type.Literal('pause'), Type.Literal('resume'), Type.Literal('abort')]);
export const StudyActionParams = Type.Object({ studyId: Id, action: StudyAction }, strict);

const Metrics = Nullable(Type.Object({ loss: Type.Number(), accuracy: Type.Number(), numExamples: Type.Number() }));

export const StudyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.String({ description: 'created | running | paused | completed | failed | aborted' }),
  running: Type.Boolean({ description: 'a runner is active in this coordinator process' }),
  completedRounds: Type.Integer(),
  rounds: Type.Integer(),
  currentModel: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  reason: Nullable(Type.String()),
  /** The study contract as created (the study file after defaults). */
  spec: Type.Record(Type.String(), Type.Unknown()),
});

export const PhaseView = Type.Object({
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Nullable(Type.String({ format: 'date-time' })),
  durationMs: Nullable(Type.Number()),
});

export const RoundView = Type.Object({
  round: Type.Integer(),
  attempt: Type.Integer(),
  status: Type.String(),
  modelIn: Type.String(),
  modelOut: Nullable(Type.String()),
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Nullable(Type.String({ format: 'date-time' })),
  durationMs: Nullable(Type.Number()),
  phases: Type.Record(Type.String(), PhaseView),
  metrics: Metrics,
  trainMetrics: Metrics,
  reason: Nullable(Type.String()),
});

export const SiteRoundView = Type.Object({
  round: Type.Integer(),
  attempt: Type.Integer(),
  siteId: Type.String(),
  phase: Type.String(),
  outcome: Type.String(),
  numExamples: Type.Integer(),
  loss: Nullable(Type.Number()),
  accuracy: Nullable(Type.Number()),
  updateSha256: Nullable(Type.String()),
  updateBytes: Nullable(Type.Number()),
  durationMs: Nullable(Type.Number()),
  reason: Nullable(Type.String()),
});

export const RoundMetricsView = Type.Object({
  round: Type.Integer(),
  attempt: Type.Integer(),
  eval: Metrics,
  train: Metrics,
  sites: Type.Array(SiteRoundView),
});

export const SiteView = Type.Object({
  id: Type.String(),
  connected: Type.Boolean(),
  firstSeen: Type.String({ format: 'date-time' }),
  lastSeen: Type.String({ format: 'date-time' }),
  backend: Type.String(),
  agentVersion: Type.String(),
  certSerial: Type.String(),
  certNotAfter: Type.String({ format: 'date-time' }),
  certDaysLeft: Type.Number(),
});

export const ModelVersionView = Type.Object({
  sha256: Type.String(),
  round: Type.Integer(),
  numParams: Type.Integer(),
  bytes: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  download: Type.String({ description: 'path of the download route' }),
});

export const RollbackBody = Type.Object(
  { version: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'the committed model version (sha256) to roll back to; default the newest one that reads back intact' })) },
  strict,
);

export const RollbackView = Type.Object({
  study: StudyView,
  model: ModelVersionView,
  rolledBackFrom: Type.String({ description: 'sha256 of the version the study pointed at before' }),
});

export const PrivacyBudgetView = Type.Object({
  studyId: Type.String(),
  siteId: Type.String(),
  roundsParticipated: Type.Integer(),
  /** Filled by the differential-privacy accountant when a study runs with DP; null otherwise. */
  dp: Nullable(
    Type.Object({
      mechanism: Type.String(),
      epsilonSpent: Type.Number(),
      epsilonBudget: Nullable(Type.Number()),
      delta: Type.Number(),
    }),
  ),
});

const AuditFilterFields = {
  study: Type.Optional(Id),
  site: Type.Optional(Id),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'exact actor, e.g. operator:alice, site:site-1' })),
  kind: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)+$', description: 'exact kind, e.g. study.created' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'ISO-8601, inclusive' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'ISO-8601, exclusive' })),
};

export const AuditQuery = Type.Object(
  {
    ...AuditFilterFields,
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'return entries with seq greater than this' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  strict,
);

export const AuditExportQuery = Type.Object(
  { format: Type.Union([Type.Literal('jsonl'), Type.Literal('csv')], { default: 'jsonl' }), ...AuditFilterFields },
  strict,
);

export const AuditPageView = Type.Object({
  entries: Type.Array(Type.Record(Type.String(), Type.Unknown(), { description: 'a sealed ledger entry: v, seq, at, actor, kind, studyId?, siteId?, round?, details, prev, hash, signer, sig' })),
  nextAfterSeq: Nullable(Type.Integer()),
});

export const AuditVerificationView = Type.Object({
  ok: Type.Boolean(),
  ledger: Nullable(Type.String()),
  entries: Type.Integer({ description: 'entries found good before the first fault (all when ok)' }),
  head: Nullable(Type.Object({ seq: Type.Integer(), hash: Type.String(), at: Type.String() })),
  anchored: Type.Boolean({ description: 'signers checked against the consortium CA' }),
  complete: Type.Boolean(),
  firstBad: Nullable(Type.Object({ seq: Nullable(Type.Integer()), problem: Type.String(), message: Type.String() })),
  checkedAt: Type.String({ format: 'date-time' }),
});

export const BudgetQuery = Type.Object({ study: Type.Optional(Id), site: Type.Optional(Id) }, strict);

export const WhoAmI = Type.Object({ id: Type.String(), role: Type.String(), site: Nullable(Type.String()) });
