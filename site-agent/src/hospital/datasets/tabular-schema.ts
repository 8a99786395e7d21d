import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../../../../shared/src/errors.js';

/**
 * A declarative description of a site's CSV file: its columns, how to parse and encode them, which
 * values mean "missing", and how to derive the binary label. Validated with TypeBox; unknown keys fail.
 */

const CategoryValue = Type.Union([Type.String(), Type.Number()]);

const ColumnSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    type: Type.Union([Type.Literal('number'), Type.Literal('categorical')]),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    categories: Type.Optional(Type.Array(CategoryValue, { minItems: 1 })),
    encode: Type.Optional(Type.Union([Type.Literal('raw'), Type.Literal('onehot'), Type.Literal('onehot-drop-first')])),
    drop: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const LabelSchema = Type.Object(
  {
    column: Type.String({ minLength: 1 }),
    positiveWhen: Type.Object(
      {
        gt: Type.Optional(Type.Number()),
        equals: Type.Optional(Type.Array(CategoryValue, { minItems: 1 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** TypeBox schema of {@link TabularSchemaInput}. */
export const TabularSchemaInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    header: Type.Boolean(),
    delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 1 })),
    missingValues: Type.Optional(Type.Array(Type.String())),
    missingPolicy: Type.Optional(Type.Union([Type.Literal('drop-row'), Type.Literal('mean-impute')])),
    encodedColumnsLast: Type.Optional(Type.Boolean()),
    columns: Type.Array(ColumnSchema, { minItems: 1 }),
    label: LabelSchema,
  },
  { additionalProperties: false },
);

/** A tabular schema as written by a user (JSON, YAML or inline). */
export type TabularSchemaInput = Static<typeof TabularSchemaInputSchema>;
/** One column of a {@link TabularSchemaInput}. */
export type TabularColumnInput = Static<typeof ColumnSchema>;
/** How a column becomes features. */
export type ColumnEncoding = 'raw' | 'onehot' | 'onehot-drop-first';
/** What to do with a row that has a missing value in a kept column. */
export type MissingPolicy = 'drop-row' | 'mean-impute';

/** A column with every default applied. */
export interface CompiledColumn {
  readonly name: string;
  readonly type: 'number' | 'categorical';
  readonly min: number | undefined;
  readonly max: number | undefined;
  /** Empty for number columns. */
  readonly categories: readonly (string | number)[];
  /**
   * `raw` for numbers (the value), and for categoricals the category's 0-based index in `categories`.
   * @default 'raw' for number columns, 'onehot' for categorical ones
   */
  readonly encode: ColumnEncoding;
  /** Ignored entirely: not parsed, not checked, missing there never drops the row. @default false */
  readonly drop: boolean;
}

/** A validated, fully defaulted, frozen schema: what the loader consumes. */
export interface CompiledTabularSchema {
  readonly name: string;
  readonly header: boolean;
  /** @default ',' */
  readonly delimiter: string;
  /** Compared with the trimmed cell. @default ['?', '', 'NA'] */
  readonly missingValues: readonly string[];
  /** @default 'drop-row' (what FLamby does) */
  readonly missingPolicy: MissingPolicy;
  /**
   * Put the features of one-hot columns after all raw features (pandas `get_dummies` order, which
   * FLamby's Fed-Heart-Disease uses) instead of in column order.
   * @default false
   */
  readonly encodedColumnsLast: boolean;
  readonly columns: readonly CompiledColumn[];
  readonly label: {
    readonly column: string;
    /** Exactly one of `gt` and `equals` is set. */
    readonly positiveWhen: { readonly gt?: number; readonly equals?: readonly (string | number)[] };
  };
}

/** Default missing-value markers. */
export const DEFAULT_MISSING_VALUES: readonly string[] = Object.freeze(['?', '', 'NA']);

// Schemas produced by compileTabularSchema, so resolveTabularSchema never re-validates (or trusts) a look-alike.
const compiledSchemas = new WeakSet<CompiledTabularSchema>();

/** `/columns/0/foo` → `columns[0].foo` */
function pointerToPath(pointer: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  return out === '' ? '(root)' : out;
}

function fail(source: string, field: string, message: string): never {
  throw new ConfigError(`tabular schema ${source}: '${field}' ${message}`, { source, field });
}

function compileColumn(col: TabularColumnInput, i: number, source: string): CompiledColumn {
  const at = `columns[${i}]`;
  if (col.min !== undefined && col.max !== undefined && col.min > col.max) fail(source, `${at}.min`, 'must be ≤ max');
  if (col.type === 'categorical') {
    if (col.categories === undefined) fail(source, `${at}.categories`, 'is required for a categorical column');
    if (col.min !== undefined || col.max !== undefined) fail(source, `${at}`, 'min/max apply to number columns only');
    if (new Set(col.categories.map((c) => `${typeof c}:${c}`)).size !== col.categories.length) {
      fail(source, `${at}.categories`, 'has duplicates');
    }
  } else {
    if (col.categories !== undefined) fail(source, `${at}.categories`, 'applies to categorical columns only');
    if (col.encode !== undefined && col.encode !== 'raw') fail(source, `${at}.encode`, "must be 'raw' for a number");
  }
  return Object.freeze({
    name: col.name,
    type: col.type,
    min: col.min,
    max: col.max,
    categories: Object.freeze([...(col.categories ?? [])]),
    encode: col.encode ?? (col.type === 'categorical' ? 'onehot' : 'raw'),
    drop: col.drop ?? false,
  });
}

/**
 * Validates a schema and applies defaults. `source` names where it came from in error messages.
 * @throws ConfigError naming the JSON path of the first problem (unknown key, wrong type, bad reference).
 */
export function compileTabularSchema(input: unknown, source = 'inline'): CompiledTabularSchema {
  const first = Value.Errors(TabularSchemaInputSchema, input).First();
  if (first !== undefined) {
    const field = pointerToPath(first.path);
    const why = first.type === ValueErrorType.ObjectAdditionalProperties ? 'is not a known key' : first.message;
    fail(source, field, why);
  }
  const s = input as TabularSchemaInput;
  const columns = s.columns.map((c, i) => compileColumn(c, i, source));
  const names = new Set<string>();
  columns.forEach((c, i) => {
    if (names.has(c.name)) fail(source, `columns[${i}].name`, 'duplicates an earlier column');
    names.add(c.name);
  });
  const labelCol = columns.find((c) => c.name === s.label.column);
  if (labelCol === undefined) fail(source, 'label.column', 'does not name a column');
  if (labelCol.drop) fail(source, 'label.column', 'names a dropped column');
  const { gt, equals } = s.label.positiveWhen;
  if ((gt === undefined) === (equals === undefined)) {
    fail(source, 'label.positiveWhen', "needs exactly one of 'gt' and 'equals'");
  }
  if (gt !== undefined && labelCol.type !== 'number') fail(source, 'label.positiveWhen.gt', 'needs a number column');
  if (columns.every((c) => c.drop || c.name === labelCol.name)) fail(source, 'columns', 'has no feature column');
  const positiveWhen = gt !== undefined ? { gt } : { equals: Object.freeze([...(equals ?? [])]) };
  const compiled: CompiledTabularSchema = Object.freeze({
    name: s.name,
    header: s.header,
    delimiter: s.delimiter ?? ',',
    missingValues: Object.freeze([...(s.missingValues ?? DEFAULT_MISSING_VALUES)]),
    missingPolicy: s.missingPolicy ?? 'drop-row',
    encodedColumnsLast: s.encodedColumnsLast ?? false,
    columns: Object.freeze(columns),
    label: Object.freeze({ column: labelCol.name, positiveWhen: Object.freeze(positiveWhen) }),
  });
  compiledSchemas.add(compiled);
  return compiled;
}

/**
 * Reads a schema from a `.json`, `.yaml` or `.yml` file and compiles it.
 * @throws ConfigError when the file cannot be read or parsed, or fails validation.
 */
export async function loadTabularSchemaFile(filePath: string): Promise<CompiledTabularSchema> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read tabular schema file ${filePath}: ${errorMessage(err)}`, { file: filePath }, {
      cause: err,
    });
  }
  const ext = path.extname(filePath).toLowerCase();
  let parsed: unknown;
  try {
    parsed = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`tabular schema file ${filePath} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}`, {
      file: filePath,
    }, { cause: err });
  }
  return compileTabularSchema(parsed, filePath);
}

/** Accepts a compiled schema, an inline schema object, or a path to a schema file. */
export async function resolveTabularSchema(
  schema: CompiledTabularSchema | TabularSchemaInput | string,
): Promise<CompiledTabularSchema> {
  if (typeof schema === 'string') return loadTabularSchemaFile(schema);
  if (compiledSchemas.has(schema as CompiledTabularSchema)) return schema as CompiledTabularSchema;
  return compileTabularSchema(schema);
}
