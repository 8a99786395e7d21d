/** The site's local tabular data plane: schema → CSV ingest → split → normalise, plus built-in data sets. */
export {
  MAX_REPORTED_PROBLEMS,
  type IngestProblem,
  type IngestReport,
  type Normalization,
  type SiteDataset,
  type TabularSplit,
  type TabularTable,
} from './tabular.js';
export {
  DEFAULT_MISSING_VALUES,
  TabularSchemaInputSchema,
  compileTabularSchema,
  loadTabularSchemaFile,
  resolveTabularSchema,
  type ColumnEncoding,
  type CompiledColumn,
  type CompiledTabularSchema,
  type MissingPolicy,
  type TabularColumnInput,
  type TabularSchemaInput,
} from './tabular-schema.js';
export { loadTabularCsv, parseTabularCsv } from './tabular-csv.js';
export { stratifiedSplit, takeRows, zNormalize, type SplitIndices } from './preprocess.js';
export { prepareSiteDataset, type PrepareSiteDatasetOptions } from './site-dataset.js';
export {
  BUILTIN_SCHEMA_NAMES,
  HEART_DISEASE_SITES,
  getBuiltinSchema,
  type BuiltinSchemaName,
  type HeartDiseaseSite,
} from './builtin-schemas.js';
export {
  SYNTHETIC_COHORT_COLUMNS,
  generateSyntheticCohort,
  writeSyntheticCohort,
  type SyntheticCohortOptions,
  type SyntheticSiteCsv,
} from './synthetic-cohort.js';
