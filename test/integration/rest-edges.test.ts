import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStudy } from '../helpers/federation-fixture.js';
import { type RestFederation, startRestFederation } from '../helpers/rest-fixture.js';

/** The REST edges issue 16 found: nesting, cross-field contracts, the bearer scheme's case, the 429 message. */
describe('REST edges (real coordinator, fastify inject)', () => {
  let fed: RestFederation;
  beforeAll(async () => {
    fed = await startRestFederation({ sites: 1, rest: { rateLimit: { max: 40, windowMs: 60_000 } } });
  });
  afterAll(async () => {
    await fed.close();
  });

  it('answers 400, not 500, to a body nested 100,000 levels deep, and still serves the next request', async () => {
    // Arrange
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);

    // Act
    const a = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: { ...fed.auth('olga'), 'content-type': 'application/json' }, payload: deep });
    const b = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: { ...fed.auth('olga'), 'content-type': 'application/json' }, payload: deepObject });

    // Assert
    for (const res of [a, b]) {
      expect(res.statusCode).toBe(400);
      expect(res.json<{ code: string; message: string }>()).toMatchObject({ code: 'TESSERA_API_INVALID_REQUEST', message: expect.stringContaining('deeper than 64') as unknown });
    }
    expect((await fed.app.inject({ url: '/api/v1/studies', headers: fed.auth('olga') })).statusCode).toBe(200);
  });

  it('refuses a study whose minSites exceeds maxSites at submission (400 naming both fields), and creates nothing', async () => {
    const spec = makeStudy({ id: 'min-over-max', inputDim: 10, minSites: 3, maxSites: 2 });
    const res = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: spec });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toMatch(/'minSites' \(3\) must be ≤ 'maxSites' \(2\)/);
    expect((await fed.app.inject({ url: '/api/v1/studies/min-over-max', headers: fed.auth('olga') })).statusCode).toBe(404);
    // The same contract with a consistent pair is accepted.
    const ok = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: { ...spec, id: 'min-under-max', maxSites: 3 } });
    expect(ok.statusCode).toBe(201);
  });

  it('takes the bearer scheme in any case (RFC 9110), and still refuses another scheme', async () => {
    const token = fed.tokens['cora'] ?? '';
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await fed.app.inject({ url: '/api/v1/whoami', headers: { authorization: `${scheme} ${token}` } });
      expect(res.statusCode, scheme).toBe(200);
    }
    expect((await fed.app.inject({ url: '/api/v1/whoami', headers: { authorization: `Token ${token}` } })).statusCode).toBe(401);
  });

  it('says in a 429 how many requests the window allows, how long the window is, and when to retry', async () => {
    let last = await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('sam') });
    for (let i = 0; i < 45 && last.statusCode !== 429; i++) last = await fed.app.inject({ url: '/api/v1/whoami', headers: fed.auth('sam') });
    expect(last.statusCode).toBe(429);
    const body = last.json<{ code: string; message: string }>();
    expect(body.code).toBe('TESSERA_API_RATE_LIMITED');
    expect(body.message).toMatch(/^rate limit exceeded: at most 40 requests per 60 s; retry in \d+ s$/);
  });
});
