import { readFile } from 'node:fs/promises';
import { InputError, errorMessage } from '../../../../shared/src/errors.js';
import { MAX_REPORTED_PROBLEMS, type IngestProblem, type IngestReport, type TabularTable } from './tabular.js';
import {
  resolveTabularSchema,
  type CompiledColumn,
  type CompiledTabularSchema,
  type TabularSchemaInput,
} from './tabular-schema.js';

// Privacy: nothing in this file may put a cell's text into a message, a problem or an error. Reasons
// quote only schema facts (column names, bounds, category counts, field counts).

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** One kept column's contribution to a row: features written at `offsets`. */
interface ColumnPlan {
  readonly index: number;
  readonly column: CompiledColumn;
  /** Feature slot for each encoded output of this column (raw: 1, one-hot: one per kept category). */
  readonly offsets: number[];
}

type CellResult = { kind: 'missing' } | { kind: 'bad'; reason: string } | { kind: 'ok'; value: number; text: string };

function parseNumber(text: string): number | undefined {
  return NUMBER_RE.test(text) ? Number(text) : undefined;
}

function sameValue(text: string, asNumber: number | undefined, target: string | number): boolean {
  return typeof target === 'number' ? asNumber === target : text === target;
}

function parseCell(raw: string, col: CompiledColumn, missing: ReadonlySet<string>): CellResult {
  const text = raw.trim();
  if (missing.has(text)) return { kind: 'missing' };
  const asNumber = parseNumber(text);
  if (col.type === 'number') {
    if (asNumber === undefined || !Number.isFinite(asNumber)) return { kind: 'bad', reason: 'not a number' };
    if ((col.min !== undefined && asNumber < col.min) || (col.max !== undefined && asNumber > col.max)) {
      return { kind: 'bad', reason: `outside the allowed range [${col.min ?? '-inf'}, ${col.max ?? 'inf'}]` };
    }
    return { kind: 'ok', value: asNumber, text };
  }
  const idx = col.categories.findIndex((c) => sameValue(text, asNumber, c));
  if (idx < 0) return { kind: 'bad', reason: `not one of the ${col.categories.length} listed categories` };
  return { kind: 'ok', value: idx, text };
}

/** Splits one line into fields; double quotes protect delimiters ("" is a literal quote). null: unbalanced. */
function splitFields(line: string, delimiter: string): string[] | null {
  if (!line.includes('"')) return line.split(delimiter);
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) return null;
  fields.push(cur);
  return fields;
}

function planFeatures(schema: CompiledTabularSchema): { plans: ColumnPlan[]; names: string[]; labelIndex: number } {
  const kept = schema.columns
    .map((column, index) => ({ column, index }))
    .filter(({ column }) => !column.drop && column.name !== schema.label.column);
  const isEncoded = (c: CompiledColumn): boolean => c.type === 'categorical' && c.encode !== 'raw';
  const ordered = schema.encodedColumnsLast
    ? [...kept.filter((k) => !isEncoded(k.column)), ...kept.filter((k) => isEncoded(k.column))]
    : kept;
  const names: string[] = [];
  const plans = ordered.map(({ column, index }): ColumnPlan => {
    const outputs = !isEncoded(column)
      ? [column.name]
      : column.categories.slice(column.encode === 'onehot-drop-first' ? 1 : 0).map((c) => `${column.name}_${c}`);
    const offsets = outputs.map((name) => names.push(name) - 1);
    return { index, column, offsets };
  });
  const labelIndex = schema.columns.findIndex((c) => c.name === schema.label.column);
  return { plans, names, labelIndex };
}

/** Writes one parsed cell into the row's feature slots. */
function encodeInto(row: Float64Array, plan: ColumnPlan, value: number): void {
  const { column, offsets } = plan;
  if (column.type === 'number' || column.encode === 'raw') {
    row[offsets[0] as number] = value;
    return;
  }
  const shift = column.encode === 'onehot-drop-first' ? 1 : 0;
  for (const o of offsets) row[o] = 0;
  const slot = offsets[value - shift];
  if (slot !== undefined) row[slot] = 1;
}

function isPositive(schema: CompiledTabularSchema, labelCol: CompiledColumn, cell: CellResult & { kind: 'ok' }): boolean {
  const { gt, equals } = schema.label.positiveWhen;
  if (gt !== undefined) return cell.value > gt;
  const asNumber = labelCol.type === 'number' ? cell.value : parseNumber(cell.text);
  return (equals ?? []).some((t) => sameValue(cell.text, asNumber, t));
}

/** Fills NaN slots with the column mean over the rows where it was observed (0 when never observed). */
function meanImpute(rows: Float64Array[], d: number): void {
  for (let j = 0; j < d; j++) {
    let sum = 0;
    let count = 0;
    for (const r of rows) {
      const v = r[j] as number;
      if (!Number.isNaN(v)) {
        sum += v;
        count++;
      }
    }
    const mean = count > 0 ? sum / count : 0;
    for (const r of rows) if (Number.isNaN(r[j])) r[j] = mean;
  }
}

/**
 * Parses CSV text through a compiled schema. Malformed rows are counted and reported (line + column +
 * reason, never the value) and skipped; they never throw. Handles a UTF-8 BOM, CRLF and blank lines.
 *
 * Under `mean-impute` the means are taken over the whole file, before any train/test split.
 * A row whose label is missing cannot be imputed: it is dropped (`drop-row`) or rejected (`mean-impute`).
 *
 * @param file names the source in the report (a path or any label).
 * @throws InputError `TESSERA_INPUT_HEADER_MISMATCH` when `schema.header` is set and the header row does
 *   not list the schema's columns in order.
 */
export function parseTabularCsv(text: string, schema: CompiledTabularSchema, file: string): TabularTable {
  const { plans, names, labelIndex } = planFeatures(schema);
  const labelCol = schema.columns[labelIndex] as CompiledColumn;
  const missing = new Set(schema.missingValues);
  const d = names.length;
  const report: IngestReport = { file, rowsRead: 0, rowsAccepted: 0, rowsWithMissing: 0, rowsRejected: 0, problems: [] };
  const reject = (problem: IngestProblem): void => {
    report.rowsRejected++;
    if (report.problems.length < MAX_REPORTED_PROBLEMS) report.problems.push(problem);
  };
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n|\r/);
  let headerPending = schema.header;

  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '') return;
    const fields = splitFields(line, schema.delimiter);
    if (headerPending) {
      headerPending = false;
      checkHeader(fields, schema, file, lineNo);
      return;
    }
    report.rowsRead++;
    if (fields === null) return reject({ line: lineNo, reason: 'unterminated quoted field' });
    if (fields.length !== schema.columns.length) {
      return reject({ line: lineNo, reason: `expected ${schema.columns.length} fields, found ${fields.length}` });
    }
    const row = new Float64Array(d);
    let sawMissing = false;
    for (const plan of plans) {
      const cell = parseCell(fields[plan.index] as string, plan.column, missing);
      if (cell.kind === 'bad') return reject({ line: lineNo, column: plan.column.name, reason: cell.reason });
      if (cell.kind === 'missing') {
        sawMissing = true;
        for (const o of plan.offsets) row[o] = Number.NaN;
      } else encodeInto(row, plan, cell.value);
    }
    const labelCell = parseCell(fields[labelIndex] as string, labelCol, missing);
    if (labelCell.kind === 'bad') return reject({ line: lineNo, column: labelCol.name, reason: labelCell.reason });
    if (labelCell.kind === 'missing' || sawMissing) {
      report.rowsWithMissing++;
      if (schema.missingPolicy === 'drop-row') return;
      if (labelCell.kind === 'missing') {
        return reject({ line: lineNo, column: labelCol.name, reason: 'label is missing and cannot be imputed' });
      }
    }
    rows.push(row);
    labels.push(isPositive(schema, labelCol, labelCell) ? 1 : 0);
  });

  if (schema.missingPolicy === 'mean-impute') meanImpute(rows, d);
  const n = rows.length;
  const features = new Float32Array(n * d);
  rows.forEach((r, i) => features.set(r, i * d));
  report.rowsAccepted = n;
  return { features, labels: Float32Array.from(labels), n, d, featureNames: names, report };
}

function checkHeader(fields: string[] | null, schema: CompiledTabularSchema, file: string, line: number): void {
  const expected = schema.columns.map((c) => c.name);
  const got = (fields ?? []).map((f) => f.trim());
  if (got.length !== expected.length) {
    throw new InputError(
      'TESSERA_INPUT_HEADER_MISMATCH',
      `${file}:${line}: header has ${got.length} fields, schema '${schema.name}' has ${expected.length} columns`,
      { file, line },
    );
  }
  const bad = expected.findIndex((name, i) => got[i] !== name);
  if (bad >= 0) {
    throw new InputError(
      'TESSERA_INPUT_HEADER_MISMATCH',
      `${file}:${line}: header field ${bad + 1} is not schema column '${expected[bad]}'`,
      { file, line, column: expected[bad] ?? '' },
    );
  }
}

/**
 * Reads a CSV file and parses it with {@link parseTabularCsv}.
 * @param schema a compiled schema, an inline schema object, or the path of a JSON/YAML schema file.
 * @throws InputError `TESSERA_INPUT_FILE_UNREADABLE` naming the path when the file cannot be read.
 * @throws ConfigError when the schema is invalid.
 */
export async function loadTabularCsv(
  filePath: string,
  schema: CompiledTabularSchema | TabularSchemaInput | string,
): Promise<TabularTable> {
  const compiled = await resolveTabularSchema(schema);
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `cannot read data file ${filePath}: ${errorMessage(err)}`, {
      file: filePath,
    }, { cause: err });
  }
  return parseTabularCsv(text, compiled, filePath);
}
