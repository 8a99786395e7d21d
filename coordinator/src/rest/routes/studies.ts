import { Type } from '@sinclair/typebox';
import { AuditKind } from '../../../../shared/src/audit/index.js';
import { validateConfig } from '../../../../shared/src/config/validate.js';
import { ApiError } from '../../../../shared/src/errors.js';
import { checkStudyCrossFields } from '../../../../shared/src/study/study-checks.js';
import { StudySpecSchema } from '../../../../shared/src/study/study-spec.js';
import * as S from '../schemas.js';
import { ALL, guardErrors, OPERATOR, principalOf, requireStudy, type ResourcePlugin } from './context.js';
import { studyView } from './views.js';

/** Studies: list, create (idempotent per id and contract), read, and start / resume / pause / abort. */
export const studyRoutes: ResourcePlugin = (app, { ctx }, done) => {
  const { coordinator, store, audit, guard } = ctx;

  app.get(
    '/api/v1/studies',
    { preParsing: guard(ALL, 'list studies'), schema: { tags: ['studies'], querystring: S.NoQuery, response: { 200: Type.Array(S.StudyView), ...guardErrors } } },
    async () => (await store.listStudies()).map((s) => studyView(s, coordinator.isRunning(s.id))),
  );

  app.post(
    '/api/v1/studies',
    {
      preParsing: guard(OPERATOR, 'create studies'),
      schema: {
        tags: ['studies'],
        description: 'Creates a study from a study file (JSON of study.yaml). Idempotent for the same id and contract; 409 for the same id with a different one.',
        body: StudySpecSchema,
        response: { 201: S.StudyView, ...guardErrors, 400: S.ErrorBody, 409: S.ErrorBody },
      },
    },
    async (req, reply) => {
      // The coordinator resolves the contract (DP noise calibrated off-thread) and makes the one "already exists"
      // check: a different contract under the same id throws ConflictError, answered 409 TESSERA_API_CONFLICT.
      const valid = validateConfig(StudySpecSchema, req.body, 'request body');
      checkStudyCrossFields(valid);
      const created = await coordinator.createStudy(valid);
      req.log.info({ studyId: created.id, operator: principalOf(req).id }, 'study created over REST');
      return reply.code(201).send(studyView(created, coordinator.isRunning(created.id)));
    },
  );

  app.get(
    '/api/v1/studies/:studyId',
    { preParsing: guard(ALL, 'read study contracts'), schema: { tags: ['studies'], params: S.StudyParams, querystring: S.NoQuery, response: { 200: S.StudyView, ...guardErrors, 404: S.ErrorBody } } },
    async (req) => studyView(await requireStudy(store, req.params.studyId), coordinator.isRunning(req.params.studyId)),
  );

  app.post(
    '/api/v1/studies/:studyId/:action',
    {
      preParsing: guard(OPERATOR, 'run studies'),
      schema: {
        tags: ['studies'],
        description:
          'start | resume: runs the study in the background (202). pause | abort: stops it at the next safe point (immediately while waiting for sites, else when the round in flight ends); poll the study for the final status.',
        params: S.StudyActionParams,
        querystring: S.NoQuery,
        response: { 202: S.StudyView, ...guardErrors, 404: S.ErrorBody, 409: S.ErrorBody },
      },
    },
    async (req, reply) => {
      const { studyId, action } = req.params;
      const study = await requireStudy(store, studyId);
      // Who asked, before the coordinator acts: the run itself records its status changes as the coordinator.
      await audit.append({ actor: `operator:${principalOf(req).id}`, kind: AuditKind.StudyStatus, studyId, details: { requested: action, statusBefore: study.status } });
      if (action === 'start' || action === 'resume') {
        if (action === 'resume' && study.status !== 'paused') {
          throw new ApiError('TESSERA_API_CONFLICT', `study ${studyId} is ${study.status}, not paused`, { studyId });
        }
        await coordinator.startStudy(studyId);
      } else {
        await coordinator.stopStudy(studyId, action);
      }
      req.log.info({ studyId, action, operator: principalOf(req).id }, 'study action over REST');
      return reply.code(202).send(studyView(await requireStudy(store, studyId), coordinator.isRunning(studyId)));
    },
  );
  done();
};
