/**
 * Shapes of a site's local tabular data once it is in memory. Everything here is numeric and
 * de-identified by construction: feature matrices and labels, plus an ingest report that names files,
 * line numbers and column names but never cell values.
 */

/** One split (train or test) of a tabular data set, as dense float32 arrays. */
export interface TabularSplit {
  /** Features, row-major, `n × d`. */
  x: Float32Array;
  /** Binary labels, 0 or 1, length `n`. */
  y: Float32Array;
  /** Number of rows. */
  n: number;
  /** Number of features per row. */
  d: number;
}

/** One problem found while ingesting a file. Never carries the offending cell value (it may be PHI). */
export interface IngestProblem {
  /** 1-based physical line number in the file (the header and blank lines count). */
  line: number;
  /** Schema column name, when the problem is tied to one field. */
  column?: string;
  /** Why the row was refused, in words that do not quote the data. */
  reason: string;
}

/**
 * What happened while reading one CSV file.
 *
 * Invariant: `rowsRead = rowsAccepted + rowsRejected + (rows dropped for missing values)`, where the
 * last term is `rowsWithMissing` under the `drop-row` policy and 0 under `mean-impute`.
 */
export interface IngestReport {
  /** The file as it was given to the loader. */
  file: string;
  /** Non-blank data lines (header excluded). */
  rowsRead: number;
  /** Rows present in the output. */
  rowsAccepted: number;
  /** Rows with at least one missing value in a kept column (features or label). */
  rowsWithMissing: number;
  /** Rows refused as malformed (field count, unparseable number, out of range, unknown category). */
  rowsRejected: number;
  /** The first {@link MAX_REPORTED_PROBLEMS} problems, in file order. */
  problems: IngestProblem[];
}

/** How many problems an {@link IngestReport} keeps; the counters keep counting beyond it. */
export const MAX_REPORTED_PROBLEMS = 100;

/** The result of loading one CSV file through a schema. */
export interface TabularTable {
  /** Row-major `n × d` features. */
  features: Float32Array;
  /** 0/1 labels, length `n`. */
  labels: Float32Array;
  /** Rows. */
  n: number;
  /** Features per row. */
  d: number;
  /** Name of each of the `d` features (one-hot features are `<column>_<category>`). */
  featureNames: string[];
  /** What was read, kept and refused. */
  report: IngestReport;
}

/** Per-feature normalisation fitted on the training split. */
export interface Normalization {
  /** Mean of each feature over the training rows. */
  mean: number[];
  /** Population standard deviation of each feature over the training rows (1 where it was 0). */
  std: number[];
}

/** A site's data set, split and (optionally) normalised, ready for local training. */
export interface SiteDataset {
  /** The schema's `name`. */
  dataset: string;
  featureNames: string[];
  train: TabularSplit;
  test: TabularSplit;
  /** Validation split for model selection (image studies: the official `val` split), evaluated next to `test`. */
  val?: TabularSplit;
  report: IngestReport;
  /** Identity (mean 0, std 1) when normalisation is `'none'`. */
  normalization: Normalization;
}
