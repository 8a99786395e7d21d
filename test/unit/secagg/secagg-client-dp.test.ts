import { describe, expect, it } from 'vitest';
import { graphSeedFor } from '../../../coordinator/src/rounds/secagg-workflow.js';
import { createLogger } from '../../../shared/src/logging.js';
import { siteLevelScale } from '../../../shared/src/dp/site-level.js';
import { createConsortiumCa, issueCertificate } from '../../../coordinator/src/pki/index.js';
import { SecAggClient } from '../../../site-agent/src/secagg/secagg-client.js';

// The site's own checks on site-level DP settings that arrive from the coordinator (gRPC input).

const now = new Date();
const ca = createConsortiumCa({ name: 'dp-client', validityDays: 30, now });
const cohort = ['site-1', 'site-2', 'site-3'];
const cert = issueCertificate({ ca, role: 'site', id: 'site-1', validityDays: 7, now });
const ctx = { studyId: 'dp', round: 1, attempt: 1 };
const params = { threshold: 2, cohort, degree: 2, graphSeed: graphSeedFor(ctx), clip: 8, maxWeight: 16, weightBucket: 1, attempt: 1 };

function client(): SecAggClient {
  return new SecAggClient({
    siteId: 'site-1',
    identity: { certificatePem: cert.certPem, keyPem: cert.keyPem, caCertPem: ca.certPem },
    policy: { require: false, minThreshold: 2, minCohort: 3, minDegree: 0, shareTrainMetrics: false },
    logger: createLogger({ name: 'site-1', level: 'silent' }),
  });
}

describe('SecAggClient with site-level DP settings from the coordinator', () => {
  const d = 5;
  const global = new Float32Array(d);
  const weights = Float32Array.from({ length: d }, () => 0.1);
  const dp = { clip: 1, noiseMultiplier: 1, noiseShares: 3 };
  const bound = siteLevelScale({ clip: 1, noiseMultiplier: 1, noiseShares: 3, cohortSize: 3, dim: d });

  it('refuses a quantisation scale above the wrap bound it recomputes itself, naming both', () => {
    expect(() => client().advertise(ctx, params, global, weights, 10, { ...dp, scale: bound * 2 })).toThrow(/quantisation scale .* exceeds the .* this site allows for a 3-site sum/);
    expect(() => client().advertise(ctx, params, global, weights, 10, { ...dp, scale: -1 })).toThrow(/quantisation scale -1/);
  });

  it('refuses noise split over more sites than the cohort holds', () => {
    expect(() => client().advertise(ctx, params, global, weights, 10, { ...dp, noiseShares: 4, scale: bound / 2 })).toThrow(/noise is split over 4 sites but the cohort has 3/);
  });

  it('refuses to unmask a sum of fewer survivors than its noise shares, and accepts enough', async () => {
    const c = client();
    expect(c.advertise(ctx, params, global, weights, 10, { ...dp, scale: bound }).keys?.siteId).toBe('site-1');
    // Skip straight to unmask: the survivor check comes before any stage logic.
    await expect(c.stage(ctx, { attempt: 1, unmask: { survivors: ['site-1', 'site-2'], dropped: ['site-3'] } })).rejects.toThrow(/2 survivors hold fewer than the 3 noise shares/);
  });
});
