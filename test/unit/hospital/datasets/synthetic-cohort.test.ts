import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateSyntheticCohort,
  getBuiltinSchema,
  parseTabularCsv,
  prepareSiteDataset,
  writeSyntheticCohort,
} from '../../../../site-agent/src/hospital/datasets/index.js';
import { accuracy, fitLogistic } from './logistic-fixture.js';

describe('generateSyntheticCohort', () => {
  const schema = getBuiltinSchema('synthetic-cohort');

  it('is deterministic for a seed and differs between seeds', () => {
    // Act
    const a = generateSyntheticCohort({ sites: 3, seed: 11 });
    const b = generateSyntheticCohort({ sites: 3, seed: 11 });
    const c = generateSyntheticCohort({ sites: 3, seed: 12 });
    // Assert
    expect(b).toEqual(a);
    expect(c[0]!.csv).not.toBe(a[0]!.csv);
    expect(a.map((s) => s.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
  });

  it('loads through the synthetic-cohort schema with no rejected or missing rows', () => {
    // Act
    const tables = generateSyntheticCohort({ sites: 5, seed: 3 }).map((s) => parseTabularCsv(s.csv, schema, s.siteId));
    // Assert
    for (const t of tables) {
      expect(t.report).toMatchObject({ rowsRejected: 0, rowsWithMissing: 0, problems: [] });
      expect(t.report.rowsAccepted).toBe(t.report.rowsRead);
      expect(t.d).toBe(10); // 8 numeric + smoker_1 + smoker_2
    }
  });

  it('is non-IID: sizes within ±30 % and prevalence spread over 25–60 %', () => {
    // Act
    const tables = generateSyntheticCohort({ sites: 6, seed: 5 }).map((s) => parseTabularCsv(s.csv, schema, s.siteId));
    const prevalence = tables.map((t) => t.labels.reduce((a, y) => a + y, 0) / t.n);
    const sizes = tables.map((t) => t.n);
    // Assert
    for (const n of sizes) {
      expect(n).toBeGreaterThanOrEqual(280);
      expect(n).toBeLessThanOrEqual(520);
    }
    expect(new Set(sizes).size).toBeGreaterThan(1);
    expect(Math.min(...prevalence)).toBeLessThan(0.33);
    expect(Math.max(...prevalence)).toBeGreaterThan(0.52);
    for (const p of prevalence) {
      expect(p).toBeGreaterThan(0.15);
      expect(p).toBeLessThan(0.7);
    }
  });

  it('is learnable: logistic regression reaches about 0.8 test accuracy on a site', async () => {
    // Arrange
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-cohort-'));
    try {
      const [file] = await writeSyntheticCohort(dir, { sites: 1, examplesPerSite: 1500, seed: 9 });
      const ds = await prepareSiteDataset({ csvPath: file!, schema });
      // Act
      const model = fitLogistic(ds.train);
      // Assert
      expect(accuracy(model, ds.test)).toBeGreaterThan(0.75);
      expect(accuracy(model, ds.test)).toBeLessThan(0.92);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes <dir>/<siteId>.csv with the generated text', async () => {
    // Arrange
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-cohort-'));
    try {
      // Act
      const paths = await writeSyntheticCohort(dir, { sites: 2, examplesPerSite: 20, seed: 1 });
      // Assert
      expect(paths).toEqual([path.join(dir, 'site-1.csv'), path.join(dir, 'site-2.csv')]);
      expect(await readFile(paths[1]!, 'utf8')).toBe(generateSyntheticCohort({ sites: 2, examplesPerSite: 20, seed: 1 })[1]!.csv);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
