import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeCertificate } from '../../coordinator/src/pki/index.js';
import { makeStudy } from '../helpers/federation-fixture.js';
import { type RestFederation, startRestFederation } from '../helpers/rest-fixture.js';

type Role = 'operator' | 'compliance' | 'site-admin';
const TOKEN_OF: Record<Role, string> = { operator: 'olga', compliance: 'cora', 'site-admin': 'sam' };
const INPUT_DIM = 8;

interface RouteCase {
  name: string;
  method: 'GET' | 'POST';
  url: string;
  body?: unknown;
  /** Roles that get a 2xx; every other role gets 403. */
  allowed: readonly Role[];
}

describe('REST API authentication and roles (real coordinator, SQLite file, provisioned tokens)', () => {
  let fed: RestFederation;
  let modelSha = '';
  const spec = makeStudy({ inputDim: INPUT_DIM, id: 'it-study' });

  beforeAll(async () => {
    fed = await startRestFederation({ sites: 2 });
    await fed.startAgent(0);
    await fed.startAgent(1);
    const created = await fed.coordinator.createStudy(structuredClone(spec));
    await fed.coordinator.createStudy(makeStudy({ inputDim: INPUT_DIM, id: 'doomed' }));
    modelSha = created.currentModel;
    // Both agents have said Hello (site rows exist) before the table runs.
    for (let i = 0; i < 200 && (await fed.coordinator.store.listSites()).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await fed?.close();
  });

  const all: readonly Role[] = ['operator', 'compliance', 'site-admin'];
  const readers: readonly Role[] = ['operator', 'compliance'];
  const routes = (): RouteCase[] => [
    { name: 'whoami', method: 'GET', url: '/api/v1/whoami', allowed: all },
    { name: 'list studies', method: 'GET', url: '/api/v1/studies', allowed: all },
    { name: 'create study', method: 'POST', url: '/api/v1/studies', body: spec, allowed: ['operator'] },
    { name: 'read study contract', method: 'GET', url: '/api/v1/studies/it-study', allowed: all },
    { name: 'abort study', method: 'POST', url: '/api/v1/studies/doomed/abort', allowed: ['operator'] },
    { name: 'rounds', method: 'GET', url: '/api/v1/studies/it-study/rounds', allowed: readers },
    { name: 'study metrics', method: 'GET', url: '/api/v1/studies/it-study/metrics', allowed: readers },
    { name: 'own site metrics', method: 'GET', url: '/api/v1/studies/it-study/sites/site-1/metrics', allowed: all },
    { name: 'other site metrics', method: 'GET', url: '/api/v1/studies/it-study/sites/site-2/metrics', allowed: readers },
    { name: 'model lineage', method: 'GET', url: '/api/v1/studies/it-study/models', allowed: readers },
    { name: 'model download', method: 'GET', url: `/api/v1/studies/it-study/models/${modelSha}`, allowed: ['operator'] },
    { name: 'sites', method: 'GET', url: '/api/v1/sites', allowed: all },
    { name: 'own site', method: 'GET', url: '/api/v1/sites/site-1', allowed: all },
    { name: 'other site', method: 'GET', url: '/api/v1/sites/site-2', allowed: readers },
    { name: 'privacy budgets', method: 'GET', url: '/api/v1/privacy-budgets', allowed: all },
    { name: 'other site budget', method: 'GET', url: '/api/v1/privacy-budgets?site=site-2', allowed: readers },
    { name: 'prometheus', method: 'GET', url: '/metrics', allowed: readers },
    { name: 'audit entries', method: 'GET', url: '/api/v1/audit?study=it-study', allowed: readers },
    { name: 'audit export', method: 'GET', url: '/api/v1/audit/export?format=csv', allowed: readers },
    { name: 'audit verify', method: 'GET', url: '/api/v1/audit/verify', allowed: readers },
  ];

  it('answers 401 without credentials and with a wrong or malformed token, on every route', async () => {
    for (const r of [...routes(), { name: 'events', method: 'GET' as const, url: '/api/v1/events', allowed: all }]) {
      for (const headers of [{}, { authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, { authorization: 'Basic b2xnYTpwdw==' }]) {
        const res = await fed.app.inject({ method: r.method, url: r.url, headers, ...(r.body !== undefined ? { payload: r.body as object } : {}) });
        expect(res.statusCode, `${r.name} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json<{ code: string }>().code).toBe('TESSERA_API_UNAUTHENTICATED');
        expect(res.headers['www-authenticate']).toContain('Bearer');
      }
    }
  });

  it('answers 403 to a role without the right and 2xx to a role with it, on every route', async () => {
    const seen: string[] = [];
    for (const role of ['compliance', 'site-admin', 'operator'] as const) {
      for (const r of routes()) {
        const res = await fed.app.inject({
          method: r.method,
          url: r.url,
          headers: fed.auth(TOKEN_OF[role]),
          ...(r.body !== undefined ? { payload: r.body as object } : {}),
        });
        const expected = r.allowed.includes(role) ? 'ok' : 403;
        if (expected === 403) {
          expect(res.statusCode, `${role} ${r.name}: ${res.body}`).toBe(403);
          expect(res.json<{ code: string }>().code).toBe('TESSERA_API_FORBIDDEN');
        } else {
          expect([200, 201, 202], `${role} ${r.name}: ${res.body}`).toContain(res.statusCode);
        }
        seen.push(`${role}:${r.name}:${res.statusCode}`);
      }
    }
    expect(seen).toHaveLength(3 * routes().length);
  });

  it('serves what each role may see, and nothing more', async () => {
    const sites = await fed.app.inject({ url: '/api/v1/sites', headers: fed.auth('sam') });
    expect(sites.json<{ id: string }[]>().map((s) => s.id)).toEqual(['site-1']);
    const all2 = await fed.app.inject({ url: '/api/v1/sites', headers: fed.auth('cora') });
    const list = all2.json<{ id: string; connected: boolean; backend: string; agentVersion: string; certDaysLeft: number }[]>();
    expect(list.map((s) => s.id)).toEqual(['site-1', 'site-2']);
    expect(list.every((s) => s.connected && s.backend !== '' && s.agentVersion !== '' && s.certDaysLeft > 300)).toBe(true);

    const model = await fed.app.inject({ url: `/api/v1/studies/it-study/models/${modelSha}`, headers: fed.auth('olga') });
    expect(model.headers['x-tessera-sha256']).toBe(modelSha);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(model.rawPayload).digest('hex')).toBe(modelSha);

    const who = await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('sam') });
    expect(who.json()).toEqual({ id: 'sam', role: 'site-admin', site: 'site-1' });

    const doomed = await fed.app.inject({ url: '/api/v1/studies/doomed', headers: fed.auth('cora') });
    expect(doomed.json<{ status: string }>().status).toBe('aborted');
  });

  it('refuses unknown fields, bad values and unknown query parameters with 400 naming the field', async () => {
    const extra = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: { ...spec, id: 'x1', colour: 'red' } });
    expect(extra.statusCode).toBe(400);
    expect(extra.json<{ code: string; message: string }>()).toMatchObject({ code: 'TESSERA_API_INVALID_REQUEST' });
    expect(extra.json<{ message: string }>().message).toContain('colour');
    const bad = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: { ...spec, id: 'x2', rounds: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toContain('rounds');
    const query = await fed.app.inject({ url: '/api/v1/studies?verbose=1', headers: fed.auth('olga') });
    expect(query.statusCode).toBe(400);
    expect(query.json<{ message: string }>().message).toContain('verbose');
    const action = await fed.app.inject({ method: 'POST', url: '/api/v1/studies/it-study/explode', headers: fed.auth('olga') });
    expect(action.statusCode).toBe(400);
    const conflict = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: { ...spec, rounds: 7 } });
    expect(conflict.statusCode).toBe(409);
    const missing = await fed.app.inject({ url: '/api/v1/studies/nope', headers: fed.auth('olga') });
    expect(missing.statusCode).toBe(404);
    // A robust strategy cannot run under secure aggregation; a DP target that cannot be met is refused too.
    const robust = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: { ...spec, id: 'x3', strategy: 'krum' } });
    expect(robust.statusCode).toBe(400);
    expect(robust.json<{ message: string }>().message).toContain('secure aggregation reveals only their sum');
    const dpBad = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: { ...spec, id: 'x4', privacy: { mode: 'site', epsilon: 1, delta: 1e-5, adaptiveClipping: {} } } });
    expect(dpBad.statusCode).toBe(400);
    expect(dpBad.json<{ message: string }>().message).toContain('2 × countNoise > noiseMultiplier');
    // Nothing was created by the refused requests.
    expect((await fed.coordinator.store.listStudies()).map((s) => s.id).sort()).toEqual(['doomed', 'it-study']);
  });

  it('creates a DP study idempotently: the noise multiplier is calibrated at creation and a repeated POST of the same file is not a conflict', async () => {
    const dp = makeStudy({ inputDim: INPUT_DIM, id: 'dp-study', privacy: { mode: 'record', epsilon: 2, delta: 1e-5, accountant: 'pld', clipNorm: 1, samplingRate: 0.3, stepsPerRound: 5 } });
    const first = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: dp });
    expect(first.statusCode).toBe(201);
    const again = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: dp });
    expect(again.statusCode).toBe(201);
    const stored = await fed.coordinator.store.getStudy('dp-study');
    expect(stored?.spec.privacy?.noiseMultiplier).toBeGreaterThan(0);
  });

  it('records logins, refusals and the operator who created a study in the ledger, which verifies', async () => {
    const res = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: makeStudy({ inputDim: INPUT_DIM, id: 'by-olga' }) });
    expect(res.statusCode).toBe(201);
    const page = (await fed.app.inject({ url: '/api/v1/audit?study=by-olga&kind=study.created', headers: fed.auth('cora') })).json<{ entries: { actor: string; kind: string; hash: string; sig: string }[] }>();
    expect(page.entries).toHaveLength(1);
    expect(page.entries[0]).toMatchObject({ actor: 'operator:olga', kind: 'study.created' });
    const logins = (await fed.app.inject({ url: '/api/v1/audit?kind=auth.login&actor=operator:sam', headers: fed.auth('cora') })).json<{ entries: unknown[] }>();
    expect(logins.entries.length).toBeGreaterThan(0);
    const refused = (await fed.app.inject({ url: '/api/v1/audit?kind=auth.refused&limit=1000', headers: fed.auth('cora') })).json<{ entries: { actor: string; details: { code: string } }[] }>();
    expect(refused.entries.some((e) => e.actor === 'unauthenticated' && e.details.code === 'TESSERA_API_UNAUTHENTICATED')).toBe(true);
    expect(refused.entries.some((e) => e.actor === 'operator:sam' && e.details.code === 'TESSERA_API_FORBIDDEN')).toBe(true);
    const verify = (await fed.app.inject({ url: '/api/v1/audit/verify', headers: fed.auth('cora') })).json<{ ok: boolean; entries: number; anchored: boolean; firstBad: unknown }>();
    expect(verify).toMatchObject({ ok: true, anchored: true, firstBad: null });
    expect(verify.entries).toBeGreaterThan(10);
    const jsonl = await fed.app.inject({ url: '/api/v1/audit/export?format=jsonl', headers: fed.auth('cora') });
    expect(jsonl.headers['content-type']).toContain('application/x-ndjson');
    expect(jsonl.body.trim().split('\n').length).toBeGreaterThan(verify.entries);
    const csv = await fed.app.inject({ url: '/api/v1/audit/export?format=csv&study=by-olga', headers: fed.auth('cora') });
    expect(csv.body.split('\r\n')[0]).toContain('seq');
    expect(csv.body).toContain('study.created');
  });

  it('shows ε spent per site from the ledger\'s privacy.spent entries, and dp null where none was spent', async () => {
    // What the DP round code's site-privacy event becomes (coordinator-audit.ts): cumulative ε per site.
    for (const [round, eps] of [[1, 0.4], [2, 0.7]] as const) {
      await fed.coordinator.audit.append({ actor: 'site:site-1', kind: 'privacy.spent', studyId: 'it-study', siteId: 'site-1', round, details: { epsilonTotal: eps, delta: 1e-5, accountant: 'rdp' } });
    }
    const all = (await fed.app.inject({ url: '/api/v1/privacy-budgets?study=it-study', headers: fed.auth('cora') })).json<{ siteId: string; dp: { epsilonSpent: number; delta: number; mechanism: string } | null }[]>();
    expect(all.find((b) => b.siteId === 'site-1')?.dp).toEqual({ mechanism: 'rdp', epsilonSpent: 0.7, epsilonBudget: null, delta: 1e-5 });
    const own = (await fed.app.inject({ url: '/api/v1/privacy-budgets', headers: fed.auth('sam') })).json<{ siteId: string }[]>();
    expect(new Set(own.map((b) => b.siteId))).toEqual(new Set(['site-1']));
  });

  it('counts refusals in /metrics and serves the OpenAPI document', async () => {
    const metrics = await fed.app.inject({ url: '/metrics', headers: fed.auth('olga') });
    expect(metrics.body).toMatch(/tessera_refusals_total\{source="rest",reason="TESSERA_API_UNAUTHENTICATED"\} [1-9]/);
    expect(metrics.body).toMatch(/tessera_refusals_total\{source="rest",reason="TESSERA_API_FORBIDDEN"\} [1-9]/);
    expect(metrics.body).toContain('tessera_sites_connected 2');
    const doc = await fed.app.inject({ url: '/docs/json' });
    const openapi = doc.json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(openapi.openapi).toBe('3.0.3');
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/v1/studies', '/api/v1/studies/{studyId}/rounds', '/api/v1/audit/export']));
    const ui = await fed.app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
  });

  it('refuses the token of an operator whose certificate was revoked (no restart)', async () => {
    const before = await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('cora') });
    expect(before.statusCode).toBe(200);
    revokeCertificate({ caDir: fed.pkiDir, id: 'cora', reason: 'left the consortium', now: new Date() });
    await new Promise((r) => setTimeout(r, 1100)); // the revocation store re-reads the file at most once a second
    const after = await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('cora') });
    expect(after.statusCode).toBe(401);
    const other = await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('olga') });
    expect(other.statusCode).toBe(200);
  });
});

describe('REST rate limiting', () => {
  it('answers 429 once a credential exceeds its budget, without affecting another credential', async () => {
    const fed = await startRestFederation({ sites: 1, rest: { rateLimit: { max: 5, windowMs: 60_000 } } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) codes.push((await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('olga') })).statusCode);
      expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const limited = await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('olga') });
      expect(limited.json<{ code: string }>().code).toBe('TESSERA_API_RATE_LIMITED');
      expect((await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('cora') })).statusCode).toBe(200);
      // Guessing tokens does not buy a fresh bucket per guess: unknown tokens share their address's bucket.
      const guesses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await fed.app.inject({ url: '/api/v1/whoami', headers: { authorization: `Bearer guess-${String(i).padStart(20, '0')}` } });
        guesses.push(res.statusCode);
      }
      expect(guesses.slice(-2)).toEqual([429, 429]);
    } finally {
      await fed.close();
    }
  });
});
