import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../../cli/src/commands/demo.js';
import { repoRoot } from '../../shared/src/paths.js';
import { sharedDataDir } from '../../cli/src/public-data.js';

const run = promisify(execFile);
const npz = path.join(sharedDataDir(), 'medmnist', 'pneumoniamnist_varun19424.npz');

// PneumoniaMNIST lives in ../shared/data (CI has it); skip only where it is absent.
describe.skipIf(!existsSync(npz))(`tessera demo --dataset chest-xray --quick (${npz})`, () => {
  it(
    'generates three hospitals, ingests each through the gates, labels from codes and report text, trains under secure aggregation and scores the held-out split',
    async () => {
      // Arrange
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-cx-'));
      const reportFile = path.join(dir, 'report.json');
      const dataDir = path.join(dir, 'hospitals');
      try {
        // Act
        await run(
          process.execPath,
          [path.join(repoRoot(), 'bin', 'tessera.js'), 'demo', '--dataset', 'chest-xray', '--quick', '--data-dir', dataDir, '--workdir', path.join(dir, 'work'), '--report', reportFile],
          { env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' }, timeout: 1_100_000 },
        );
        const report = JSON.parse(readFileSync(reportFile, 'utf8')) as DemoReport;

        // Assert: the demo report's own fields, then the chest-xray section.
        expect(report.status).toBe('completed');
        expect(report.dataset).toBe('chest-xray');
        expect(report.secureAggregation).toBe(true);
        expect(report.sites.map((s) => s.id)).toEqual(['site-1', 'site-2', 'site-3']);
        expect(report.rounds).toHaveLength(2);
        // The sites hold one normal radiograph in ten: the study weights each site's loss by its own class counts.
        const study = JSON.parse(readFileSync(path.join(dir, 'work', 'study.json'), 'utf8')) as { training: { classWeighting?: string } };
        expect(study.training.classWeighting).toBe('balanced');
        const cx = report.chestXray;
        expect(cx).toBeDefined();
        // --quick: 240 train + 60 val images at the sites, 120 test images held out of all of them.
        const atSites = ['site-1', 'site-2', 'site-3'].map((s) => readdirSync(path.join(dataDir, s, 'dicom')).length);
        expect(atSites.reduce((a, b) => a + b, 0)).toBe(300);
        expect(cx?.heldOut?.examples).toBe(120);
        expect(cx?.heldOut?.positives).toBe(75);
        expect(Number.isFinite(cx?.heldOut?.auc)).toBe(true);
        expect(Object.keys(cx?.heldOut?.perSite ?? {})).toEqual(['site-1', 'site-2', 'site-3']);
        expect(cx?.anchorAuc).toBe(0.944);
        // Every site derived labels of both classes, from its own source, and they match the truth.
        expect(cx?.sites.map((s) => s.source)).toEqual(['snomed-ct', 'icd-10-cm+local-codes', 'report-text']);
        for (const s of cx?.sites ?? []) {
          const total = (k: 'positive' | 'negative'): number => s.splits.train[k] + s.splits.val[k] + s.splits.test[k];
          expect(total('positive')).toBeGreaterThan(0);
          expect(total('negative')).toBeGreaterThan(0);
          expect(s.agreement).toBe(1);
        }
        // Training read only the de-identified caches: each holds as many images as its hospital exported.
        const cached = ['site-1', 'site-2', 'site-3'].map((s) => readdirSync(path.join(dir, 'work', 'site-cache', s, 'dicom')).length);
        expect(cached).toEqual(atSites);
        expect(cx?.timings.federationMs).toBeGreaterThan(0);
        expect(report.durationMs).toBeGreaterThanOrEqual((cx?.timings.generateMs ?? 0) + (cx?.timings.federationMs ?? 0));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    1_200_000,
  );
});
