/**
 * `npm run bench -- report-labels`: the radiology report labeler (site-agent/src/hospital/reports) against
 * the `Problems` column of the Indiana University chest X-ray reports, beside a keyword-and-negation
 * baseline scored in the same run on the same reports.
 *
 * Only reports with uid ≤ 2000 are read: the filter runs on each parsed row before anything else touches
 * it, because the reports above uid 2000 are an acceptance set scored by others. Tuning used uid 1–1600;
 * uid 1601–2000 is the held-out slice, reported on its own.
 *
 * Gold: a finding is present when `Problems` (MeSH main headings, `;`-separated) holds its heading —
 * Cardiomegaly, Pleural Effusion, Pulmonary Atelectasis, Opacity, Calcified Granuloma, Airspace Disease,
 * Calcinosis — and "normal" when `Problems` is exactly `normal`. Predicted: a finding is present when the
 * labeler says positive (uncertain is not present: on uid < 1601 counting it as present lowered macro-F1,
 * 0.900 against 0.907, mostly through hedged effusions the indexers did not code); "normal" when no abnormal
 * finding of the lexicon is positive *or uncertain* — a hedged report is neither confirmed abnormal nor
 * normal, as in the CheXpert labeler's "No Finding". Reports with neither findings nor impression text
 * count as labelled with no mention. The headline slice keeps the reports whose `Problems` is "No Indexing"
 * (never coded, so gold says "not normal" for them); the `indexed` slice leaves them out.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCsvRecords } from '../site-agent/src/hospital/emr/csv-records.js';
import { isNormal, labelSections, type ReportLabels } from '../site-agent/src/hospital/reports/labeler.js';
import { compileLexicon, shippedLexicon, validateLexicon, type Lexicon } from '../site-agent/src/hospital/reports/lexicon.js';
import { repoRoot } from '../shared/src/paths.js';

/** Highest uid this bench (or anything tuned on it) may read. */
export const MAX_UID = 2000;
/** First uid of the held-out slice (never looked at while tuning). */
export const HELD_OUT_FROM = 1601;

/** The scored classes: lexicon finding id (or `normal`) → the `Problems` heading that marks it. */
export const TARGETS: readonly { readonly finding: string; readonly heading: string }[] = [
  { finding: 'cardiomegaly', heading: 'Cardiomegaly' },
  { finding: 'pleural-effusion', heading: 'Pleural Effusion' },
  { finding: 'atelectasis', heading: 'Pulmonary Atelectasis' },
  { finding: 'opacity', heading: 'Opacity' },
  { finding: 'calcified-granuloma', heading: 'Calcified Granuloma' },
  { finding: 'airspace-disease', heading: 'Airspace Disease' },
  { finding: 'calcinosis', heading: 'Calcinosis' },
  { finding: 'normal', heading: 'normal' },
];

/** One IU report with uid ≤ {@link MAX_UID}. */
export interface IuReport {
  readonly uid: number;
  readonly problems: ReadonlySet<string>;
  readonly findings: string;
  readonly impression: string;
}

/** Reads the IU reports CSV, keeping only uid ≤ {@link MAX_UID} (the filter is the first thing done to a row). */
export function loadIuReports(csvPath: string): IuReport[] {
  const { records } = parseCsvRecords(readFileSync(csvPath, 'utf8'));
  const [header, ...rows] = records;
  if (!header) throw new Error(`${csvPath}: empty`);
  const col = (name: string): number => {
    const i = header.fields.indexOf(name);
    if (i < 0) throw new Error(`${csvPath}: no column '${name}'`);
    return i;
  };
  const [uidCol, problemsCol, findingsCol, impressionCol] = [col('uid'), col('Problems'), col('findings'), col('impression')];
  const reports: IuReport[] = [];
  for (const row of rows) {
    const uid = Number(row.fields[uidCol]);
    if (!Number.isInteger(uid) || uid < 1 || uid > MAX_UID) continue; // acceptance set: never read further
    reports.push({
      uid,
      problems: new Set((row.fields[problemsCol] ?? '').split(';').map((p) => p.trim())),
      findings: row.fields[findingsCol] ?? '',
      impression: row.fields[impressionCol] ?? '',
    });
  }
  return reports;
}

/** Predicted set of scored classes for one report. */
export type Predictor = (report: IuReport) => ReadonlySet<string>;

/**
 * The labeler: a finding is present when positive; "normal" when no abnormal finding is positive or
 * uncertain (CheXpert's "No Finding" rule). `uncertainAsPositive` counts uncertain findings as present too.
 */
export function labelerPredictor(lexicon: Lexicon, uncertainAsPositive = false): Predictor {
  return (report) => {
    let labels: ReportLabels = {};
    try {
      labels = labelSections([{ name: 'findings', text: report.findings }, { name: 'impression', text: report.impression }], lexicon).labels;
    } catch {
      // No findings or impression text: no mention (see the module comment).
    }
    const present = new Set(Object.keys(labels).filter((f) => labels[f] === 'positive' || (uncertainAsPositive && labels[f] === 'uncertain')));
    if (isNormal(labels, lexicon, true)) present.add('normal');
    return present;
  };
}

const BASELINE_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  cardiomegaly: ['cardiomegaly', 'enlarged heart', 'heart is enlarged', 'heart size is enlarged'],
  'pleural-effusion': ['effusion'],
  atelectasis: ['atelecta'],
  opacity: ['opacit'],
  'calcified-granuloma': ['calcified granuloma'],
  'airspace-disease': ['airspace disease', 'air space disease'],
  calcinosis: ['calcif'],
};

/**
 * The five-minute baseline: a finding is present when a sentence holds one of its keywords and no
 * "no / not / without / negative for" comes before the keyword in that sentence; "normal" when none is.
 */
export const baselinePredictor: Predictor = (report) => {
  const sentences = `${report.findings}. ${report.impression}`.toLowerCase().split(/\.\s|\.$|\n/);
  const present = new Set<string>();
  for (const [finding, keywords] of Object.entries(BASELINE_KEYWORDS)) {
    for (const s of sentences) {
      const at = Math.min(...keywords.map((k) => s.indexOf(k)).filter((i) => i >= 0));
      if (Number.isFinite(at) && !/\b(?:no|not|without|negative for)\b/.test(s.slice(0, at))) present.add(finding);
    }
  }
  if (present.size === 0) present.add('normal');
  return present;
};

/** Precision, recall and F1 of one class. */
export interface ClassScore {
  readonly finding: string;
  readonly support: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Per-class scores and their macro-F1 over {@link TARGETS}. */
export function score(reports: readonly IuReport[], predict: Predictor): { classes: ClassScore[]; macroF1: number } {
  const predictions = reports.map(predict);
  const classes = TARGETS.map(({ finding, heading }) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    reports.forEach((r, i) => {
      const gold = heading === 'normal' ? r.problems.size === 1 && r.problems.has('normal') : r.problems.has(heading);
      const pred = predictions[i]?.has(finding) ?? false;
      if (gold && pred) tp++;
      else if (pred) fp++;
      else if (gold) fn++;
    });
    const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
    const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { finding, support: tp + fn, precision: round3(precision), recall: round3(recall), f1: round3(f1) };
  });
  return { classes, macroF1: round3(classes.reduce((a, c) => a + c.f1, 0) / classes.length) };
}

/** One row per (slice, class), then one summary row per slice. */
export interface ReportLabelsRow {
  readonly slice: string;
  readonly uidFilter: string;
  readonly reports: number;
  readonly finding: string;
  readonly support: number;
  readonly precision: number | string;
  readonly recall: number | string;
  readonly f1: number;
  readonly baselineF1: number;
}

/**
 * The shipped chest-xray lexicon, checked against its source file: `tsc -b` in incremental mode does not
 * re-emit an edited JSON module into dist/, and a bench scored with a stale lexicon would mislead.
 */
function currentChestXray(): Lexicon {
  const lexicon = shippedLexicon('chest-xray');
  const file = path.join(repoRoot(), 'site-agent', 'src', 'hospital', 'reports', 'lexicons', 'chest-xray.json');
  const source = compileLexicon(validateLexicon(JSON.parse(readFileSync(file, 'utf8')) as unknown, file));
  const terms = (l: Lexicon): string => JSON.stringify(l.findings.map((f) => [f.id, f.abnormal, f.phrases.map((p) => p.source)]));
  if (terms(lexicon) !== terms(source)) throw new Error(`the compiled chest-xray lexicon differs from ${file}: delete dist/ (or dist/.tsbuildinfo) and rebuild`);
  return lexicon;
}

/** Runs the suite on `<dataDir>/reports/iu-xray/indiana_reports.csv`. */
export function runReportLabelsSuite(dataDir: string): ReportLabelsRow[] {
  const all = loadIuReports(path.join(dataDir, 'reports', 'iu-xray', 'indiana_reports.csv'));
  const lexicon = currentChestXray();
  const slices: [string, string, IuReport[]][] = [
    ['all', `uid ≤ ${MAX_UID}`, all],
    ['tuning', `uid < ${HELD_OUT_FROM}`, all.filter((r) => r.uid < HELD_OUT_FROM)],
    ['held-out', `${HELD_OUT_FROM} ≤ uid ≤ ${MAX_UID}`, all.filter((r) => r.uid >= HELD_OUT_FROM)],
    // "No Indexing" reports were never coded: scoring them counts every normal-looking one as a false "normal".
    ['indexed', `uid ≤ ${MAX_UID}, Problems ≠ No Indexing`, all.filter((r) => !r.problems.has('No Indexing'))],
  ];
  const rows: ReportLabelsRow[] = [];
  for (const [slice, uidFilter, reports] of slices) {
    const ours = score(reports, labelerPredictor(lexicon));
    const base = score(reports, baselinePredictor);
    ours.classes.forEach((c, i) => rows.push({ slice, uidFilter, reports: reports.length, ...c, baselineF1: base.classes[i]?.f1 ?? 0 }));
    rows.push({ slice, uidFilter, reports: reports.length, finding: 'macro-F1', support: reports.length, precision: '-', recall: '-', f1: ours.macroF1, baselineF1: base.macroF1 });
  }
  return rows;
}
