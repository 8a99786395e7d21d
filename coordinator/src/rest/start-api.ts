import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { CoordinatorConfig } from '../../../shared/src/config/coordinator-config.js';
import { ConfigError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import type { Coordinator } from '../coordinator.js';
import { TokenAuthenticator } from './auth.js';
import { dpPrivacyBudgets } from './privacy.js';
import { type RunningRestServer, startRestServer } from './server.js';

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Starts the REST API and dashboard for a coordinator from its config's `api` section; `port` overrides the
 * configured port (and enables the API with defaults when the config has no `api` section: tokens from
 * `operators.json` beside `tls.ca`, loopback, plain HTTP). Refuses a non-loopback address without `tls: true`.
 */
export async function startCoordinatorApi(a: {
  coordinator: Coordinator;
  config: CoordinatorConfig;
  baseDir: string;
  logger: Logger;
  port?: number;
}): Promise<RunningRestServer> {
  const resolve = (p: string): string => path.resolve(a.baseDir, p);
  const api = a.config.api ?? {
    host: '127.0.0.1',
    port: 7480,
    tokens: path.join(path.dirname(a.config.tls.ca), 'operators.json'),
    tls: false,
    rateLimit: { max: 600, windowMs: 60_000 },
  };
  if (!api.tls && !isLoopback(api.host)) {
    throw new ConfigError(`api.host ${api.host} is not a loopback address; set api.tls: true so bearer tokens never cross a network in clear`, {
      path: '/api/host',
    });
  }
  const tokens = TokenAuthenticator.fromFile(resolve(api.tokens), a.coordinator.revocationStore);
  return startRestServer({
    coordinator: a.coordinator,
    tokens,
    logger: a.logger,
    rateLimit: api.rateLimit,
    host: api.host,
    port: a.port ?? api.port,
    ...(api.tls ? { https: { key: readFileSync(resolve(a.config.tls.key)), cert: readFileSync(resolve(a.config.tls.cert)) } } : {}),
    privacy: dpPrivacyBudgets({ store: a.coordinator.store, ledger: a.coordinator.audit, subscribe: (l) => a.coordinator.subscribe(l) }),
  });
}
