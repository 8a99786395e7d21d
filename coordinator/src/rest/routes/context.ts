import type { FastifyPluginCallbackTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
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
import type { OperatorAccessRole } from '../../../../shared/src/config/consortium-config.js';
import { ApiError } from '../../../../shared/src/errors.js';
import type { AuditLedger } from '../../audit/audit-ledger.js';
import type { Coordinator } from '../../coordinator.js';
import type { CoordinatorStore, StudyRecord } from '../../store/coordinator-store.js';
import type { ApiPrincipal } from '../auth.js';
import type { PrivacyBudgetSource } from '../privacy.js';
import * as S from '../schemas.js';

/** The Fastify instance the routes are registered on: TypeBox schemas give the handlers their types. */
export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** A preParsing hook that authenticates the caller and checks its role (built by the server, see `buildRestServer`). */
export type Guard = (
  roles: readonly OperatorAccessRole[],
  action: string,
) => (req: FastifyRequest, reply: FastifyReply, payload: RequestPayload, done: (err: Error | null, payload?: RequestPayload) => void) => void;

/** What every resource plugin is given: the coordinator it serves and the server's guard. */
export interface RouteContext {
  readonly coordinator: Coordinator;
  readonly store: CoordinatorStore;
  /** The ledger the audit routes serve and requests append to. */
  readonly audit: AuditLedger;
  readonly privacy: PrivacyBudgetSource;
  readonly guard: Guard;
  readonly now: () => number;
}

/** One REST resource: a Fastify plugin taking the shared {@link RouteContext}. */
export type ResourcePlugin = FastifyPluginCallbackTypebox<{ ctx: RouteContext }>;

export const ALL: readonly OperatorAccessRole[] = ['operator', 'compliance', 'site-admin'];
export const READERS: readonly OperatorAccessRole[] = ['operator', 'compliance'];
export const OPERATOR: readonly OperatorAccessRole[] = ['operator'];

/** The refusals every guarded route can answer. */
export const guardErrors = { 401: S.ErrorBody, 403: S.ErrorBody };

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null | undefined): string | null => (ms == null ? null : iso(ms));

/** The caller a guard established; a route without a guard is a programming error. */
export function principalOf(req: FastifyRequest): ApiPrincipal {
  if (!req.principal) throw new Error('route without guard');
  return req.principal;
}

/** The study, or a 404 naming it. */
export async function requireStudy(store: CoordinatorStore, id: string): Promise<StudyRecord> {
  const s = await store.getStudy(id);
  if (!s) throw new ApiError('TESSERA_API_NOT_FOUND', `no study ${id}`, { studyId: id });
  return s;
}

/** An optional ISO-8601 query parameter as epoch ms; a 400 naming the parameter when it does not parse. */
export function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ApiError('TESSERA_API_INVALID_REQUEST', `querystring/${name} is not an ISO-8601 time`);
  return t;
}
