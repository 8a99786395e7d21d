import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RequestPayload,
} from 'fastify';
import type { OperatorAccessRole } from '../../../shared/src/config/consortium-config.js';
import { validateConfig } from '../../../shared/src/config/validate.js';
import { ApiError } from '../../../shared/src/errors.js';
import { StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import type { CoordinatorEvent } from '../rounds/events.js';
import type { PhaseTiming, RoundRecord, RoundSiteRecord, StudyRecord } from '../store/coordinator-store.js';
import { Readable } from 'node:stream';
import { AuditKind } from '../../../shared/src/audit/index.js';
import type { AuditFilter } from '../audit/audit-ledger.js';
import { type ApiPrincipal, authorizeSite } from './auth.js';
import { storePrivacyBudgets } from './privacy.js';
import * as S from './schemas.js';
import type { RestServerOptions } from './server.js';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;
type Guard = (
  roles: readonly OperatorAccessRole[],
  action: string,
) => (req: FastifyRequest, reply: FastifyReply, payload: RequestPayload, done: (err: Error | null, payload?: RequestPayload) => void) => void;

const ALL: readonly OperatorAccessRole[] = ['operator', 'compliance', 'site-admin'];
const READERS: readonly OperatorAccessRole[] = ['operator', 'compliance'];
const OPERATOR: readonly OperatorAccessRole[] = ['operator'];

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined): string | null => (ms == null ? null : iso(ms));
const errors = { 401: S.ErrorBody, 403: S.ErrorBody };

function principalOf(req: FastifyRequest): ApiPrincipal {
  if (!req.principal) throw new Error('route without guard');
  return req.principal;
}

export function studyView(s: StudyRecord, running: boolean) {
  return {
    id: s.id,
    name: s.spec.name,
    status: s.status,
    running,
    completedRounds: s.completedRounds,
    rounds: s.spec.rounds,
    currentModel: s.currentModel,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
    reason: s.reason,
    spec: s.spec as unknown as Record<string, unknown>,
  };
}

function phaseView(t: PhaseTiming) {
  return { startedAt: iso(t.startedAt), endedAt: isoOrNull(t.endedAt), durationMs: t.endedAt === undefined ? null : t.endedAt - t.startedAt };
}

function roundView(r: RoundRecord) {
  return {
    round: r.round,
    attempt: r.attempt,
    status: r.status,
    modelIn: r.modelIn,
    modelOut: r.modelOut,
    startedAt: iso(r.startedAt),
    endedAt: isoOrNull(r.endedAt),
    durationMs: r.endedAt === null ? null : r.endedAt - r.startedAt,
    phases: Object.fromEntries(Object.entries(r.phases).map(([k, v]) => [k, phaseView(v)])),
    metrics: r.metrics,
    trainMetrics: r.trainMetrics,
    reason: r.reason,
  };
}

function siteRoundView(s: RoundSiteRecord) {
  return {
    round: s.round,
    attempt: s.attempt,
    siteId: s.siteId,
    phase: s.phase,
    outcome: s.outcome,
    numExamples: s.numExamples,
    loss: s.loss,
    accuracy: s.accuracy,
    updateSha256: s.updateSha256,
    updateBytes: s.updateBytes,
    durationMs: s.durationMs,
    reason: s.reason,
  };
}

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ApiError('TESSERA_API_INVALID_REQUEST', `querystring/${name} is not an ISO-8601 time`);
  return t;
}

/** Site ids an event concerns; a site-admin's event stream shows only events about its own site or none in particular. */
function eventSite(e: CoordinatorEvent): string | undefined {
  return e.type === 'site-finished' ? e.siteId : undefined;
}

export function registerRoutes(app: App, options: RestServerOptions & { guard: Guard }): void {
  const { coordinator, guard } = options;
  const store = coordinator.store;
  const privacy = options.privacy ?? storePrivacyBudgets(store, options.audit ?? coordinator.audit);
  const now = options.now ?? Date.now;

  const requireStudy = async (id: string): Promise<StudyRecord> => {
    const s = await store.getStudy(id);
    if (!s) throw new ApiError('TESSERA_API_NOT_FOUND', `no study ${id}`, { studyId: id });
    return s;
  };
  const audit = options.audit ?? coordinator.audit;

  app.get(
    '/api/v1/whoami',
    {
      preParsing: guard(ALL, 'identify'),
      schema: { tags: ['auth'], description: 'Sign-in: who the token belongs to. Each call is recorded in the audit ledger as a login.', querystring: S.NoQuery, response: { 200: S.WhoAmI, ...errors } },
    },
    async (req) => {
      const p = principalOf(req);
      await audit.append({
        actor: `operator:${p.id}`,
        kind: AuditKind.LoginSucceeded,
        ...(p.site !== undefined ? { siteId: p.site } : {}),
        details: { role: p.role, via: 'rest' },
      });
      return { id: p.id, role: p.role, site: p.site ?? null };
    },
  );

  // ---- studies -------------------------------------------------------------------------------------------------
  app.get(
    '/api/v1/studies',
    { preParsing: guard(ALL, 'list studies'), schema: { tags: ['studies'], querystring: S.NoQuery, response: { 200: Type.Array(S.StudyView), ...errors } } },
    async () => (await store.listStudies()).map((s) => studyView(s, coordinator.isRunning(s.id))),
  );

  app.post(
    '/api/v1/studies',
    {
      preParsing: guard(OPERATOR, 'create studies'),
      schema: {
        tags: ['studies'],
        description: 'Creates a study from a study file (JSON of study.yaml). Idempotent for the same id and contract; 409 for the same id with a different one.',
        body: StudySpecSchema,
        response: { 201: S.StudyView, ...errors, 400: S.ErrorBody, 409: S.ErrorBody },
      },
    },
    async (req, reply) => {
      // The coordinator resolves the contract (DP noise calibrated off-thread) and makes the one "already exists"
      // check: a different contract under the same id throws ConflictError, answered 409 TESSERA_API_CONFLICT.
      const created = await coordinator.createStudy(validateConfig(StudySpecSchema, req.body, 'request body'));
      req.log.info({ studyId: created.id, operator: principalOf(req).id }, 'study created over REST');
      return reply.code(201).send(studyView(created, coordinator.isRunning(created.id)));
    },
  );

  app.get(
    '/api/v1/studies/:studyId',
    { preParsing: guard(ALL, 'read study contracts'), schema: { tags: ['studies'], params: S.StudyParams, querystring: S.NoQuery, response: { 200: S.StudyView, ...errors, 404: S.ErrorBody } } },
    async (req) => studyView(await requireStudy(req.params.studyId), coordinator.isRunning(req.params.studyId)),
  );

  app.post(
    '/api/v1/studies/:studyId/:action',
    {
      preParsing: guard(OPERATOR, 'run studies'),
      schema: {
        tags: ['studies'],
        description:
          'start | resume: runs the study in the background (202). pause | abort: stops it at the next safe point (immediately while waiting for sites, else when the round in flight ends); poll the study for the final status.',
        params: S.StudyActionParams,
        querystring: S.NoQuery,
        response: { 202: S.StudyView, ...errors, 404: S.ErrorBody, 409: S.ErrorBody },
      },
    },
    async (req, reply) => {
      const { studyId, action } = req.params;
      const study = await requireStudy(studyId);
      // Who asked, before the coordinator acts: the run itself records its status changes as the coordinator.
      await audit.append({ actor: `operator:${principalOf(req).id}`, kind: AuditKind.StudyStatus, studyId, details: { requested: action, statusBefore: study.status } });
      if (action === 'start' || action === 'resume') {
        if (action === 'resume' && study.status !== 'paused') {
          throw new ApiError('TESSERA_API_CONFLICT', `study ${studyId} is ${study.status}, not paused`, { studyId });
        }
        await coordinator.startStudy(studyId);
      } else {
        await coordinator.stopStudy(studyId, action);
      }
      req.log.info({ studyId, action, operator: principalOf(req).id }, 'study action over REST');
      return reply.code(202).send(studyView(await requireStudy(studyId), coordinator.isRunning(studyId)));
    },
  );

  // ---- rounds and metrics ----------------------------------------------------------------------------------------
  app.get(
    '/api/v1/studies/:studyId/rounds',
    {
      preParsing: guard(READERS, 'read rounds'),
      schema: { tags: ['rounds'], description: 'Every round attempt with its per-phase timings.', params: S.StudyParams, querystring: S.NoQuery, response: { 200: Type.Array(S.RoundView), ...errors, 404: S.ErrorBody } },
    },
    async (req) => {
      await requireStudy(req.params.studyId);
      return (await store.listRounds(req.params.studyId)).map(roundView);
    },
  );

  const roundMetrics = async (studyId: string, siteId?: string) => {
    const rounds = (await store.listRounds(studyId)).filter((r) => r.status === 'committed');
    const out = [];
    for (const r of rounds) {
      const sites = (await store.listRoundSites(studyId, r.round, r.attempt)).filter((s) => siteId === undefined || s.siteId === siteId);
      out.push({ round: r.round, attempt: r.attempt, eval: r.metrics, train: r.trainMetrics, sites: sites.map(siteRoundView) });
    }
    return out;
  };

  app.get(
    '/api/v1/studies/:studyId/metrics',
    {
      preParsing: guard(READERS, 'read study metrics'),
      schema: { tags: ['rounds'], description: 'Per committed round: federated evaluation, training metrics and each site’s outcome.', params: S.StudyParams, querystring: S.NoQuery, response: { 200: Type.Array(S.RoundMetricsView), ...errors, 404: S.ErrorBody } },
    },
    async (req) => {
      await requireStudy(req.params.studyId);
      return roundMetrics(req.params.studyId);
    },
  );

  app.get(
    '/api/v1/studies/:studyId/sites/:siteId/metrics',
    {
      preParsing: guard(ALL, 'read site metrics'),
      schema: { tags: ['rounds'], description: 'Per committed round, one site’s rows (site-admins: their own site only).', params: S.StudySiteParams, querystring: S.NoQuery, response: { 200: Type.Array(S.RoundMetricsView), ...errors, 404: S.ErrorBody } },
    },
    async (req) => {
      authorizeSite(principalOf(req), req.params.siteId);
      await requireStudy(req.params.studyId);
      return roundMetrics(req.params.studyId, req.params.siteId);
    },
  );

  // ---- model versions ----------------------------------------------------------------------------------------------
  app.get(
    '/api/v1/studies/:studyId/models',
    { preParsing: guard(READERS, 'read the model lineage'), schema: { tags: ['models'], params: S.StudyParams, querystring: S.NoQuery, response: { 200: Type.Array(S.ModelVersionView), ...errors, 404: S.ErrorBody } } },
    async (req) => {
      await requireStudy(req.params.studyId);
      return (await store.listModelVersions(req.params.studyId)).map((m) => ({
        sha256: m.sha256,
        round: m.round,
        numParams: m.numParams,
        bytes: m.numParams * 4,
        createdAt: iso(m.createdAt),
        download: `/api/v1/studies/${req.params.studyId}/models/${m.sha256}`,
      }));
    },
  );

  app.get(
    '/api/v1/studies/:studyId/models/:sha256',
    {
      preParsing: guard(OPERATOR, 'download models'),
      schema: {
        tags: ['models'],
        description: 'The model version’s float32 little-endian weights; `x-tessera-sha256` and `digest` carry its SHA-256 (checked on read).',
        params: S.ModelParams,
        querystring: S.NoQuery,
      },
    },
    async (req, reply) => {
      const { studyId, sha256 } = req.params;
      const version = await store.getModelVersion(sha256);
      if (version?.studyId !== studyId) throw new ApiError('TESSERA_API_NOT_FOUND', `study ${studyId} has no model version ${sha256}`, { studyId });
      const bytes = await coordinator.models.get(sha256);
      req.log.info({ studyId, sha256, operator: principalOf(req).id }, 'model downloaded over REST');
      return reply
        .type('application/octet-stream')
        .header('x-tessera-sha256', sha256)
        .header('digest', `sha-256=${Buffer.from(sha256, 'hex').toString('base64')}`)
        .header('content-disposition', `attachment; filename="${studyId}-r${version.round}-${sha256.slice(0, 12)}.f32"`)
        .send(bytes);
    },
  );

  // ---- sites --------------------------------------------------------------------------------------------------------
  const siteView = (s: Awaited<ReturnType<typeof store.listSites>>[number]) => {
    const live = coordinator.liveSession(s.id);
    return {
      id: s.id,
      connected: live !== undefined,
      firstSeen: iso(s.firstSeen),
      lastSeen: iso(live?.lastSeen ?? s.lastSeen),
      backend: s.backend,
      agentVersion: s.agentVersion,
      certSerial: s.certSerial,
      certNotAfter: iso(s.certNotAfter),
      certDaysLeft: Math.floor((s.certNotAfter - now()) / 86_400_000),
    };
  };
  app.get(
    '/api/v1/sites',
    { preParsing: guard(ALL, 'list sites'), schema: { tags: ['sites'], description: 'Site-admins see only their own site.', querystring: S.NoQuery, response: { 200: Type.Array(S.SiteView), ...errors } } },
    async (req) => {
      const p = principalOf(req);
      return (await store.listSites()).filter((s) => p.role !== 'site-admin' || s.id === p.site).map(siteView);
    },
  );
  app.get(
    '/api/v1/sites/:siteId',
    { preParsing: guard(ALL, 'read sites'), schema: { tags: ['sites'], params: S.SiteParams, querystring: S.NoQuery, response: { 200: S.SiteView, ...errors, 404: S.ErrorBody } } },
    async (req) => {
      authorizeSite(principalOf(req), req.params.siteId);
      const site = (await store.listSites()).find((s) => s.id === req.params.siteId);
      if (!site) throw new ApiError('TESSERA_API_NOT_FOUND', `no site ${req.params.siteId} has connected yet`);
      return siteView(site);
    },
  );

  // ---- privacy budgets -------------------------------------------------------------------------------------------
  app.get(
    '/api/v1/privacy-budgets',
    {
      preParsing: guard(ALL, 'read privacy budgets'),
      schema: { tags: ['privacy'], description: 'Per site and study: participation, and ε spent / budget / δ when the study uses DP (`dp: null` otherwise). Site-admins: their own site.', querystring: S.BudgetQuery, response: { 200: Type.Array(S.PrivacyBudgetView), ...errors } },
    },
    async (req) => {
      const p = principalOf(req);
      if (req.query.site !== undefined) authorizeSite(p, req.query.site);
      const siteId = p.role === 'site-admin' ? p.site : req.query.site;
      return privacy.list({ ...(req.query.study !== undefined ? { studyId: req.query.study } : {}), ...(siteId !== undefined ? { siteId } : {}) });
    },
  );

  // ---- audit ---------------------------------------------------------------------------------------------------------
  const filterOf = (q: { study?: string; site?: string; actor?: string; kind?: string; since?: string; until?: string }): AuditFilter => {
    const fromMs = parseTime(q.since, 'since');
    const toMs = parseTime(q.until, 'until');
    return {
      ...(q.study !== undefined ? { studyId: q.study } : {}),
      ...(q.site !== undefined ? { siteId: q.site } : {}),
      ...(q.actor !== undefined ? { actor: q.actor } : {}),
      ...(q.kind !== undefined ? { kind: q.kind } : {}),
      ...(fromMs !== undefined ? { fromMs } : {}),
      ...(toMs !== undefined ? { toMs } : {}),
    };
  };
  app.get(
    '/api/v1/audit',
    {
      preParsing: guard(READERS, 'read the audit ledger'),
      schema: {
        tags: ['audit'],
        description:
          'Ledger entries exactly as sealed (hash, prev, signature), oldest first, filtered by study, site, actor, kind and time; page with `after` = the previous page’s `nextAfterSeq`.',
        querystring: S.AuditQuery,
        response: { 200: S.AuditPageView, ...errors },
      },
    },
    async (req) => {
      const page = await audit.list(filterOf(req.query), { afterSeq: req.query.after ?? 0, limit: req.query.limit ?? 100 });
      return page as unknown as { entries: Record<string, unknown>[]; nextAfterSeq: number | null };
    },
  );
  app.get(
    '/api/v1/audit/export',
    {
      preParsing: guard(READERS, 'export the audit ledger'),
      schema: {
        tags: ['audit'],
        description:
          'format=jsonl without filters: the whole chain with its header and a signed head, exactly what `tessera audit export` writes (check it offline with `tessera audit verify`). With filters: a selection whose header says so. format=csv: the matching entries as CSV.',
        querystring: S.AuditExportQuery,
      },
    },
    (req, reply) => {
      const { format, ...rest } = req.query;
      const filter = filterOf(rest);
      const filtered = Object.keys(filter).length > 0;
      req.log.info({ operator: principalOf(req).id, format, filtered }, 'audit ledger exported over REST');
      const lines = format === 'csv' ? audit.exportCsv(filter) : audit.exportJsonl(filtered ? filter : undefined);
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="audit.${format}"`)
        .send(Readable.from(lines));
    },
  );
  app.get(
    '/api/v1/audit/verify',
    {
      preParsing: guard(READERS, 'verify the audit ledger'),
      schema: {
        tags: ['audit'],
        description: 'Re-checks the whole stored chain now: every hash link and every signature, against the consortium CA.',
        querystring: S.NoQuery,
        response: { 200: S.AuditVerificationView, ...errors },
      },
    },
    async () => {
      const v = await audit.verify();
      return {
        ok: v.ok,
        ledger: v.ledger,
        entries: v.entries,
        head: v.head,
        anchored: v.anchored,
        complete: v.complete,
        firstBad: v.firstBad ? { seq: v.firstBad.seq, problem: v.firstBad.problem, message: v.firstBad.message } : null,
        checkedAt: iso(now()),
      };
    },
  );

  // ---- live events (server-sent events) ----------------------------------------------------------------------------
  const streams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of streams) end();
    done();
  });
  app.get(
    '/api/v1/events',
    { preParsing: guard(ALL, 'watch events'), schema: { tags: ['events'], description: 'text/event-stream of coordinator events (round progress). Site-admins see events about their own site or about no site in particular.', querystring: S.NoQuery } },
    (req, reply) => {
      const p = principalOf(req);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      raw.write(': tessera events\n\n');
      const unsubscribe = coordinator.subscribe((e) => {
        const site = eventSite(e);
        if (p.role === 'site-admin' && site !== undefined && site !== p.site) return;
        raw.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      });
      const ping = setInterval(() => raw.write(': ping\n\n'), 15_000);
      const end = (): void => {
        clearInterval(ping);
        unsubscribe();
        streams.delete(end);
        if (!raw.writableEnded) raw.end();
      };
      streams.add(end);
      req.raw.on('close', end);
    },
  );
}
