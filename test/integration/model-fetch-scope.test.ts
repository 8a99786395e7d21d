import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkHasher } from '../../shared/src/transport/chunk-hasher.js';
import { createFederationClient, fetchModel } from '../../site-agent/src/coordinator-client.js';
import { makeStudy, startFederation, type Federation } from '../helpers/federation-fixture.js';
import { siteTls } from '../helpers/hand-site.js';

/**
 * A site fetches only model versions of studies it takes part in (issue 16): site-1 and site-2 run a study;
 * site-3, a member of the consortium with a valid certificate, asks for that study's models by digest over
 * real mTLS and is answered as if they did not exist.
 */
describe('FetchModel is scoped to the studies a site takes part in (real mTLS)', () => {
  let fed: Federation;
  const hasher = new ChunkHasher('inline');
  let versions: string[] = [];
  let evaluated: string[] = [];
  beforeAll(async () => {
    fed = await startFederation({ sites: 3 });
    await fed.startAgent(0);
    await fed.startAgent(1);
    for (let i = 0; i < 200 && fed.coordinator.sessions.connectedSites().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const study = await fed.coordinator.createStudy(makeStudy({ id: 'scoped', inputDim: 10, rounds: 1, minSites: 2, maxSites: 2, secureAggregation: false }));
    const done = await fed.coordinator.runStudy(study.id);
    expect(done.status).toBe('completed');
    versions = (await fed.coordinator.store.listModelVersions('scoped')).map((v) => v.sha256);
    const round = (await fed.coordinator.store.listRounds('scoped')).find((r) => r.status === 'committed');
    evaluated = (await fed.coordinator.store.listRoundSites('scoped', 1, round?.attempt ?? 1)).filter((r) => r.phase === 'evaluate').map((r) => `${r.siteId} ${r.outcome}`);
  }, 240_000);
  afterAll(async () => {
    await fed?.close();
    await hasher.close();
  });

  async function fetchAs(siteId: string, version: string): Promise<Buffer> {
    const client = createFederationClient(`127.0.0.1:${fed.coordinator.port}`, siteTls(fed.pkiDir, siteId));
    try {
      return await fetchModel(client, version, await fed.coordinator.models.transferDigest(version), { buffer: null, received: 0 }, hasher);
    } finally {
      client.close();
    }
  }

  it('refuses every version of the study to a site that took no part, as an unknown version', async () => {
    expect(versions.length).toBe(2);
    for (const v of versions) {
      await expect(fetchAs('site-3', v)).rejects.toMatchObject({ details: expect.stringContaining('TESSERA_PROTOCOL_UNKNOWN_MODEL') as unknown });
    }
  });

  it('lets the sites of the round fetch the candidate they evaluate before it is committed', () => {
    expect(evaluated.sort()).toEqual(['site-1 ok', 'site-2 ok']);
  });

  it('still serves them, byte for byte, to a site that took part', async () => {
    for (const v of versions) expect((await fetchAs('site-1', v)).equals(await fed.coordinator.models.get(v))).toBe(true);
  });
});
