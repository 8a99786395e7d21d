import { Readable } from 'node:stream';
import type { AuditFilter } from '../../audit/audit-ledger.js';
import * as S from '../schemas.js';
import { guardErrors, iso, parseTime, principalOf, READERS, type ResourcePlugin } from './context.js';

function filterOf(q: { study?: string; site?: string; actor?: string; kind?: string; since?: string; until?: string }): AuditFilter {
  const fromMs = parseTime(q.since, 'since');
  const toMs = parseTime(q.until, 'until');
  return {
    ...(q.study !== undefined ? { studyId: q.study } : {}),
    ...(q.site !== undefined ? { siteId: q.site } : {}),
    ...(q.actor !== undefined ? { actor: q.actor } : {}),
    ...(q.kind !== undefined ? { kind: q.kind } : {}),
    ...(fromMs !== undefined ? { fromMs } : {}),
    ...(toMs !== undefined ? { toMs } : {}),
  };
}

/** The signed audit ledger (evidence): entries, exports and a fresh verification, for operators and compliance. */
export const auditRoutes: ResourcePlugin = (app, { ctx }, done) => {
  const { audit, guard } = ctx;
  app.get(
    '/api/v1/audit',
    {
      preParsing: guard(READERS, 'read the audit ledger'),
      schema: {
        tags: ['audit'],
        description:
          'Ledger entries exactly as sealed (hash, prev, signature), oldest first, filtered by study, site, actor, kind and time; page with `after` = the previous page’s `nextAfterSeq`.',
        querystring: S.AuditQuery,
        response: { 200: S.AuditPageView, ...guardErrors },
      },
    },
    async (req) => {
      const page = await audit.list(filterOf(req.query), { afterSeq: req.query.after ?? 0, limit: req.query.limit ?? 100 });
      return page as unknown as { entries: Record<string, unknown>[]; nextAfterSeq: number | null };
    },
  );
  app.get(
    '/api/v1/audit/export',
    {
      preParsing: guard(READERS, 'export the audit ledger'),
      schema: {
        tags: ['audit'],
        description:
          'format=jsonl without filters: the whole chain with its header and a signed head, exactly what `tessera audit export` writes (check it offline with `tessera audit verify`). With filters: a selection whose header says so. format=csv: the matching entries as CSV.',
        querystring: S.AuditExportQuery,
      },
    },
    (req, reply) => {
      const { format, ...rest } = req.query;
      const filter = filterOf(rest);
      const filtered = Object.keys(filter).length > 0;
      req.log.info({ operator: principalOf(req).id, format, filtered }, 'audit ledger exported over REST');
      const lines = format === 'csv' ? audit.exportCsv(filter) : audit.exportJsonl(filtered ? filter : undefined);
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="audit.${format}"`)
        .send(Readable.from(lines));
    },
  );
  app.get(
    '/api/v1/audit/verify',
    {
      preParsing: guard(READERS, 'verify the audit ledger'),
      schema: {
        tags: ['audit'],
        description: 'Re-checks the whole stored chain now: every hash link and every signature, against the consortium CA.',
        querystring: S.NoQuery,
        response: { 200: S.AuditVerificationView, ...guardErrors },
      },
    },
    async () => {
      const v = await audit.verify();
      return {
        ok: v.ok,
        ledger: v.ledger,
        entries: v.entries,
        head: v.head,
        anchored: v.anchored,
        complete: v.complete,
        firstBad: v.firstBad ? { seq: v.firstBad.seq, problem: v.firstBad.problem, message: v.firstBad.message } : null,
        checkedAt: iso(ctx.now()),
      };
    },
  );
  done();
};
