import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEART_DISEASE_SITES, getBuiltinSchema, prepareSiteDataset } from '../../../../site-agent/src/hospital/datasets/index.js';
import { heartDiseaseDir } from '../../../../cli/src/public-data.js';

const DIR = heartDiseaseDir();
const PRESENT = existsSync(DIR);
if (!PRESENT) console.warn(`heart-disease tests skipped: data folder ${DIR} is absent (set TESSERA_SHARED_DATA)`);

// FLamby Fed-Heart-Disease: rows kept after dropping slope/ca/thal and then rows with '?', and its 66/34 split.
const FLAMBY = {
  cleveland: { rowsRead: 303, kept: 303, positives: 139, train: 199, test: 104 },
  hungary: { rowsRead: 294, kept: 261, positives: 98, train: 172, test: 89 },
  switzerland: { rowsRead: 123, kept: 46, positives: 45, train: 30, test: 16 },
  va: { rowsRead: 200, kept: 130, positives: 101, train: 85, test: 45 },
} as const;

const FEATURES = [
  'age', 'sex', 'trestbps', 'chol', 'fbs', 'thalach', 'exang', 'oldpeak',
  'cp_2', 'cp_3', 'cp_4', 'restecg_1', 'restecg_2',
];

function columnStats(x: Float32Array, n: number, d: number, j: number): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i * d + j]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (x[i * d + j]! - mean) ** 2;
  return { mean, std: Math.sqrt(sq / n) };
}

describe.skipIf(!PRESENT)(`heart-disease on the real UCI files (skipped when ${DIR} is absent)`, () => {
  const schema = getBuiltinSchema('heart-disease');

  it.each(HEART_DISEASE_SITES.map((s) => [s.id, s.file] as const))(
    '%s matches FLamby sizes, 13 features, normalised train',
    async (id, file) => {
      // Arrange
      const expected = FLAMBY[id];
      // Act
      const ds = await prepareSiteDataset({ csvPath: path.join(DIR, file), schema });
      // Assert
      expect(ds.dataset).toBe('heart-disease');
      expect(ds.featureNames).toEqual(FEATURES);
      expect(ds.report).toMatchObject({
        rowsRead: expected.rowsRead,
        rowsAccepted: expected.kept,
        rowsWithMissing: expected.rowsRead - expected.kept,
        rowsRejected: 0,
        problems: [],
      });
      expect([ds.train.n, ds.test.n]).toEqual([expected.train, expected.test]);
      expect(ds.train.d).toBe(13);
      const positives = [...ds.train.y, ...ds.test.y].filter((y) => y === 1).length;
      expect(positives).toBe(expected.positives);
      for (let j = 0; j < 13; j++) {
        const { mean, std } = columnStats(ds.train.x, ds.train.n, 13, j);
        expect(Math.abs(mean)).toBeLessThan(1e-5);
        // A one-hot level absent from a small site's train split is constant: it stays 0, not ÷0.
        if (ds.normalization.std[j] === 1 && std < 1e-6) continue;
        expect(std).toBeCloseTo(1, 4);
      }
    },
  );
});
