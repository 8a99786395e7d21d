import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../shared/src/paths.js';
import { sharedDataDir } from '../../cli/src/public-data.js';

const run = promisify(execFile);
const npz = path.join(sharedDataDir(), 'medmnist', 'breastmnist.npz');
const present = existsSync(npz);

interface Report {
  dataset: string;
  model: string;
  secureAggregation: boolean;
  sites: { id: string; trainExamples: number; testExamples: number }[];
  rounds: { round: number; metrics: { loss: number; accuracy: number; auc?: number; valAuc?: number } }[];
  final: { auc: number | null; selectedRound: number | null; valAuc: number | null; lastRoundAuc: number | null; perSite: Record<string, { accuracy: number; testExamples: number }> };
  status: string;
}

// BreastMNIST lives in ../shared/data (CI always has it); skip only where it is absent.
describe.skipIf(!present)(`tessera demo on BreastMNIST as DICOM + FHIR behind the de-identification gate (${npz})`, () => {
  it(
    // The goal is 0.90 (MedMNIST v2 ResNet-18 at 28 px: 0.901); the default cnn-breastmnist-deep
    // reaches 0.887–0.917 over three seeds in plaintext and 0.901–0.906 under secure aggregation before
    // its 18-view test-time augmentation (docs/results.md), so the bar sits below that with room for
    // TF.js's unseeded dropout and seed 42's federation, which was not among those measured.
    'converts, ingests through the gate at each of 3 sites, trains cnn-breastmnist-deep and reaches a pooled test AUC ≥ 0.86',
    async () => {
      // Arrange
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-bm-'));
      const reportFile = path.join(dir, 'report.json');
      const dataDir = path.join(dir, 'hospitals');
      try {
        // Act: the demo converts the .npz into dataDir (DICOM + FHIR per site), then runs the study.
        await run(
          process.execPath,
          [path.join(repoRoot(), 'bin', 'tessera.js'), 'demo', '--dataset', 'breastmnist', '--data-dir', dataDir, '--workdir', path.join(dir, 'work'), '--report', reportFile],
          // 7–13 minutes with other jobs on 2 cores, up to about 30 under heavy load (the 18-view evaluation
          // adds about a seventh to a round).
          { env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' }, timeout: 2_300_000 },
        );
        const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;

        // Assert: the official split over 3 sites (546 train / 156 test images in all), one DICOM file
        // per image in each hospital folder, every round evaluated with a pooled AUC, and the bar.
        expect(report.status).toBe('completed');
        expect(report.dataset).toBe('breastmnist');
        expect(report.model).toBe('cnn-breastmnist-deep');
        // Secure aggregation is on: the train counts come from the sites' own caches, never the coordinator.
        expect(report.secureAggregation).toBe(true);
        expect(report.sites.map((s) => s.id)).toEqual(['site-1', 'site-2', 'site-3']);
        expect(report.sites.reduce((a, s) => a + s.trainExamples, 0)).toBe(546);
        expect(report.sites.reduce((a, s) => a + s.testExamples, 0)).toBe(156);
        const files = ['site-1', 'site-2', 'site-3'].map((s) => readdirSync(path.join(dataDir, s, 'dicom')).length);
        expect(files.reduce((a, b) => a + b, 0)).toBe(546 + 78 + 156);
        // Training read only the de-identified cache: as many DICOM files there as were written.
        const cached = ['site-1', 'site-2', 'site-3'].map((s) => readdirSync(path.join(dir, 'work', 'site-cache', s, 'dicom')).length);
        expect(cached).toEqual(files);
        for (const r of report.rounds) expect(Number.isFinite(r.metrics.auc)).toBe(true);
        // Every round also has a pooled validation AUC; final is the round with the best one (never test).
        for (const r of report.rounds) expect(Number.isFinite(r.metrics.valAuc)).toBe(true);
        const bestVal = Math.max(...report.rounds.map((r) => r.metrics.valAuc ?? -1));
        const selected = report.rounds.find((r) => r.round === report.final.selectedRound);
        expect(selected?.metrics.valAuc).toBe(bestVal);
        expect(report.final.valAuc).toBe(bestVal);
        expect(report.final.auc).toBe(selected?.metrics.auc);
        expect(report.final.lastRoundAuc).toBe(report.rounds.at(-1)?.metrics.auc);
        expect(report.final.auc).toBeGreaterThanOrEqual(0.86);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    2_400_000,
  );
});
