import { describe, expect, it } from 'vitest';
import { graphSeedFor, secAggConfigFor, studyDegree, checkStudySecureAggregation } from '../../../coordinator/src/rounds/secagg-workflow.js';
import { createLogger } from '../../../shared/src/logging.js';
import { createConsortiumCa, issueCertificate } from '../../../coordinator/src/pki/index.js';
import { readFileSync } from 'node:fs';
import { AgentConfigSchema } from '../../../shared/src/config/agent-config.js';
import { parseConfigText, validateConfig } from '../../../shared/src/config/validate.js';
import { StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import { SecAggClient } from '../../../site-agent/src/secagg/secagg-client.js';

// The site's own floor on the secure-aggregation parameters a coordinator sends (gRPC input), and the
// study options that set the neighbour degree.

const now = new Date();
const ca = createConsortiumCa({ name: 'policy', validityDays: 30, now });
const cert = issueCertificate({ ca, role: 'site', id: 'site-01', validityDays: 7, now });
const cohort = Array.from({ length: 40 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
const ctx = { studyId: 'policy', round: 1, attempt: 1 };
const base = { threshold: 9, cohort, degree: 16, graphSeed: graphSeedFor(ctx), clip: 8, maxWeight: 16, weightBucket: 1, attempt: 1 };

function client(policy: Partial<{ minThreshold: number; minCohort: number; minDegree: number }> = {}): SecAggClient {
  return new SecAggClient({
    siteId: 'site-01',
    identity: { certificatePem: cert.certPem, keyPem: cert.keyPem, caCertPem: ca.certPem },
    policy: { require: false, minThreshold: 2, minCohort: 3, minDegree: 0, shareTrainMetrics: false, ...policy },
    logger: createLogger({ name: 'site-01', level: 'silent' }),
  });
}

describe('SecAggClient policy checks', () => {
  it('accepts parameters within its policy', () => {
    expect(client().precheck(ctx, base).degree).toBe(16);
  });

  it.each([
    ['a cohort below minCohort', { minCohort: 41 }, base, /cohort of 40 sites is below this site's minimum of 41/],
    ['a threshold below minThreshold', { minThreshold: 10 }, base, /threshold 9 is below this site's minimum of 10/],
    ['a threshold that is not a majority of the holders', {}, { ...base, threshold: 8 }, /threshold 8 is not a majority of the 17 share holders/],
    ['a graph seed that is not the public one', {}, { ...base, graphSeed: Buffer.alloc(32) }, /graph seed is not the public seed/],
    ['a degree below 2·log2(n)', {}, { ...base, degree: 10, threshold: 6 }, /neighbour degree 10 is too small for 40 sites/],
    ['a degree below minDegree', { minDegree: 20 }, base, /neighbour degree 16 is below this site's minimum of 20/],
  ])('refuses %s, naming the values', (_name, policy, params, message) => {
    expect(() => client(policy).precheck(ctx, params)).toThrow(message);
  });

  it('takes minDegree from agent.yaml and refuses a bad value there, naming the field', () => {
    const file = new URL('../../../deploy/examples/agent.yaml', import.meta.url);
    const agent = parseConfigText(AgentConfigSchema, readFileSync(file, 'utf8'), 'agent.yaml');
    expect(agent.policy.secureAggregation.minDegree).toBe(0);
    const withPolicy = (minDegree: unknown): unknown => ({ ...agent, policy: { ...agent.policy, secureAggregation: { ...agent.policy.secureAggregation, minDegree } } });
    expect(validateConfig(AgentConfigSchema, withPolicy(56), 'agent.yaml').policy.secureAggregation.minDegree).toBe(56);
    expect(() => validateConfig(AgentConfigSchema, withPolicy(-2), 'agent.yaml')).toThrow(/agent\.yaml: .*minDegree/);
    expect(() => validateConfig(AgentConfigSchema, withPolicy(2.5), 'agent.yaml')).toThrow(/minDegree/);
  });

  it('minDegree never refuses the complete graph', () => {
    const small = cohort.slice(0, 10);
    expect(client({ minDegree: 20 }).precheck(ctx, { ...base, cohort: small, degree: 9, threshold: 6 }).degree).toBe(9);
  });
});

describe('study neighbour degree', () => {
  const spec = (options: Record<string, unknown>) =>
    validateConfig(StudySpecSchema, { id: 's', name: 's', dataset: 'd', model: 'logreg', inputDim: 13, rounds: 1, strategy: 'fedavg', secureAggregationOptions: options }, 'study');

  it('defaults to the even number ≥ 3·log2(n) above completeGraphUpTo and to the complete graph below', () => {
    const o = spec({}).secureAggregationOptions;
    expect(studyDegree(o, 32)).toBe(31);
    expect(studyDegree(o, 100)).toBe(20);
  });

  it('takes an explicit degree, capped at n − 1', () => {
    const o = spec({ degree: 56 }).secureAggregationOptions;
    expect(studyDegree(o, 100)).toBe(56);
    expect(studyDegree(o, 40)).toBe(39);
    const config = secAggConfigFor(spec({ degree: 56 }), ctx, Array.from({ length: 100 }, (_, i) => `s${String(i).padStart(3, '0')}`));
    expect(config.degree).toBe(56);
    expect(config.threshold).toBe(29); // majority of 57 holders
  });

  it('derives the degree from a colluding fraction (2^-40 per round)', () => {
    const o = spec({ colludingFraction: 0.1 }).secureAggregationOptions;
    expect(studyDegree(o, 100)).toBe(56);
    expect(studyDegree(spec({ colludingFraction: 0.05 }).secureAggregationOptions, 100)).toBe(34);
  });

  it('refuses an odd degree, a fraction of one half or more, and both options at once', () => {
    expect(() => spec({ degree: 21 })).toThrow(/degree/);
    expect(() => spec({ colludingFraction: 0.5 })).toThrow(/colludingFraction/);
    expect(() => checkStudySecureAggregation(spec({ degree: 20, colludingFraction: 0.1 }))).toThrow(/set secureAggregationOptions.degree or secureAggregationOptions.colludingFraction, not both/);
  });
});
