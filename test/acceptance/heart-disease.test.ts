import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../shared/src/paths.js';
import { heartDiseaseDir } from '../../cli/src/public-data.js';

const run = promisify(execFile);
const dataDir = heartDiseaseDir();
const present = existsSync(path.join(dataDir, 'processed.cleveland.data'));

interface Report {
  dataset: string;
  strategy: string;
  secureAggregation: boolean;
  sites: { id: string; trainExamples: number; testExamples: number }[];
  rounds: { round: number; durationMs: number; metrics: { loss: number; accuracy: number } }[];
  final: { meanClientAccuracy: number; perSite: Record<string, { accuracy: number }> };
}

// The UCI files live in ../shared/data (CI always has them); skip only where they are absent.
describe.skipIf(!present)(`tessera demo on the four UCI heart-disease hospitals (${dataDir})`, () => {
  it('reaches a mean client test accuracy of at least 0.73 with the default settings (FedAvg under secure aggregation), as separate processes over mTLS', async () => {
    // Arrange
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-hd-'));
    const reportFile = path.join(dir, 'report.json');
    try {
      // Act
      await run(process.execPath, [path.join(repoRoot(), 'bin', 'tessera.js'), 'demo', '--dataset', 'heart-disease', '--data-dir', dataDir, '--workdir', path.join(dir, 'work'), '--report', reportFile], {
        env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
        timeout: 180_000,
      });
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;

      // Assert: the FLamby split, the report contract, and the accuracy bar.
      expect(report.dataset).toBe('heart-disease');
      expect(report.strategy).toBe('fedavg');
      expect(report.secureAggregation).toBe(true);
      expect(report.sites).toEqual([
        { id: 'cleveland', trainExamples: 199, testExamples: 104 },
        { id: 'hungary', trainExamples: 172, testExamples: 89 },
        { id: 'switzerland', trainExamples: 30, testExamples: 16 },
        { id: 'va', trainExamples: 85, testExamples: 45 },
      ]);
      expect(report.rounds.map((r) => r.round)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      for (const r of report.rounds) expect(Number.isFinite(r.metrics.loss)).toBe(true);
      expect(Object.keys(report.final.perSite).sort()).toEqual(['cleveland', 'hungary', 'switzerland', 'va']);
      expect(report.final.meanClientAccuracy).toBeGreaterThanOrEqual(0.73);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
