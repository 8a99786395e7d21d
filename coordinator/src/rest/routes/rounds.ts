import { Type } from '@sinclair/typebox';
import { authorizeSite } from '../auth.js';
import * as S from '../schemas.js';
import type { CoordinatorStore } from '../../store/coordinator-store.js';
import { ALL, guardErrors, principalOf, READERS, requireStudy, type ResourcePlugin } from './context.js';
import { roundView, siteRoundView } from './views.js';

/** Per committed round: evaluation and training metrics, and each site's rows (all sites, or one). */
async function roundMetrics(store: CoordinatorStore, studyId: string, siteId?: string) {
  const rounds = (await store.listRounds(studyId)).filter((r) => r.status === 'committed');
  const out = [];
  for (const r of rounds) {
    const sites = (await store.listRoundSites(studyId, r.round, r.attempt)).filter((s) => siteId === undefined || s.siteId === siteId);
    out.push({ round: r.round, attempt: r.attempt, eval: r.metrics, train: r.trainMetrics, sites: sites.map(siteRoundView) });
  }
  return out;
}

/** Rounds and their metrics: every attempt with phase timings, per-round metrics, one site's metrics. */
export const roundRoutes: ResourcePlugin = (app, { ctx }, done) => {
  const { store, guard } = ctx;

  app.get(
    '/api/v1/studies/:studyId/rounds',
    {
      preParsing: guard(READERS, 'read rounds'),
      schema: { tags: ['rounds'], description: 'Every round attempt with its per-phase timings.', params: S.StudyParams, querystring: S.NoQuery, response: { 200: Type.Array(S.RoundView), ...guardErrors, 404: S.ErrorBody } },
    },
    async (req) => {
      await requireStudy(store, req.params.studyId);
      return (await store.listRounds(req.params.studyId)).map(roundView);
    },
  );

  app.get(
    '/api/v1/studies/:studyId/metrics',
    {
      preParsing: guard(READERS, 'read study metrics'),
      schema: { tags: ['rounds'], description: 'Per committed round: federated evaluation, training metrics and each site’s outcome.', params: S.StudyParams, querystring: S.NoQuery, response: { 200: Type.Array(S.RoundMetricsView), ...guardErrors, 404: S.ErrorBody } },
    },
    async (req) => {
      await requireStudy(store, req.params.studyId);
      return roundMetrics(store, req.params.studyId);
    },
  );

  app.get(
    '/api/v1/studies/:studyId/sites/:siteId/metrics',
    {
      preParsing: guard(ALL, 'read site metrics'),
      schema: { tags: ['rounds'], description: 'Per committed round, one site’s rows (site-admins: their own site only).', params: S.StudySiteParams, querystring: S.NoQuery, response: { 200: Type.Array(S.RoundMetricsView), ...guardErrors, 404: S.ErrorBody } },
    },
    async (req) => {
      authorizeSite(principalOf(req), req.params.siteId);
      await requireStudy(store, req.params.studyId);
      return roundMetrics(store, req.params.studyId, req.params.siteId);
    },
  );
  done();
};
