import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../shared/src/paths.js';
import { convertMedmnistToSites } from '../../site-agent/src/hospital/datasets/medmnist-convert.js';
import { writeTinyMedmnist } from '../helpers/npz-fixture.js';

const run = promisify(execFile);

/**
 * The product with the developers' data folder pointed at an empty one: whatever `tessera deid`, an imaging
 * site agent and the default demo need at run time (the PS3.15 table among it) ships inside the product.
 * Every input here is written by the test itself.
 */
describe('with TESSERA_SHARED_DATA pointing at an empty folder', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let hospitals: string;

  async function tessera(args: string[], timeout: number): Promise<{ stdout: string; stderr: string }> {
    return run(process.execPath, [path.join(repoRoot(), 'bin', 'tessera.js'), ...args], { env, timeout });
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-no-shared-'));
    const empty = path.join(dir, 'empty-shared-data');
    mkdirSync(empty);
    env = { ...process.env, TESSERA_SHARED_DATA: empty, TESSERA_LOG_LEVEL: 'warn' };
    // Three hospitals' DICOM files and FHIR bundles from a small MedMNIST-shaped file the test writes.
    const npz = path.join(dir, 'tiny.npz');
    await writeTinyMedmnist(npz, { train: 48, val: 12, test: 24 });
    hospitals = path.join(dir, 'hospitals');
    await convertMedmnistToSites({ npz, outDir: hospitals, seed: 3 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tessera deid de-identifies DICOM files with the PS3.15 table it ships (621 rows)', async () => {
    // Arrange
    const inDir = path.join(hospitals, 'site-1', 'dicom');
    const files = readdirSync(inDir);
    const out = path.join(dir, 'deid-out');
    const reportFile = path.join(dir, 'deid-report.json');
    // Act
    await tessera(['deid', '--in', inDir, '--out', out, '--report', reportFile, '--secret', path.join(dir, 'secret.hex')], 120_000);
    // Assert
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { profileRows: number; filesIn: number; written: unknown[]; failed: unknown[] };
    expect(report.profileRows).toBe(621);
    expect(report.filesIn).toBe(files.length);
    expect(report.failed).toEqual([]);
    expect(report.written).toHaveLength(files.length);
    expect(readdirSync(out)).toHaveLength(files.length);
  }, 180_000);

  it('imaging site agents ingest DICOM + FHIR through the gate and train (tessera demo --dataset breastmnist on the test files)', async () => {
    // Arrange
    const reportFile = path.join(dir, 'imaging-report.json');
    // Act: the demo starts a coordinator and three imaging site agents as processes; --data-dir already
    // holds the sites' files, so nothing is converted from ../shared.
    await tessera(
      ['demo', '--dataset', 'breastmnist', '--data-dir', hospitals, '--model', 'cnn-breastmnist', '--rounds', '1', '--local-epochs', '1', '--workdir', path.join(dir, 'imaging-work'), '--report', reportFile],
      420_000,
    );
    // Assert: every site trained from its de-identified cache and the round committed.
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { status: string; dataset: string; sites: { id: string; trainExamples: number }[]; rounds: unknown[] };
    expect(report.status).toBe('completed');
    expect(report.dataset).toBe('breastmnist');
    expect(report.rounds).toHaveLength(1);
    expect(report.sites.map((s) => s.id)).toEqual(['site-1', 'site-2', 'site-3']);
    expect(report.sites.reduce((a, s) => a + s.trainExamples, 0)).toBe(48);
  }, 480_000);

  it('the default demo (synthetic cohort) completes', async () => {
    // Arrange
    const reportFile = path.join(dir, 'demo-report.json');
    // Act
    await tessera(['demo', '--rounds', '1', '--workdir', path.join(dir, 'demo-work'), '--report', reportFile], 240_000);
    // Assert
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { status: string; dataset: string; rounds: unknown[] };
    expect(report.status).toBe('completed');
    expect(report.dataset).toBe('synthetic');
    expect(report.rounds).toHaveLength(1);
  }, 300_000);
});
