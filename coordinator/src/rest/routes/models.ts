import { Type } from '@sinclair/typebox';
import { ApiError } from '../../../../shared/src/errors.js';
import * as S from '../schemas.js';
import { guardErrors, iso, OPERATOR, principalOf, READERS, requireStudy, type ResourcePlugin } from './context.js';

/** Model versions: a study's lineage, and one version's weights (checked on read). */
export const modelRoutes: ResourcePlugin = (app, { ctx }, done) => {
  const { coordinator, store, guard } = ctx;

  app.get(
    '/api/v1/studies/:studyId/models',
    { preParsing: guard(READERS, 'read the model lineage'), schema: { tags: ['models'], params: S.StudyParams, querystring: S.NoQuery, response: { 200: Type.Array(S.ModelVersionView), ...guardErrors, 404: S.ErrorBody } } },
    async (req) => {
      await requireStudy(store, req.params.studyId);
      return (await store.listModelVersions(req.params.studyId)).map((m) => ({
        sha256: m.sha256,
        round: m.round,
        numParams: m.numParams,
        bytes: m.numParams * 4,
        createdAt: iso(m.createdAt),
        download: `/api/v1/studies/${req.params.studyId}/models/${m.sha256}`,
      }));
    },
  );

  app.get(
    '/api/v1/studies/:studyId/models/:sha256',
    {
      preParsing: guard(OPERATOR, 'download models'),
      schema: {
        tags: ['models'],
        description: 'The model version’s float32 little-endian weights; `x-tessera-sha256` and `digest` carry its SHA-256 (checked on read).',
        params: S.ModelParams,
        querystring: S.NoQuery,
      },
    },
    async (req, reply) => {
      const { studyId, sha256 } = req.params;
      const version = await store.getModelVersion(sha256);
      if (version?.studyId !== studyId) throw new ApiError('TESSERA_API_NOT_FOUND', `study ${studyId} has no model version ${sha256}`, { studyId });
      const bytes = await coordinator.models.get(sha256);
      req.log.info({ studyId, sha256, operator: principalOf(req).id }, 'model downloaded over REST');
      return reply
        .type('application/octet-stream')
        .header('x-tessera-sha256', sha256)
        .header('digest', `sha-256=${Buffer.from(sha256, 'hex').toString('base64')}`)
        .header('content-disposition', `attachment; filename="${studyId}-r${version.round}-${sha256.slice(0, 12)}.f32"`)
        .send(bytes);
    },
  );
  done();
};
