import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, checkAgentConfig } from '../../../shared/src/config/agent-config.js';
import { PrivacyPolicySchema } from '../../../shared/src/config/privacy-policy.js';
import { parseConsortiumConfig } from '../../../shared/src/config/consortium-config.js';
import { CoordinatorConfigSchema } from '../../../shared/src/config/coordinator-config.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { ConfigError } from '../../../shared/src/errors.js';
import { getModelSpec } from '../../../shared/src/ml/model-registry.js';
import { StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import { checkStudyDataContract } from '../../../coordinator/src/study-data-check.js';
import { parseSiteMapping } from '../../../site-agent/src/hospital/study-data/mapping.js';

// The examples in deploy/examples/ are what operators copy; they must validate against the real schemas,
// so a schema change that breaks them fails here rather than on a hospital's server.

const EXAMPLES = path.resolve(import.meta.dirname, '../../../deploy/examples');

function example(name: string): { text: string; source: string } {
  const source = path.join(EXAMPLES, name);
  return { text: readFileSync(source, 'utf8'), source };
}

describe('deploy/examples', () => {
  it('has exactly the examples this test checks', () => {
    // Assert: a new example file needs a test below.
    expect(readdirSync(EXAMPLES).sort()).toEqual(['agent.yaml', 'consortium.yaml', 'coordinator.yaml', 'privacy-policy.yaml', 'site-mapping.yaml', 'study-emr.yaml', 'study.yaml']);
  });

  it('coordinator.yaml validates against CoordinatorConfigSchema', () => {
    // Arrange
    const { text, source } = example('coordinator.yaml');

    // Act
    const config = parseConfigText(CoordinatorConfigSchema, text, source);

    // Assert
    expect(config.tls.revocations).toBeDefined();
    expect(path.isAbsolute(config.dataDir)).toBe(true);
  });

  it('agent.yaml validates against AgentConfigSchema', () => {
    // Arrange
    const { text, source } = example('agent.yaml');

    // Act
    const config = parseConfigText(AgentConfigSchema, text, source, checkAgentConfig);

    // Assert: every model the site policy allows exists in the vetted registry; both PACS kinds are shown.
    expect(Object.keys(config.datasets)).not.toHaveLength(0);
    expect(Object.values(config.sources ?? {}).map((s) => s.kind).sort()).toEqual(['dicomweb', 'dimse']);
    for (const model of config.policy.allowedModels) expect(() => getModelSpec(model)).not.toThrow();
  });

  it('privacy-policy.yaml validates against PrivacyPolicySchema and is the file agent.yaml names', () => {
    // Arrange
    const { text, source } = example('privacy-policy.yaml');
    const agent = parseConfigText(AgentConfigSchema, example('agent.yaml').text, 'agent.yaml');

    // Act
    const policy = parseConfigText(PrivacyPolicySchema, text, source);

    // Assert
    expect(agent.privacy?.policy).toBe('privacy-policy.yaml');
    expect(policy.maxEpsilonPerStudy).toBeLessThanOrEqual(policy.maxEpsilonTotal);
    expect(policy.maxDeltaPerStudy).toBeLessThanOrEqual(policy.maxDeltaTotal);
    for (const model of policy.allowedModels) expect(() => getModelSpec(model)).not.toThrow();
  });

  it('study.yaml validates against StudySpecSchema and fits agent.yaml', () => {
    // Arrange
    const study = example('study.yaml');
    const agent = example('agent.yaml');

    // Act
    const spec = parseConfigText(StudySpecSchema, study.text, study.source);
    const site = parseConfigText(AgentConfigSchema, agent.text, agent.source);

    // Assert: the example site would accept the example study.
    expect(() => getModelSpec(spec.model)).not.toThrow();
    expect(Object.keys(site.datasets)).toContain(spec.dataset);
    expect(spec.training.localEpochs).toBeLessThanOrEqual(site.policy.maxLocalEpochs);
    expect(site.policy.allowedModels).toContain(spec.model);
    expect(spec.minSites).toBeLessThanOrEqual(spec.maxSites ?? Number.MAX_SAFE_INTEGER);
  });

  it('study-emr.yaml passes the coordinator\'s study-data check and site-mapping.yaml the site\'s mapping check, as agent.yaml names it', () => {
    // Arrange
    const study = example('study-emr.yaml');
    const mapping = example('site-mapping.yaml');
    const agent = parseConfigText(AgentConfigSchema, example('agent.yaml').text, 'agent.yaml');

    // Act
    const spec = parseConfigText(StudySpecSchema, study.text, study.source);
    const map = parseSiteMapping(mapping.text, mapping.source);

    // Assert
    expect(() => checkStudyDataContract(spec)).not.toThrow();
    const emr = agent.datasets[spec.dataset];
    expect(emr !== undefined && 'kind' in emr && emr.kind === 'emr' ? emr.mapping : undefined).toBe('site-mapping.yaml');
    expect(map.standardCodes({ system: 'urn:oid:1.2.840.114350.1.13.0.1.7.2.768282', code: 'CHOL' })).toEqual([{ system: 'loinc', code: '2093-3' }]);
    expect(map.standardCodes({ system: 'urn:oid:1.2.840.114350.1.13.0.1.7.2.728286', code: 'DM2' })).toEqual([{ system: 'icd10', code: 'E11.9' }, { system: 'snomed', code: '44054006' }]);
    expect(map.procedureFor('radiograph,  chest')).toEqual({ system: 'radlex', code: 'RPID1301' });
  });

  it('consortium.yaml validates with parseConsortiumConfig', () => {
    // Arrange
    const { text, source } = example('consortium.yaml');

    // Act
    const config = parseConsortiumConfig(text, source);

    // Assert
    expect(config.sites.length).toBeGreaterThanOrEqual(2);
    expect(config.coordinator.port).toBe(7443);
  });

  it('would catch a broken example (unknown key)', () => {
    // Arrange
    const { text, source } = example('coordinator.yaml');

    // Act / Assert: the check above is not vacuous.
    expect(() => parseConfigText(CoordinatorConfigSchema, `${text}\nnotAKey: 1\n`, source)).toThrow(ConfigError);
  });
});
