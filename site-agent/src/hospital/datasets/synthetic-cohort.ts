import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../../../shared/src/errors.js';
import { createRng, type Rng } from '../../../../shared/src/rng.js';

/** Options of {@link generateSyntheticCohort}. */
export interface SyntheticCohortOptions {
  /** Number of sites (1..1000). Site ids are `site-1` … `site-N`. */
  sites: number;
  /** Mean rows per site; each site gets ±30 % of it. @default 400 */
  examplesPerSite?: number;
  /** Everything is a pure function of the options; the same seed gives byte-identical CSV. @default 42 */
  seed?: number;
}

/** One site's generated file. */
export interface SyntheticSiteCsv {
  siteId: string;
  /** CSV text with a header row, LF line endings and a final newline. Loads with the `synthetic-cohort` schema. */
  csv: string;
}

/** Column order of the generated CSV (and of the `synthetic-cohort` built-in schema). */
export const SYNTHETIC_COHORT_COLUMNS = [
  'age',
  'sex',
  'bmi',
  'systolic_bp',
  'cholesterol',
  'hba1c',
  'smoker',
  'exercise_hours',
  'family_history',
  'outcome',
] as const;

interface SiteProfile {
  siteId: string;
  size: number;
  ageShift: number;
  bmiShift: number;
  prevalence: number;
  seed: number;
}

const clip = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const round1 = (v: number): number => Math.round(v * 10) / 10;
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** One patient's features, already rounded as written, in {@link SYNTHETIC_COHORT_COLUMNS} order (no outcome). */
function drawPatient(rng: Rng, p: SiteProfile): number[] {
  const age = Math.round(clip(55 + p.ageShift + 12 * rng.normal(), 18, 95));
  const sex = rng.next() < 0.5 ? 1 : 0;
  const bmi = round1(clip(27 + p.bmiShift + 0.03 * (age - 55) + 4.5 * rng.normal(), 14, 60));
  const sbp = Math.round(clip(120 + 0.5 * (age - 55) + 0.8 * (bmi - 27) + 14 * rng.normal(), 80, 220));
  const chol = Math.round(clip(200 + 0.5 * (age - 55) + 35 * rng.normal(), 100, 400));
  const hba1c = round1(clip(5.6 + 0.06 * (bmi - 27) + 0.7 * rng.normal(), 4, 14));
  const u = rng.next();
  const smoker = u < 0.55 ? 0 : u < 0.8 ? 1 : 2;
  const exercise = round1(clip(3 - 0.05 * (bmi - 27) + 2 * rng.normal(), 0, 20));
  const family = rng.next() < 0.3 ? 1 : 0;
  return [age, sex, bmi, sbp, chol, hba1c, smoker, exercise, family];
}

// Overall strength of the signal, tuned so pooled logistic regression over 5 sites reaches ~0.82 test
// accuracy (measured 0.82–0.83 for seeds 1–3 at 2,000 rows per site; 0.81–0.84 at the default 400).
const SIGNAL = 1.4;

/** The fixed risk model (log-odds without the site intercept). Weights are per clinical unit. */
function riskScore(f: number[]): number {
  const [age = 0, sex = 0, bmi = 0, sbp = 0, chol = 0, hba1c = 0, smoker = 0, exercise = 0, family = 0] = f;
  const smokerEffect = [0, 0.5, 1.1][smoker] ?? 0;
  return SIGNAL * (
    0.07 * (age - 55) +
    0.6 * sex +
    0.1 * (bmi - 27) +
    0.03 * (sbp - 120) +
    0.01 * (chol - 200) +
    0.9 * (hba1c - 5.6) +
    smokerEffect -
    0.25 * (exercise - 3) +
    0.9 * family
  );
}

/** The site intercept that makes the expected prevalence equal `target` (bisection; the mean is monotone). */
function solveIntercept(scores: number[], target: number): number {
  let lo = -30;
  let hi = 30;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    const mean = scores.reduce((a, s) => a + sigmoid(s + mid), 0) / scores.length;
    if (mean < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function siteProfiles(opts: Required<SyntheticCohortOptions>): SiteProfile[] {
  const rng = createRng(opts.seed);
  const n = opts.sites;
  // Prevalence spread evenly over 25 %..60 %, then dealt to sites in a seeded order.
  const prevalences = rng.shuffle(Array.from({ length: n }, (_, i) => (n === 1 ? 0.4 : 0.25 + (0.35 * i) / (n - 1))));
  return prevalences.map((prevalence, i) => ({
    siteId: `site-${i + 1}`,
    size: Math.max(10, Math.round(opts.examplesPerSite * (0.7 + 0.6 * rng.next()))),
    // Covariate shift that partly explains each site's prevalence (older, heavier populations have more
    // outcomes), plus jitter; the per-site intercept makes up the rest.
    ageShift: 30 * (prevalence - 0.425) + 4 * (rng.next() - 0.5),
    bmiShift: 10 * (prevalence - 0.425) + 2 * (rng.next() - 0.5),
    prevalence,
    seed: rng.int(0x1_0000_0000),
  }));
}

function validate(opts: SyntheticCohortOptions): Required<SyntheticCohortOptions> {
  const o = { examplesPerSite: 400, seed: 42, ...opts };
  if (!Number.isInteger(o.sites) || o.sites < 1 || o.sites > 1000) {
    throw new ConfigError("'sites' must be an integer in [1, 1000]", { field: 'sites' });
  }
  if (!Number.isInteger(o.examplesPerSite) || o.examplesPerSite < 10) {
    throw new ConfigError("'examplesPerSite' must be an integer ≥ 10", { field: 'examplesPerSite' });
  }
  if (!Number.isInteger(o.seed)) throw new ConfigError("'seed' must be an integer", { field: 'seed' });
  return o;
}

/**
 * Generates a learnable, non-IID synthetic clinical cohort: one CSV per site. Labels come from a fixed
 * logistic model (Bernoulli draws are the noise), so logistic regression reaches roughly 0.8 test
 * accuracy. Sites differ in size (±30 %), age and BMI distribution, and outcome prevalence (25–60 %,
 * through a per-site intercept). No real patient is involved.
 * @throws ConfigError for invalid options.
 */
export function generateSyntheticCohort(opts: SyntheticCohortOptions): SyntheticSiteCsv[] {
  const o = validate(opts);
  return siteProfiles(o).map((p) => {
    const rng = createRng(p.seed);
    const patients = Array.from({ length: p.size }, () => drawPatient(rng, p));
    const scores = patients.map(riskScore);
    const intercept = solveIntercept(scores, p.prevalence);
    const lines = patients.map((f, i) => {
      const outcome = rng.next() < sigmoid((scores[i] as number) + intercept) ? 1 : 0;
      return [...f, outcome].join(',');
    });
    return { siteId: p.siteId, csv: `${SYNTHETIC_COHORT_COLUMNS.join(',')}\n${lines.join('\n')}\n` };
  });
}

/**
 * Generates a cohort and writes `<dir>/<siteId>.csv` for each site (creating `dir`).
 * @returns the written paths, in site order.
 */
export async function writeSyntheticCohort(dir: string, opts: SyntheticCohortOptions): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const { siteId, csv } of generateSyntheticCohort(opts)) {
    const file = path.join(dir, `${siteId}.csv`);
    await writeFile(file, csv, 'utf8');
    paths.push(file);
  }
  return paths;
}
