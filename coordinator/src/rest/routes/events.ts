import type { CoordinatorEvent } from '../../rounds/events.js';
import * as S from '../schemas.js';
import { ALL, principalOf, type ResourcePlugin } from './context.js';

/** Site ids an event concerns; a site-admin's event stream shows only events about its own site or none in particular. */
function eventSite(e: CoordinatorEvent): string | undefined {
  return e.type === 'site-finished' ? e.siteId : undefined;
}

/** Live coordinator events as server-sent events; every open stream ends when the server closes. */
export const eventRoutes: ResourcePlugin = (app, { ctx }, done) => {
  const streams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of streams) end();
    done();
  });
  app.get(
    '/api/v1/events',
    { preParsing: ctx.guard(ALL, 'watch events'), schema: { tags: ['events'], description: 'text/event-stream of coordinator events (round progress). Site-admins see events about their own site or about no site in particular.', querystring: S.NoQuery } },
    (req, reply) => {
      const p = principalOf(req);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      raw.write(': tessera events\n\n');
      const unsubscribe = ctx.coordinator.subscribe((e) => {
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
  done();
};
