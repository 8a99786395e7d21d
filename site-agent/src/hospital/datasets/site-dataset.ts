import { ConfigError, InputError } from '../../../../shared/src/errors.js';
import { stratifiedSplit, takeRows, zNormalize } from './preprocess.js';
import type { SiteDataset } from './tabular.js';
import { loadTabularCsv } from './tabular-csv.js';
import { resolveTabularSchema, type CompiledTabularSchema, type TabularSchemaInput } from './tabular-schema.js';

/** Options of {@link prepareSiteDataset}. */
export interface PrepareSiteDatasetOptions {
  /** The site's CSV file. */
  csvPath: string;
  /** A compiled schema, an inline schema object, or the path of a JSON/YAML schema file. */
  schema: CompiledTabularSchema | TabularSchemaInput | string;
  /** Share of rows held out for test, in [0, 1). @default 0.34 (FLamby's 66/34) */
  testFraction?: number;
  /** Seed of the stratified shuffle. @default 42 */
  seed?: number;
  /** Feature scaling fitted on train only. @default 'zscore' */
  normalize?: 'zscore' | 'none';
}

/**
 * Loads a site's CSV, splits it stratified by label and normalises it: the one call a site agent makes
 * to get training data.
 * @throws InputError `TESSERA_INPUT_FILE_UNREADABLE` (file), `TESSERA_INPUT_NO_ROWS` (nothing usable).
 * @throws ConfigError for an invalid schema or option.
 */
export async function prepareSiteDataset(opts: PrepareSiteDatasetOptions): Promise<SiteDataset> {
  const testFraction = opts.testFraction ?? 0.34;
  const seed = opts.seed ?? 42;
  const normalize = opts.normalize ?? 'zscore';
  if (!Number.isInteger(seed)) throw new ConfigError("'seed' must be an integer", { field: 'seed' });
  const schema = await resolveTabularSchema(opts.schema);
  const table = await loadTabularCsv(opts.csvPath, schema);
  if (table.n === 0) {
    throw new InputError('TESSERA_INPUT_NO_ROWS', `${opts.csvPath}: no usable rows (see the ingest report counters)`, {
      file: opts.csvPath,
      rowsRead: table.report.rowsRead,
      rowsRejected: table.report.rowsRejected,
      rowsWithMissing: table.report.rowsWithMissing,
    });
  }
  const { trainIdx, testIdx } = stratifiedSplit(table.labels, testFraction, seed);
  const train = takeRows(table.features, table.labels, table.d, trainIdx);
  const test = takeRows(table.features, table.labels, table.d, testIdx);
  const base = { dataset: schema.name, featureNames: table.featureNames, report: table.report };
  if (normalize === 'none') {
    const normalization = { mean: new Array<number>(table.d).fill(0), std: new Array<number>(table.d).fill(1) };
    return { ...base, train, test, normalization };
  }
  return { ...base, ...zNormalize(train, test) };
}
