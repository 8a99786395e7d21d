import { describe, expect, it } from 'vitest';
import { parseConsortiumConfig } from '../../../shared/src/config/consortium-config.js';
import { ConfigError } from '../../../shared/src/errors.js';

const MINIMAL = `
name: Nordic Imaging Consortium
sites:
  - id: st-olav
    displayName: St. Olavs hospital
  - id: haukeland
`;

function configErrorOf(text: string): ConfigError {
  try {
    parseConsortiumConfig(text, 'consortium.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConsortiumConfig', () => {
  it('fills every default and freezes the result', () => {
    // Act
    const config = parseConsortiumConfig(MINIMAL, 'consortium.yaml');
    // Assert
    expect(config).toEqual({
      name: 'Nordic Imaging Consortium',
      coordinator: { host: '127.0.0.1', port: 7443, id: 'coordinator', dnsNames: [], ipAddresses: [] },
      sites: [{ id: 'st-olav', displayName: 'St. Olavs hospital' }, { id: 'haukeland' }],
      operators: [],
      validityDays: 365,
    });
    expect(Object.isFrozen(config.coordinator)).toBe(true);
    expect(Object.isFrozen(config.sites[0])).toBe(true);
  });

  it.each([
    ['an unknown key', `${MINIMAL}\ncoordinator:\n  port: 9000\n  foo: 1\n`, "consortium.yaml: unknown key 'foo' at /coordinator"],
    ['an unknown top-level key', `${MINIMAL}\nextra: true\n`, "unknown key 'extra' at /"],
    ['a bad site id', 'name: x\nsites:\n  - id: st-olav\n  - id: Bad_Id\n', 'consortium.yaml: /sites/1/id: expected string to match'],
    ['duplicate site ids', 'name: x\nsites:\n  - id: a\n  - id: a\n', "consortium.yaml: /sites/1/id 'a' duplicates the id at /sites/0/id"],
    ['an operator reusing a site id', `${MINIMAL}operators:\n  - { id: haukeland, role: operator }\n`, '/operators/0/id'],
    ['no sites', 'name: x\nsites: []\n', '/sites: expected array length to be greater or equal to 1'],
    ['a port out of range', `${MINIMAL}coordinator: { port: 70000 }\n`, '/coordinator/port'],
    ['a bad operator role', `${MINIMAL}operators:\n  - { id: ana, role: root }\n`, "/operators/0/role must be one of 'operator', 'compliance', 'site-admin'"],
    ['a site-admin without site', `${MINIMAL}operators:\n  - { id: ana, role: site-admin }\n`, "/operators/0 is a site-admin and needs 'site'"],
    ['a site-admin of an unlisted site', `${MINIMAL}operators:\n  - { id: ana, role: site-admin, site: nowhere }\n`, "names 'nowhere'"],
    ['site on a non-site-admin', `${MINIMAL}operators:\n  - { id: ana, role: compliance, site: haukeland }\n`, "only allowed for role 'site-admin'"],
    ['invalid YAML', 'name: [unclosed\n', 'consortium.yaml: not valid YAML'],
    ['a missing name', 'sites:\n  - id: a\n', '/name is required'],
  ])('refuses %s with a ConfigError naming the path', (_label, text, expected) => {
    // Act
    const error = configErrorOf(text);
    // Assert
    expect(error.code).toBe('TESSERA_CONFIG_INVALID');
    expect(error.message).toContain(expected);
  });

  it('accepts a full file with operators', () => {
    // Arrange
    const text = `${MINIMAL}coordinator:\n  host: fl.example.org\n  dnsNames: [fl.example.org]\noperators:\n  - { id: ana, role: site-admin, site: haukeland }\n  - { id: bo, role: compliance }\nvalidityDays: 90\n`;
    // Act
    const config = parseConsortiumConfig(text, 'consortium.yaml');
    // Assert
    expect(config.operators).toEqual([{ id: 'ana', role: 'site-admin', site: 'haukeland' }, { id: 'bo', role: 'compliance' }]);
    expect(config.coordinator).toMatchObject({ host: 'fl.example.org', port: 7443, dnsNames: ['fl.example.org'] });
    expect(config.validityDays).toBe(90);
  });
});
