import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/src/errors.js';
import {
  compileTabularSchema,
  loadTabularSchemaFile,
  type TabularSchemaInput,
} from '../../../../site-agent/src/hospital/datasets/index.js';

function makeSchema(): TabularSchemaInput {
  return {
    name: 'tiny',
    header: true,
    columns: [
      { name: 'age', type: 'number', min: 0, max: 120 },
      { name: 'smoker', type: 'categorical', categories: ['no', 'yes'] },
      { name: 'y', type: 'number' },
    ],
    label: { column: 'y', positiveWhen: { equals: [1] } },
  };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('compileTabularSchema', () => {
  it('applies the documented defaults', () => {
    // Act
    const s = compileTabularSchema(makeSchema());
    // Assert
    expect(s.delimiter).toBe(',');
    expect(s.missingValues).toEqual(['?', '', 'NA']);
    expect(s.missingPolicy).toBe('drop-row');
    expect(s.columns.map((c) => c.encode)).toEqual(['raw', 'onehot', 'raw']);
    expect(s.columns.every((c) => !c.drop)).toBe(true);
    expect(Object.isFrozen(s)).toBe(true);
  });

  it.each([
    ['top level', (s: Record<string, unknown>) => (s['colour'] = 'red'), 'colour'],
    ['a column', (s: Record<string, unknown>) => ((s['columns'] as Record<string, unknown>[])[1]!['weight'] = 2), 'columns[1].weight'],
    ['the label rule', (s: Record<string, unknown>) => (((s['label'] as Record<string, Record<string, unknown>>)['positiveWhen']!)['lt'] = 3), 'label.positiveWhen.lt'],
  ])('refuses an unknown key at %s with a ConfigError naming its JSON path', (_where, mutate, jsonPath) => {
    // Arrange
    const input = makeSchema() as unknown as Record<string, unknown>;
    mutate(input);
    // Act
    const err = thrown(() => compileTabularSchema(input));
    // Assert
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('TESSERA_CONFIG_INVALID');
    expect((err as ConfigError).message).toContain(`'${jsonPath}'`);
    expect((err as ConfigError).context['field']).toBe(jsonPath);
  });

  it.each<[string, (s: TabularSchemaInput) => void, string]>([
    ['categorical without categories', (s) => delete s.columns[1]!.categories, 'columns[1].categories'],
    ['label naming no column', (s) => (s.label.column = 'nope'), 'label.column'],
    ['label with both rules', (s) => (s.label.positiveWhen.gt = 0), 'label.positiveWhen'],
    ['min above max', (s) => (s.columns[0]!.min = 200), 'columns[0].min'],
    ['one-hot on a number', (s) => (s.columns[0]!.encode = 'onehot'), 'columns[0].encode'],
    ['a wrong type', (s) => ((s as unknown as Record<string, unknown>)['header'] = 'yes'), 'header'],
  ])('refuses %s', (_what, mutate, field) => {
    // Arrange
    const input = makeSchema();
    mutate(input);
    // Act
    const err = thrown(() => compileTabularSchema(input));
    // Assert
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).context['field']).toBe(field);
  });
});

describe('loadTabularSchemaFile', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-schema-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the same schema from JSON and YAML', async () => {
    // Arrange
    const json = path.join(dir, 's.json');
    const yaml = path.join(dir, 's.yaml');
    await writeFile(json, JSON.stringify(makeSchema()));
    await writeFile(
      yaml,
      [
        'name: tiny',
        'header: true',
        'columns:',
        '  - { name: age, type: number, min: 0, max: 120 }',
        '  - { name: smoker, type: categorical, categories: [no, yes] }',
        '  - { name: y, type: number }',
        'label: { column: y, positiveWhen: { equals: [1] } }',
      ].join('\n'),
    );
    // Act
    const [a, b] = await Promise.all([loadTabularSchemaFile(json), loadTabularSchemaFile(yaml)]);
    // Assert
    expect(b).toEqual(a);
  });

  it('names the file when a key is unknown', async () => {
    // Arrange
    const file = path.join(dir, 'bad.yml');
    await writeFile(file, 'name: x\nheader: false\ncolumns: [{ name: a, type: number }]\nlabel: { column: a, positiveWhen: { gt: 0 } }\nextra: 1\n');
    // Act + Assert
    await expect(loadTabularSchemaFile(file)).rejects.toThrow(new RegExp(`${file}.*'extra' is not a known key`));
  });

  it('refuses a missing file with a ConfigError', async () => {
    await expect(loadTabularSchemaFile(path.join(dir, 'absent.json'))).rejects.toBeInstanceOf(ConfigError);
  });
});
