import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../shared/src/errors.js';
import {
  compileTabularSchema,
  loadTabularCsv,
  parseTabularCsv,
  type TabularSchemaInput,
} from '../../../../site-agent/src/hospital/datasets/index.js';

const SCHEMA: TabularSchemaInput = {
  name: 'ward',
  header: true,
  columns: [
    { name: 'age', type: 'number', min: 0, max: 120 },
    { name: 'smoker', type: 'categorical', categories: ['never', 'former', 'current'] },
    { name: 'site_note', type: 'number', drop: true },
    { name: 'stage', type: 'categorical', categories: [1, 2, 3], encode: 'onehot-drop-first' },
    { name: 'outcome', type: 'categorical', categories: ['alive', 'dead'], encode: 'raw' },
  ],
  label: { column: 'outcome', positiveWhen: { equals: ['dead'] } },
};

// Distinctive values that could be PHI; none may appear in any report or message.
const SECRET_TEXT = 'JaneDoe1961';
const SECRET_NUMBER = '987654';
const SECRET_CATEGORY = 'heavy-smoker-MRN42';

const GOOD = ['40,never,?,1,alive', '51,current,x,3.0,dead', '62,former,,2,dead'];

describe('parseTabularCsv', () => {
  const schema = compileTabularSchema(SCHEMA);

  it('encodes one-hot in category order, drop-first drops the first, dropped columns are ignored', () => {
    // Act
    const t = parseTabularCsv(['age,smoker,site_note,stage,outcome', ...GOOD].join('\n'), schema, 'good.csv');
    // Assert
    expect(t.featureNames).toEqual(['age', 'smoker_never', 'smoker_former', 'smoker_current', 'stage_2', 'stage_3']);
    expect([...t.features]).toEqual([40, 1, 0, 0, 0, 0, 51, 0, 0, 1, 0, 1, 62, 0, 1, 0, 1, 0]);
    expect([...t.labels]).toEqual([0, 1, 1]);
    expect(t.report).toEqual({
      file: 'good.csv',
      rowsRead: 3,
      rowsAccepted: 3,
      rowsWithMissing: 0,
      rowsRejected: 0,
      problems: [],
    });
  });

  it('reports broken rows with line and column, skips them, and keeps the good rows', () => {
    // Arrange: BOM, CRLF, blank lines in the middle and at the end.
    const lines = [
      'age,smoker,site_note,stage,outcome', // 1
      GOOD[0], // 2
      '41,never,1,alive', // 3: wrong field count
      `${SECRET_TEXT},never,0,1,alive`, // 4: not a number
      '', // 5: blank
      `${SECRET_NUMBER},former,0,2,dead`, // 6: out of range
      `50,${SECRET_CATEGORY},0,2,dead`, // 7: unknown category
      GOOD[1], // 8
      '55,never,0,7,alive', // 9: unknown category (numeric)
      '  ', // 10: blank
      '56,"never",0,1,"dead"', // 11: quoted fields are fine
      '57,never,0,1,"unclosed', // 12: unbalanced quote
      GOOD[2], // 13
      '',
      '',
    ];
    const text = `\uFEFF${lines.join('\r\n')}`;
    // Act
    const t = parseTabularCsv(text, schema, 'ward-7.csv');
    // Assert
    expect(t.n).toBe(4);
    expect([...t.labels]).toEqual([0, 1, 1, 1]);
    expect(t.features[0]).toBe(40);
    expect(t.report).toMatchObject({ rowsRead: 10, rowsAccepted: 4, rowsRejected: 6, rowsWithMissing: 0 });
    expect(t.report.problems).toEqual([
      { line: 3, reason: 'expected 5 fields, found 4' },
      { line: 4, column: 'age', reason: 'not a number' },
      { line: 6, column: 'age', reason: 'outside the allowed range [0, 120]' },
      { line: 7, column: 'smoker', reason: 'not one of the 3 listed categories' },
      { line: 9, column: 'stage', reason: 'not one of the 3 listed categories' },
      { line: 12, reason: 'unterminated quoted field' },
    ]);
  });

  it('never puts a cell value into the report', () => {
    // Arrange
    const text = ['age,smoker,site_note,stage,outcome', `${SECRET_TEXT},never,0,1,alive`, `${SECRET_NUMBER},never,0,1,alive`, `1,${SECRET_CATEGORY},0,1,alive`, `1,never,0,1,${SECRET_CATEGORY}`].join('\n');
    // Act
    const report = JSON.stringify(parseTabularCsv(text, schema, 'f.csv').report);
    // Assert
    expect(report).toContain('"line":5');
    for (const secret of [SECRET_TEXT, SECRET_NUMBER, SECRET_CATEGORY]) expect(report).not.toContain(secret);
  });

  it('drops rows with a missing kept value under drop-row, but not for a missing dropped column', () => {
    // Arrange
    const text = ['age,smoker,site_note,stage,outcome', '?,never,0,1,alive', '30,NA,0,1,alive', '31,never,,1,?', '32,never,?,1,alive'].join('\n');
    // Act
    const t = parseTabularCsv(text, schema, 'f.csv');
    // Assert
    expect(t.n).toBe(1);
    expect(t.features[0]).toBe(32);
    expect(t.report).toMatchObject({ rowsRead: 4, rowsAccepted: 1, rowsWithMissing: 3, rowsRejected: 0, problems: [] });
  });

  it('imputes the observed mean of each feature under mean-impute and rejects a missing label', () => {
    // Arrange
    const s = compileTabularSchema({ ...SCHEMA, missingPolicy: 'mean-impute' });
    const text = ['age,smoker,site_note,stage,outcome', '20,never,0,2,alive', '40,former,0,3,dead', '?,?,0,2,dead', '50,never,0,1,?'].join('\n');
    // Act
    const t = parseTabularCsv(text, s, 'f.csv');
    // Assert
    expect(t.n).toBe(3);
    expect([...t.features.subarray(12, 18)]).toEqual([30, 0.5, 0.5, 0, 1, 0]);
    expect(t.report).toMatchObject({ rowsRead: 4, rowsAccepted: 3, rowsWithMissing: 2, rowsRejected: 1 });
    expect(t.report.problems).toEqual([{ line: 5, column: 'outcome', reason: 'label is missing and cannot be imputed' }]);
  });

  it('refuses a header that does not match the schema, without quoting it', () => {
    // Act
    let err: unknown;
    try {
      parseTabularCsv(`age,${SECRET_TEXT},site_note,stage,outcome\n${GOOD[0]}`, schema, 'h.csv');
    } catch (e) {
      err = e;
    }
    // Assert
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe('TESSERA_INPUT_HEADER_MISMATCH');
    expect((err as InputError).message).toContain("'smoker'");
    expect((err as InputError).message).not.toContain(SECRET_TEXT);
  });

  it('keeps only the first 100 problems but counts them all', () => {
    // Arrange
    const bad = Array.from({ length: 150 }, () => 'x,never,0,1,alive');
    // Act
    const t = parseTabularCsv(['age,smoker,site_note,stage,outcome', ...bad].join('\n'), schema, 'f.csv');
    // Assert
    expect(t.report.rowsRejected).toBe(150);
    expect(t.report.problems).toHaveLength(100);
    expect(t.report.problems[99]!.line).toBe(101);
  });
});

describe('loadTabularCsv', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-csv-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file through an inline schema', async () => {
    // Arrange
    const file = path.join(dir, 'ok.csv');
    await writeFile(file, ['age,smoker,site_note,stage,outcome', ...GOOD, ''].join('\r\n'));
    // Act
    const t = await loadTabularCsv(file, SCHEMA);
    // Assert
    expect(t.n).toBe(3);
    expect(t.report.file).toBe(file);
  });

  it('throws TESSERA_INPUT_FILE_UNREADABLE naming the path for a missing file', async () => {
    // Arrange
    const file = path.join(dir, 'absent.csv');
    // Act
    const err = await loadTabularCsv(file, SCHEMA).catch((e: unknown) => e);
    // Assert
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe('TESSERA_INPUT_FILE_UNREADABLE');
    expect((err as InputError).message).toContain(file);
    expect((err as InputError).context['file']).toBe(file);
  });
});
