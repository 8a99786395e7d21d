import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { epsilonFor } from '../../shared/src/dp/accountant.js';
import { repoRoot } from '../../shared/src/paths.js';
import { heartDiseaseDir } from '../../cli/src/public-data.js';

const run = promisify(execFile);
const dataDir = heartDiseaseDir();
const present = existsSync(path.join(dataDir, 'processed.cleveland.data'));

interface Report {
  dataset: string;
  secureAggregation: boolean;
  privacy: {
    mode: string;
    epsilon: number;
    delta: number;
    noiseMultiplier: number;
    accountant: string;
    perSite: Record<string, { epsilon: number; delta: number; accountant: string; rounds: number }>;
  };
  rounds: { round: number }[];
  final: { meanClientAccuracy: number; perSite: Record<string, { accuracy: number }> };
}

describe.skipIf(!present)(`tessera demo --dp-epsilon 1 --dp-delta 1e-5 on heart-disease (${dataDir})`, () => {
  it('runs record-level DP-SGD at every site, reports the calibrated privacy and each site ledger, and keeps a mean client accuracy ≥ 0.70', async () => {
    // Arrange
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-hd-dp-'));
    const reportFile = path.join(dir, 'report.json');
    try {
      // Act: separate processes over mTLS; each site enforces its own privacy policy and ledger.
      await run(
        process.execPath,
        [path.join(repoRoot(), 'bin', 'tessera.js'), 'demo', '--dataset', 'heart-disease', '--data-dir', dataDir, '--dp-epsilon', '1', '--dp-delta', '1e-5', '--workdir', path.join(dir, 'work'), '--report', reportFile],
        { env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' }, timeout: 200_000 },
      );
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;

      // Assert: the report contract (exact field names) and a σ that really reaches (1, 1e-5).
      const p = report.privacy;
      expect(p.mode).toBe('record');
      // Record-level DP composes with secure aggregation (on by default): the noisy update is masked.
      expect(report.secureAggregation).toBe(true);
      expect(p.epsilon).toBe(1);
      expect(p.delta).toBe(1e-5);
      expect(p.accountant).toBe('pld');
      expect(p.noiseMultiplier).toBeGreaterThan(1);
      const steps = report.rounds.length * 5; // the demo's DP default: 5 DP-SGD steps per round at rate 0.5
      expect(epsilonFor('pld', { q: 0.5, sigma: p.noiseMultiplier, steps }, 1e-5)).toBeLessThanOrEqual(1);
      // Every site's own ledger: the whole study spent at most ε = 1 on its records.
      expect(Object.keys(p.perSite).sort()).toEqual(['cleveland', 'hungary', 'switzerland', 'va']);
      for (const s of Object.values(p.perSite)) {
        expect(s.epsilon).toBeGreaterThan(0.9);
        expect(s.epsilon).toBeLessThanOrEqual(1);
        expect(s.rounds).toBe(report.rounds.length);
      }
      // FLamby with Opacus reports 0.685–0.706 at ε = 1.
      expect(report.final.meanClientAccuracy).toBeGreaterThanOrEqual(0.7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tessera demo --dp-mode site (synthetic cohort, 3 sites)', () => {
  it('runs site-level DP-FedAvg under secure aggregation: each site adds its share of the noise, the sum carries σ, and every ledger charges σ', async () => {
    // Arrange
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-site-dp-'));
    const reportFile = path.join(dir, 'report.json');
    try {
      // Act
      await run(
        process.execPath,
        [path.join(repoRoot(), 'bin', 'tessera.js'), 'demo', '--dp-epsilon', '8', '--dp-mode', 'site', '--rounds', '4', '--workdir', path.join(dir, 'work'), '--report', reportFile],
        { env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' }, timeout: 200_000 },
      );
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report & { status: string; sites: { id: string; trainExamples: number }[] };

      // Assert: only the secure sum of ≥ minSites noise shares is decoded, so σ is that of the sum and
      // each site's ledger charges the whole study's ε = 8 (not its share's).
      expect(report.status).toBe('completed');
      expect(report.secureAggregation).toBe(true);
      const p = report.privacy;
      expect(p.mode).toBe('site');
      const eps = epsilonFor('pld', { q: 1, sigma: p.noiseMultiplier, steps: 4 }, 1e-5);
      expect(eps).toBeLessThanOrEqual(8);
      expect(eps).toBeGreaterThan(7.9);
      expect(Object.keys(p.perSite).sort()).toEqual(['site-1', 'site-2', 'site-3']);
      for (const s of Object.values(p.perSite)) expect(s.epsilon).toBeCloseTo(eps, 2);
      // Real example counts are still recorded, although the aggregate is unweighted.
      for (const s of report.sites) expect(s.trainExamples).toBeGreaterThan(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
