import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { repoRoot } from '../../../shared/src/paths.js';

const require = createRequire(import.meta.url);

/** Static assets of the dashboard: our HTML/JS/CSS plus uPlot's dist files from node_modules (no CDN). */
function assets(): Map<string, { type: string; body: Buffer }> {
  const dir = path.join(repoRoot(), 'coordinator', 'dashboard');
  const own = (file: string, type: string) => ({ type, body: readFileSync(path.join(dir, file)) });
  return new Map([
    ['/', own('index.html', 'text/html; charset=utf-8')],
    ['/dashboard/app.js', own('app.js', 'text/javascript; charset=utf-8')],
    ['/dashboard/style.css', own('style.css', 'text/css; charset=utf-8')],
    ['/dashboard/vendor/uPlot.iife.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) }],
    ['/dashboard/vendor/uPlot.min.css', { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) }],
  ]);
}

/**
 * The dashboard: static files only, no data. Everything it shows comes from the REST API with the bearer token
 * the user signs in with (kept in sessionStorage). A strict CSP allows scripts, styles and connections to this
 * origin only.
 */
export function registerDashboard(app: FastifyInstance): void {
  const files = assets();
  for (const [url, file] of files) {
    app.get(url, { schema: { hide: true } }, (_req, reply) =>
      reply
        .type(file.type)
        .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(file.body),
    );
  }
}
