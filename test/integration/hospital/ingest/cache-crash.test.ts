/**
 * Crash-safe cache writes: what a crash mid-write leaves in the de-identified cache (a `<name>.<hex>.tmp`
 * temporary, or a cache file whose data never reached the disk) is swept at start, counted and logged, and
 * never taken as a cached instance: the next pull fetches and writes it again. Against a real Orthanc (PACS
 * path) and for the folder gate (`tessera deid`), with files planted as a kill would leave them.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { AgentConfigSchema, checkAgentConfig, type AgentImagingDatasetConfig } from '../../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../../shared/src/config/validate.js';
import { loadConfidentialityProfile } from '../../../../site-agent/src/hospital/deid/dicom-profile.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { writeFileAtomic } from '../../../../site-agent/src/hospital/dicom/writer.js';
import { runDicomDeid } from '../../../../site-agent/src/hospital/ingest/dicom-deid-gate.js';
import { fillImagingCache } from '../../../../site-agent/src/hospital/ingest/imaging-cache.js';
import { captureLogger } from '../../../helpers/log-capture.js';
import { orthancSkipReason, startOrthanc, type Orthanc } from '../../../helpers/orthanc.js';

const FILES = ['pydicom/CT_small.dcm', 'pydicom/MR_small.dcm', 'pydicom/77654033_CT2_17106', 'dicomparser/ctimage.dcm'];
const skip = orthancSkipReason();

function names(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe('crash-safe cache writes', () => {
  let work: string;
  let originals: string;
  let secretFile: string;
  /** `tessera deid` over the same files into a clean folder: the reference cache. */
  let expectedDir: string;
  let expected: string[];

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-cache-crash-'));
    originals = path.join(work, 'originals');
    mkdirSync(originals);
    for (const f of FILES) copyFileSync(path.join(sharedDataDir(), 'dicom', f), path.join(originals, path.basename(f)));
    secretFile = path.join(work, 'site-secret.hex');
    const pseudonymizer = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(secretFile) });
    expectedDir = path.join(work, 'expected');
    const report = await runDicomDeid({ inDir: originals, outDir: expectedDir, profile: loadConfidentialityProfile(), pseudonymizer });
    expect(report.written.length).toBe(FILES.length);
    expected = names(expectedDir);
  });

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('writeFileAtomic leaves the final name only on complete files, and only .tmp names while writing', async () => {
    const dir = path.join(work, 'atomic');
    const bytes = new Uint8Array(3 * 1024 * 1024).fill(7);
    const seen = new Set<string>();
    const watcher = setInterval(() => {
      for (const n of readdirSync(dir, { withFileTypes: false }) as string[]) seen.add(n);
    }, 0);
    mkdirSync(dir);
    await writeFileAtomic(path.join(dir, 'x.dcm'), [bytes.subarray(0, 1000), bytes.subarray(1000)]);
    clearInterval(watcher);
    expect(names(dir)).toEqual(['x.dcm']);
    expect(readFileSync(path.join(dir, 'x.dcm')).length).toBe(bytes.length);
    for (const n of seen) expect(n === 'x.dcm' || /^x\.dcm\.[0-9a-f]{12}\.tmp$/.test(n), n).toBe(true);
  });

  it('the folder gate sweeps a half-written temporary from its output folder (it refused the folder before) and reports the count', async () => {
    const out = path.join(work, 'folder-out');
    mkdirSync(out);
    const first = expected[0] as string;
    const whole = readFileSync(path.join(expectedDir, first));
    writeFileSync(path.join(out, `${first}.0123456789ab.tmp`), whole.subarray(0, whole.length >> 1));
    writeFileSync(path.join(out, 'notes.txt'), 'not ours');
    const pseudonymizer = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(secretFile) });
    // A foreign file still makes the folder unusable: only the gate's own temporaries are swept.
    await expect(runDicomDeid({ inDir: originals, outDir: out, profile: loadConfidentialityProfile(), pseudonymizer })).rejects.toThrow(/not de-identified DICOM/);
    expect(names(out)).toEqual(['notes.txt']);
    rmSync(path.join(out, 'notes.txt'));
    writeFileSync(path.join(out, `${first}.ba9876543210.tmp`), whole.subarray(0, 200));
    const report = await runDicomDeid({ inDir: originals, outDir: out, profile: loadConfidentialityProfile(), pseudonymizer });
    expect(report.temporariesSwept).toBe(1);
    expect(names(out)).toEqual(expected);
    for (const f of expected) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(expectedDir, f))), f).toBe(true);
  });

  describe.skipIf(skip !== undefined)(`PACS pulls into a cache a crash left behind${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
    let orthanc: Orthanc;
    beforeAll(async () => {
      orthanc = await startOrthanc();
      for (const f of FILES) expect((await orthanc.upload(path.join(originals, path.basename(f)))).ok).toBe(true);
    });
    afterAll(async () => {
      await orthanc?.close();
    });

    it('a planted temporary is swept (counted, logged) and its instance fetched again; an empty cache file is not taken as cached', async () => {
      const root = path.join(work, 'pacs');
      const dicomDir = path.join(root, 'cache', 'dicom');
      mkdirSync(dicomDir, { recursive: true });
      const yamlText = [
        'kit: ./kit',
        'sources:',
        `  pacs: { kind: dicomweb, url: '${orthanc.dicomWebUrl}', requestsPerSecond: 500 }`,
        'datasets:',
        '  scans:',
        '    kind: imaging-study',
        '    source: pacs',
        `    cache: ${root}/cache`,
        `    secret: ${secretFile}`,
        '    inputShape: [64, 64, 1]',
      ].join('\n');
      const config = parseConfigText(AgentConfigSchema, yamlText, 'agent.yaml', checkAgentConfig);
      const cfg = config.datasets['scans'] as AgentImagingDatasetConfig;
      const [a, b, ...rest] = expected as [string, string, ...string[]];
      // As a kill leaves them: `a` was being written (temporary only), `b` was renamed before its data reached
      // the disk (what a write without a flush can leave after a power cut), the rest are whole from a pull before.
      const whole = readFileSync(path.join(expectedDir, a));
      writeFileSync(path.join(dicomDir, `${a}.0123456789ab.tmp`), whole.subarray(0, whole.length >> 1));
      writeFileSync(path.join(dicomDir, b), new Uint8Array(0));
      for (const f of rest) copyFileSync(path.join(expectedDir, f), path.join(dicomDir, f));
      const log = captureLogger('agent');
      const filled = await fillImagingCache('scans', cfg, work, config.sources, log.logger);
      expect(filled.temporariesSwept).toBe(1);
      expect(log.find('half-written cache files', (l) => l['swept'] === 1)).toHaveLength(1);
      expect(filled.pacs?.cached).toBe(rest.length);
      expect(filled.pacs?.fetched).toBe(2);
      expect(filled.pacs?.written).toBe(2);
      expect(names(dicomDir)).toEqual(expected);
      for (const f of expected) expect(readFileSync(path.join(dicomDir, f)).equals(readFileSync(path.join(expectedDir, f))), f).toBe(true);
      // Nothing left to sweep the next time; everything is cached.
      const again = await fillImagingCache('scans', cfg, work, config.sources);
      expect(again.temporariesSwept).toBe(0);
      expect(again.pacs?.cached).toBe(expected.length);
    });
  });
});
