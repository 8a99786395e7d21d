import { ConfigError } from '../../../../shared/src/errors.js';
import { compileTabularSchema, type CompiledTabularSchema, type TabularSchemaInput } from './tabular-schema.js';

/**
 * UCI Heart Disease `processed.*.data`, preprocessed exactly as FLamby's Fed-Heart-Disease: drop
 * slope, ca and thal; drop rows with '?'; one-hot cp and restecg with the first category dropped,
 * appended after the raw features (pandas `get_dummies(drop_first=True)` order); label `num > 0`.
 * Result: 13 features. Bounds are sanity checks only, wide enough for all four sites: Switzerland
 * writes 0 for an unknown cholesterol and FLamby keeps those rows, so `chol` allows 0.
 */
const HEART_DISEASE: TabularSchemaInput = {
  name: 'heart-disease',
  header: false,
  missingValues: ['?'],
  missingPolicy: 'drop-row',
  encodedColumnsLast: true,
  columns: [
    { name: 'age', type: 'number', min: 0, max: 120 },
    { name: 'sex', type: 'number', min: 0, max: 1 },
    { name: 'cp', type: 'categorical', categories: [1, 2, 3, 4], encode: 'onehot-drop-first' },
    { name: 'trestbps', type: 'number', min: 0, max: 300 },
    { name: 'chol', type: 'number', min: 0, max: 700 },
    { name: 'fbs', type: 'number', min: 0, max: 1 },
    { name: 'restecg', type: 'categorical', categories: [0, 1, 2], encode: 'onehot-drop-first' },
    { name: 'thalach', type: 'number', min: 0, max: 300 },
    { name: 'exang', type: 'number', min: 0, max: 1 },
    { name: 'oldpeak', type: 'number', min: -10, max: 10 },
    { name: 'slope', type: 'number', drop: true },
    { name: 'ca', type: 'number', drop: true },
    { name: 'thal', type: 'number', drop: true },
    { name: 'num', type: 'number', min: 0, max: 4 },
  ],
  label: { column: 'num', positiveWhen: { gt: 0 } },
};

/**
 * The columns written by `generateSyntheticCohort`. Bounds match the generator's clipping, so a
 * generated file loads with zero rejected rows.
 */
const SYNTHETIC_COHORT: TabularSchemaInput = {
  name: 'synthetic-cohort',
  header: true,
  columns: [
    { name: 'age', type: 'number', min: 18, max: 95 },
    { name: 'sex', type: 'number', min: 0, max: 1 },
    { name: 'bmi', type: 'number', min: 14, max: 60 },
    { name: 'systolic_bp', type: 'number', min: 80, max: 220 },
    { name: 'cholesterol', type: 'number', min: 100, max: 400 },
    { name: 'hba1c', type: 'number', min: 4, max: 14 },
    { name: 'smoker', type: 'categorical', categories: [0, 1, 2], encode: 'onehot-drop-first' },
    { name: 'exercise_hours', type: 'number', min: 0, max: 20 },
    { name: 'family_history', type: 'number', min: 0, max: 1 },
    { name: 'outcome', type: 'number', min: 0, max: 1 },
  ],
  label: { column: 'outcome', positiveWhen: { equals: [1] } },
};

const BUILTIN = { 'heart-disease': HEART_DISEASE, 'synthetic-cohort': SYNTHETIC_COHORT } as const;

/** Names accepted by {@link getBuiltinSchema}. */
export type BuiltinSchemaName = keyof typeof BUILTIN;

/** The names of the built-in schemas. */
export const BUILTIN_SCHEMA_NAMES: readonly BuiltinSchemaName[] = Object.freeze(
  Object.keys(BUILTIN) as BuiltinSchemaName[],
);

/**
 * A built-in schema, compiled.
 * @throws ConfigError for an unknown name.
 */
export function getBuiltinSchema(name: BuiltinSchemaName | (string & {})): CompiledTabularSchema {
  if (!Object.hasOwn(BUILTIN, name)) {
    throw new ConfigError(`unknown built-in tabular schema '${name}' (known: ${BUILTIN_SCHEMA_NAMES.join(', ')})`, {
      field: 'schema',
    });
  }
  return compileTabularSchema(BUILTIN[name as BuiltinSchemaName], `builtin:${name}`);
}

/** One FLamby Fed-Heart-Disease centre and its UCI file. */
export interface HeartDiseaseSite {
  readonly id: 'cleveland' | 'hungary' | 'switzerland' | 'va';
  readonly file: string;
}

/** The four FLamby Fed-Heart-Disease centres, in FLamby's centre order (0..3). */
export const HEART_DISEASE_SITES: readonly HeartDiseaseSite[] = Object.freeze([
  { id: 'cleveland', file: 'processed.cleveland.data' },
  { id: 'hungary', file: 'processed.hungarian.data' },
  { id: 'switzerland', file: 'processed.switzerland.data' },
  { id: 'va', file: 'processed.va.data' },
] as const);

