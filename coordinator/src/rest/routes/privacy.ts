import { Type } from '@sinclair/typebox';
import { authorizeSite } from '../auth.js';
import * as S from '../schemas.js';
import { ALL, guardErrors, principalOf, type ResourcePlugin } from './context.js';

/** Privacy budgets per site and study (site-admins: their own site). */
export const privacyRoutes: ResourcePlugin = (app, { ctx }, done) => {
  app.get(
    '/api/v1/privacy-budgets',
    {
      preParsing: ctx.guard(ALL, 'read privacy budgets'),
      schema: { tags: ['privacy'], description: 'Per site and study: participation, and ε spent / budget / δ when the study uses DP (`dp: null` otherwise). Site-admins: their own site.', querystring: S.BudgetQuery, response: { 200: Type.Array(S.PrivacyBudgetView), ...guardErrors } },
    },
    async (req) => {
      const p = principalOf(req);
      if (req.query.site !== undefined) authorizeSite(p, req.query.site);
      const siteId = p.role === 'site-admin' ? p.site : req.query.site;
      return ctx.privacy.list({ ...(req.query.study !== undefined ? { studyId: req.query.study } : {}), ...(siteId !== undefined ? { siteId } : {}) });
    },
  );
  done();
};
