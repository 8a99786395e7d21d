import { Type } from '@sinclair/typebox';
import { ApiError } from '../../../../shared/src/errors.js';
import type { SiteRecord } from '../../store/coordinator-store.js';
import { authorizeSite } from '../auth.js';
import * as S from '../schemas.js';
import { ALL, guardErrors, iso, principalOf, type ResourcePlugin, type RouteContext } from './context.js';

function siteView(ctx: RouteContext, s: SiteRecord) {
  const live = ctx.coordinator.liveSession(s.id);
  return {
    id: s.id,
    connected: live !== undefined,
    firstSeen: iso(s.firstSeen),
    lastSeen: iso(live?.lastSeen ?? s.lastSeen),
    backend: s.backend,
    agentVersion: s.agentVersion,
    certSerial: s.certSerial,
    certNotAfter: iso(s.certNotAfter),
    certDaysLeft: Math.floor((s.certNotAfter - ctx.now()) / 86_400_000),
  };
}

/** Sites that have connected, with their certificate's remaining validity (site-admins: their own site). */
export const siteRoutes: ResourcePlugin = (app, { ctx }, done) => {
  const { store, guard } = ctx;
  app.get(
    '/api/v1/sites',
    { preParsing: guard(ALL, 'list sites'), schema: { tags: ['sites'], description: 'Site-admins see only their own site.', querystring: S.NoQuery, response: { 200: Type.Array(S.SiteView), ...guardErrors } } },
    async (req) => {
      const p = principalOf(req);
      return (await store.listSites()).filter((s) => p.role !== 'site-admin' || s.id === p.site).map((s) => siteView(ctx, s));
    },
  );
  app.get(
    '/api/v1/sites/:siteId',
    { preParsing: guard(ALL, 'read sites'), schema: { tags: ['sites'], params: S.SiteParams, querystring: S.NoQuery, response: { 200: S.SiteView, ...guardErrors, 404: S.ErrorBody } } },
    async (req) => {
      authorizeSite(principalOf(req), req.params.siteId);
      const site = (await store.listSites()).find((s) => s.id === req.params.siteId);
      if (!site) throw new ApiError('TESSERA_API_NOT_FOUND', `no site ${req.params.siteId} has connected yet`);
      return siteView(ctx, site);
    },
  );
  done();
};
