/**
 * An evaluated study ({@link StudyDataResult}) as a site's training data: missing values filled by the
 * contract's strategy (means from this site's training rows only), z-scored on the training split, and the
 * split the contract asked for.
 */
import type { StudyData } from '../../../../shared/src/study/study-data-spec.js';
import { zNormalize } from '../datasets/preprocess.js';
import type { Normalization, SiteDataset, TabularSplit } from '../datasets/tabular.js';
import type { StudyDataResult, StudyRow } from './evaluate.js';

interface Fill {
  readonly strategy: 'mean' | 'zero' | 'constant' | 'drop';
  readonly value?: number | undefined;
  readonly indicator: boolean;
}

function fills(data: StudyData): Fill[] {
  const f = data.features;
  const none: Fill = { strategy: 'zero', indicator: false };
  const mean: Fill = { strategy: 'mean', indicator: false };
  return [...f.observations.map((o) => o.missing), ...f.codes.map(() => none), ...f.demographics.map(() => mean), ...f.fhirpath.map((p) => p.missing)];
}

/** Feature matrix rows of `rows` (after filling), with the label vectors. */
export function studyFeatureRows(data: StudyData, result: StudyDataResult, rows: readonly StudyRow[] = result.rows): { x: Float32Array; y: Float32Array; d: number; k: number } {
  const fill = fills(data);
  const train = result.rows.filter((r) => r.split === 'train');
  const means = fill.map((_, i) => {
    const present = train.map((r) => r.raw[i]).filter((v): v is number => v !== undefined);
    return present.length === 0 ? 0 : present.reduce((a, b) => a + b, 0) / present.length;
  });
  const d = result.columns.length;
  const k = result.labelType === 'binary' ? 1 : result.classes.length;
  const x = new Float32Array(rows.length * d);
  const y = new Float32Array(rows.length * k);
  rows.forEach((r, row) => {
    let at = row * d;
    fill.forEach((f, i) => {
      const v = r.raw[i];
      x[at++] = v ?? (f.strategy === 'mean' ? (means[i] ?? 0) : f.strategy === 'constant' ? (f.value ?? 0) : 0);
      if (f.indicator) x[at++] = v === undefined ? 1 : 0;
    });
    r.y.forEach((v, j) => (y[row * k + j] = v));
  });
  return { x, y, d, k };
}

/**
 * The training data of an EMR study. `y` holds one value per row for a binary label, and `k` per row
 * (one-hot for multi-class, one 0/1 per class for multi-label) otherwise.
 */
export function studySiteDataset(name: string, data: StudyData, result: StudyDataResult): SiteDataset {
  const of = (split: StudyRow['split']): TabularSplit => {
    const rows = result.rows.filter((r) => r.split === split);
    const { x, y, d } = studyFeatureRows(data, result, rows);
    return { x, y, n: rows.length, d };
  };
  const train = of('train');
  const test = of('test');
  const val = of('val');
  const z = zNormalize(train, test);
  const valZ = val.n > 0 ? zNormalize(train, val).test : undefined;
  return {
    dataset: name,
    featureNames: [...result.columns],
    train: z.train,
    test: z.test,
    ...(valZ !== undefined ? { val: valZ } : {}),
    report: { file: name, rowsRead: result.counts.patients, rowsAccepted: result.rows.length, rowsWithMissing: 0, rowsRejected: result.counts.patients - result.rows.length, problems: [] },
    normalization: z.normalization,
  };
}

/**
 * The feature vector of each patient of an imaging study, for a model with a feature input: built exactly
 * as an EMR study's row (same windows at the patient's index date, same harmonisation, same missing-value
 * filling with this site's training means), then z-scored with the training patients' mean and standard
 * deviation. Every image of the patient carries it after its pixels.
 */
export function studyImagingFeatures(data: StudyData, result: StudyDataResult): { byPatient: Map<string, Float32Array>; normalization: Normalization } {
  const { x, d } = studyFeatureRows(data, result);
  const all: TabularSplit = { x, y: new Float32Array(result.rows.length), n: result.rows.length, d };
  const trainIdx = result.rows.flatMap((r, i) => (r.split === 'train' ? [i] : []));
  const train: TabularSplit = { x: new Float32Array(trainIdx.length * d), y: new Float32Array(trainIdx.length), n: trainIdx.length, d };
  trainIdx.forEach((i, j) => train.x.set(x.subarray(i * d, (i + 1) * d), j * d));
  // Fitted on the training patients only, applied to every patient.
  const { normalization, test: z } = zNormalize(train, all);
  return { byPatient: new Map(result.rows.map((r, i) => [r.patient, z.x.slice(i * d, (i + 1) * d)])), normalization };
}
