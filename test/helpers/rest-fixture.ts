import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TokenAuthenticator } from '../../coordinator/src/rest/auth.js';
import { buildRestServer, type RestApp, type RestServerOptions } from '../../coordinator/src/rest/server.js';
import { type Federation, startFederation } from './federation-fixture.js';

/** The operators every REST test provisions: one per role, and a site-admin for each of two sites. */
export const REST_OPERATORS = [
  { id: 'olga', role: 'operator' as const },
  { id: 'cora', role: 'compliance' as const },
  { id: 'sam', role: 'site-admin' as const, site: 'site-1' },
];

export interface RestFederation extends Federation {
  app: RestApp;
  /** Bearer tokens by operator id, read from the provisioning output. */
  tokens: Record<string, string>;
  auth(id: string): { authorization: string };
}

/** A real federation (see startFederation) plus the REST API built on its coordinator, tokens from `tessera provision`. */
export async function startRestFederation(
  opts: Parameters<typeof startFederation>[0] & { rest?: Partial<Omit<RestServerOptions, 'coordinator' | 'tokens' | 'logger'>> },
): Promise<RestFederation> {
  const fed = await startFederation({ ...opts, operators: REST_OPERATORS });
  const tokens: Record<string, string> = {};
  for (const op of REST_OPERATORS) tokens[op.id] = readFileSync(path.join(fed.pkiDir, 'operators', op.id, 'token'), 'utf8').trim();
  const authenticator = TokenAuthenticator.fromFile(
    path.join(fed.pkiDir, 'coordinator', 'operators.json'),
    fed.coordinator.revocationStore,
  );
  const app = await buildRestServer({ coordinator: fed.coordinator, tokens: authenticator, logger: fed.logger, ...(opts.rest ?? {}) });
  const close = fed.close.bind(fed);
  return Object.assign(fed, {
    app,
    tokens,
    auth: (id: string) => ({ authorization: `Bearer ${tokens[id] ?? 'missing'}` }),
    async close() {
      await app.close();
      await close();
    },
  });
}
