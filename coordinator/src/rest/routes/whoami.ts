import { AuditKind } from '../../../../shared/src/audit/index.js';
import * as S from '../schemas.js';
import { ALL, guardErrors, principalOf, type ResourcePlugin } from './context.js';

/** `GET /api/v1/whoami`: sign-in, recorded in the audit ledger as a login. */
export const whoamiRoutes: ResourcePlugin = (app, { ctx }, done) => {
  app.get(
    '/api/v1/whoami',
    {
      preParsing: ctx.guard(ALL, 'identify'),
      schema: { tags: ['auth'], description: 'Sign-in: who the token belongs to. Each call is recorded in the audit ledger as a login.', querystring: S.NoQuery, response: { 200: S.WhoAmI, ...guardErrors } },
    },
    async (req) => {
      const p = principalOf(req);
      await ctx.audit.append({
        actor: `operator:${p.id}`,
        kind: AuditKind.LoginSucceeded,
        ...(p.site !== undefined ? { siteId: p.site } : {}),
        details: { role: p.role, via: 'rest' },
      });
      return { id: p.id, role: p.role, site: p.site ?? null };
    },
  );
  done();
};
