import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController, type RequestPayload } from 'fastify';
import type { OperatorAccessRole } from '../../../shared/src/config/consortium-config.js';
import { ApiError, ConfigError, IllegalStateError, TesseraError } from '../../../shared/src/errors.js';
import { ConflictError } from '../errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import type { Coordinator } from '../coordinator.js';
import type { AuditLedger } from '../audit/audit-ledger.js';
import { runAsAuditActor } from '../audit/audit-actor.js';
import { RefusalAggregator } from '../audit/refusal-aggregator.js';
import { AuditKind } from '../../../shared/src/audit/index.js';
import type { ApiPrincipal, TokenAuthenticator } from './auth.js';
import { registerDashboard } from './dashboard.js';
import { storePrivacyBudgets, type PrivacyBudgetSource } from './privacy.js';
import { type App, registerRoutes } from './routes/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: ApiPrincipal | null;
  }
}

/** Options for {@link buildRestServer}. */
export interface RestServerOptions {
  coordinator: Coordinator;
  tokens: TokenAuthenticator;
  logger: Logger;
  /** @default { max: 600, windowMs: 60000 } per credential (or per address before authentication) */
  rateLimit?: { max: number; windowMs: number };
  /** The ledger the audit routes serve. @default the coordinator's */
  audit?: AuditLedger;
  privacy?: PrivacyBudgetSource;
  /** Serve HTTPS with this key and certificate. */
  https?: { key: Buffer; cert: Buffer };
  now?: () => number;
}

export type RestApp = App;

/** Error codes of the REST API, with their HTTP status. */
export const API_ERROR_STATUS: Readonly<Record<string, number>> = {
  TESSERA_API_UNAUTHENTICATED: 401,
  TESSERA_API_FORBIDDEN: 403,
  TESSERA_API_NOT_FOUND: 404,
  TESSERA_API_INVALID_REQUEST: 400,
  TESSERA_API_CONFLICT: 409,
  TESSERA_API_RATE_LIMITED: 429,
  TESSERA_API_UNAVAILABLE: 503,
};

/** Deepest JSON nesting a request body may have: a study file nests about 5 levels. */
export const MAX_JSON_DEPTH = 64;

/** Whether `text` nests arrays/objects deeper than `max` (brackets inside strings do not count); one pass, no recursion. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Fastify validator on TypeBox (the config files' schema library): query strings and params are converted
 * (`"5"` → 5), defaults are filled, and anything the schema does not declare is refused, never silently dropped.
 */
function typeboxValidator({ schema, httpPart }: { schema: unknown; httpPart?: string }) {
  const s = schema as TSchema;
  const check = TypeCompiler.Compile(s);
  return (input: unknown) => {
    const converted: unknown = httpPart === 'body' ? input : Value.Convert(s, input);
    const value: unknown = Value.Default(s, Value.Clone(converted));
    if (check.Check(value)) return { value };
    const errors = [...check.Errors(value)].slice(0, 5).map((e) => ({
      keyword: 'typebox',
      schemaPath: '',
      params: {},
      instancePath: e.path,
      message: e.type === ValueErrorType.ObjectAdditionalProperties ? 'is not a known field' : e.message.toLowerCase(),
    }));
    return { error: errors };
  };
}

/**
 * Rate-limit bucket: the operator for a valid token (one operator cannot starve another behind a shared proxy),
 * the client address for anything else, so guessing tokens does not get a fresh bucket per guess.
 */
function rateKey(tokens: TokenAuthenticator): (req: FastifyRequest) => string {
  return (req) => {
    try {
      return `op:${tokens.authenticate(req.headers.authorization).id}`;
    } catch {
      return `ip:${req.ip}`;
    }
  };
}

/**
 * Builds the REST API, the OpenAPI document (`/docs/json`), the browsable docs (`/docs`), Prometheus
 * `/metrics` and the dashboard (`/`). Call `listen` yourself, or use {@link startRestServer}.
 */
export async function buildRestServer(options: RestServerOptions): Promise<RestApp> {
  const { coordinator, tokens, logger } = options;
  const base = Fastify({
    loggerInstance: logger.child({ component: 'rest' }),
    // One debug line per request from our onResponse hook instead of fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    ...(options.https ? { https: options.https } : {}),
    ajv: { customOptions: { removeAdditional: false } },
  }) as unknown as FastifyInstance;
  const app: App = base.withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(typeboxValidator);
  app.decorateRequest('principal', null);

  await app.register(fastifyRateLimit, {
    global: true,
    max: options.rateLimit?.max ?? 600,
    timeWindow: options.rateLimit?.windowMs ?? 60_000,
    keyGenerator: rateKey(tokens),
    errorResponseBuilder: (_req, ctx) => {
      // ctx.after is the time left until the window resets, not the window itself.
      const windowS = Math.round((options.rateLimit?.windowMs ?? 60_000) / 1000);
      const err = new ApiError('TESSERA_API_RATE_LIMITED', `rate limit exceeded: at most ${ctx.max} requests per ${windowS} s; retry in ${Math.max(1, Math.ceil(ctx.ttl / 1000))} s`);
      (err as ApiError & { statusCode: number }).statusCode = 429;
      return err;
    },
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tessera coordinator REST API',
        description:
          'Operators create and run studies; compliance officers read audit entries, privacy budgets and study contracts; site admins see their own site. Authenticate with the bearer token `tessera provision` wrote to operators/<id>/token.',
        version: '1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });

  // Bodies nested deeper than MAX_JSON_DEPTH are refused before parsing (a 400, not a stack overflow in a
  // validator or clone later on); everything else goes to fastify's own JSON parser (prototype poisoning refused).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      done(new ApiError('TESSERA_API_INVALID_REQUEST', `request body nests JSON deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    void parseJson(req, text, done);
  });
  // Refusals reach the signed ledger aggregated per address, identity and code: a flood of bad tokens costs
  // a bounded number of entries per minute (RefusalAggregator), never one each.
  const ledger = options.audit ?? coordinator.audit;
  const refusals = new RefusalAggregator(
    (input) => void ledger.append(input).catch((e: unknown) => logger.error({ err: (e as Error).message }, 'audit entry not written')),
    options.now ? { now: options.now } : {},
  );
  app.addHook('onClose', (_instance, done) => {
    refusals.close();
    done();
  });
  app.setErrorHandler((err: unknown, req, reply) => sendError(err, req, reply, options, refusals));
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ code: 'TESSERA_API_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` });
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    coordinator.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    req.log.debug({ method: req.method, route, status: reply.statusCode, operator: req.principal?.id }, 'request');
    done();
  });

  // Audit entries appended while a request is handled (study created, status changes) name its operator.
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.principal) runAsAuditActor(`operator:${req.principal.id}`, () => done());
    else done();
  });

  /**
   * preParsing guard: authenticates, then checks the role. It runs after the rate limiter (onRequest), so floods of
   * bad tokens are limited too, and before the body is read, so an anonymous caller cannot make us parse JSON.
   */
  const guard =
    (roles: readonly OperatorAccessRole[], action: string) =>
    (req: FastifyRequest, _reply: FastifyReply, payload: RequestPayload, done: (err: Error | null, payload?: RequestPayload) => void): void => {
      try {
        const principal = tokens.authenticate(req.headers.authorization);
        req.principal = principal;
        if (!roles.includes(principal.role)) {
          throw new ApiError('TESSERA_API_FORBIDDEN', `role '${principal.role}' may not ${action}`, {
            operator: principal.id,
            role: principal.role,
          });
        }
        done(null, payload);
      } catch (err) {
        done(err as Error);
      }
    };

  app.get(
    '/metrics',
    { preParsing: guard(['operator', 'compliance'], 'read metrics'), schema: { hide: true, querystring: Type.Object({}, { additionalProperties: false }) } },
    async (_req, reply) => {
      const text = await coordinator.metrics.registry.metrics();
      return reply.type(coordinator.metrics.registry.contentType).send(text);
    },
  );
  const audit = options.audit ?? coordinator.audit;
  await registerRoutes(app, {
    coordinator,
    store: coordinator.store,
    audit,
    privacy: options.privacy ?? storePrivacyBudgets(coordinator.store, audit),
    guard,
    now: options.now ?? Date.now,
  });
  registerDashboard(base);
  return app;
}

function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply, options: RestServerOptions, refusals: RefusalAggregator): FastifyReply {
  const e = err as Error & { validation?: unknown; validationContext?: string; statusCode?: number; code?: string };
  if (e.validation !== undefined) {
    return reply.code(400).send({ code: 'TESSERA_API_INVALID_REQUEST', message: e.message });
  }
  if (err instanceof ApiError && (err.code === 'TESSERA_API_UNAUTHENTICATED' || err.code === 'TESSERA_API_FORBIDDEN')) {
    options.coordinator.metrics.refusals.inc({ source: 'rest', reason: err.code });
    req.log.warn({ code: err.code, route: req.routeOptions.url ?? 'unmatched', ip: req.ip, ...err.context }, 'REST request refused');
    if (err.code === 'TESSERA_API_UNAUTHENTICATED') void reply.header('www-authenticate', 'Bearer realm="tessera"');
    const operator = typeof err.context['operator'] === 'string' ? err.context['operator'] : undefined;
    const actor = operator !== undefined ? `operator:${operator}` : 'unauthenticated';
    refusals.record({
      source: 'rest',
      peer: `${req.ip}/${actor}`,
      code: err.code,
      entry: { actor, kind: AuditKind.LoginRefused, details: { code: err.code, method: req.method, route: req.routeOptions.url ?? 'unmatched', via: 'rest' } },
    });
    return reply.code(API_ERROR_STATUS[err.code] ?? 403).send({ code: err.code, message: err.message });
  }
  if (err instanceof TesseraError) {
    if (err.code === 'TESSERA_API_RATE_LIMITED') options.coordinator.metrics.refusals.inc({ source: 'rest', reason: err.code });
    const status =
      API_ERROR_STATUS[err.code] ??
      (err instanceof IllegalStateError || err instanceof ConflictError ? 409 : err instanceof ConfigError || err.code.startsWith('TESSERA_INPUT_') ? 400 : 500);
    if (status >= 500) req.log.error({ code: err.code, err: err.message }, 'REST request failed');
    return reply.code(status).send({ code: status === 409 ? 'TESSERA_API_CONFLICT' : err.code, message: err.message });
  }
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    // Fastify's own client errors (malformed JSON, body too large, wrong content type).
    return reply.code(e.statusCode).send({ code: 'TESSERA_API_INVALID_REQUEST', message: e.message });
  }
  req.log.error({ err: e.message }, 'REST request failed');
  return reply.code(500).send({ code: 'TESSERA_INTERNAL', message: 'internal error' });
}

/** A listening REST server. */
export interface RunningRestServer {
  readonly app: RestApp;
  /** Base URL, e.g. `http://127.0.0.1:7480`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Builds and listens; `port` 0 picks a free port. */
export async function startRestServer(options: RestServerOptions & { host: string; port: number }): Promise<RunningRestServer> {
  const app = await buildRestServer(options);
  await app.listen({ host: options.host, port: options.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${options.https ? 'https' : 'http'}://${host}:${port}`;
  return { app, url, port, close: () => app.close() };
}
