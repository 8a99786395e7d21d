import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStudy } from '../helpers/federation-fixture.js';
import { type RestFederation, startRestFederation } from '../helpers/rest-fixture.js';

const data = {
  kind: 'emr',
  index: { event: 'first-encounter' },
  features: {
    demographics: ['age', 'sex'],
    fhirpath: [{ name: 'visits', resource: 'Encounter', expression: 'Encounter.period.start.exists()', aggregate: 'count' }],
  },
  label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'snomed', code: '44054006' }] } },
};

/** `data:` over REST: the same StudySpecSchema body, checked by the coordinator when the study is created. */
describe('study data contract over REST (real coordinator, fastify inject)', () => {
  let fed: RestFederation;
  beforeAll(async () => {
    fed = await startRestFederation({ sites: 1 });
  });
  afterAll(async () => {
    await fed.close();
  });

  it('refuses a contract with an unparsable FHIRPath, an unknown code system or an inputDim that is not its column count (400 naming the field), and creates a valid one', async () => {
    const post = (body: unknown) => fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: body as Record<string, unknown> });
    const base = makeStudy({ id: 'dm-risk', dataset: 'emr', inputDim: 3 });

    const badPath = await post({ ...base, id: 'bad-path', data: { ...data, features: { ...data.features, fhirpath: [{ name: 'visits', resource: 'Encounter', expression: 'Encounter.where((' }] } } });
    const badSystem = await post({ ...base, id: 'bad-system', data: { ...data, label: { type: 'binary', positive: { resource: 'Condition', codes: [{ system: 'read-v2', code: 'C10' }] } } } });
    const badDim = await post({ ...base, id: 'bad-dim', inputDim: 5, data });
    const good = await post({ ...base, data });

    expect(badPath.statusCode).toBe(400);
    expect(badPath.json<{ message: string }>().message).toMatch(/'data\.features\.fhirpath\[0\]\.expression' is not valid FHIRPath/);
    expect(badSystem.statusCode).toBe(400);
    expect(badSystem.json<{ message: string }>().message).toMatch(/'data\.label\.positive\.codes\[0\]\.system' is 'read-v2'/);
    expect(badDim.statusCode).toBe(400);
    expect(badDim.json<{ message: string }>().message).toMatch(/'inputDim' is 5 but 'data\.features' makes 3 columns \(age, sex_female, visits\)/);
    for (const id of ['bad-path', 'bad-system', 'bad-dim']) expect((await fed.app.inject({ url: `/api/v1/studies/${id}`, headers: fed.auth('olga') })).statusCode).toBe(404);
    expect(good.statusCode).toBe(201);
    const stored = await fed.app.inject({ url: '/api/v1/studies/dm-risk', headers: fed.auth('olga') });
    expect(stored.json<{ spec: { data?: { kind: string } } }>().spec.data?.kind).toBe('emr');
  });
});
