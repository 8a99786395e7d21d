import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import dicomParser from 'dicom-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { repoRoot } from '../../shared/src/paths.js';
import { sharedDataDir } from '../../cli/src/public-data.js';

const run = promisify(execFile);
const corpus = path.join(sharedDataDir(), 'dicom');
const FILES = [
  'pydicom/CT_small.dcm', // written
  'pydicom/MR_small_bigendian.dcm', // written (big endian → explicit LE)
  'dicomparser/report_dfl', // written (deflated SR)
  'pydicom/ExplVR_BigEnd.dcm', // quarantined (US, no BurnedInAnnotation)
  'pydicom/no_meta.dcm', // failed (no DICM prefix)
];
const present = FILES.every((f) => existsSync(path.join(corpus, f)));

interface Entry {
  file: string;
  status: string;
  output?: string;
  reasons?: { code: string; message: string }[];
  changes?: Record<string, Record<string, number>>;
}
interface Report {
  filesIn: number;
  options: string[];
  written: Entry[];
  quarantined: Entry[];
  failed: Entry[];
  attributesChangedByAction: Record<string, Record<string, number>>;
}

async function tessera(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(repoRoot(), 'bin', 'tessera.js'), ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(!present)('tessera deid (subprocess)', () => {
  let dir: string;
  let inDir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-deid-cli-'));
    inDir = path.join(dir, 'in');
    for (const f of FILES) {
      mkdirSync(path.dirname(path.join(inDir, f)), { recursive: true });
      copyFileSync(path.join(corpus, f), path.join(inDir, f));
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes only de-identified files and a JSON report of files in, written, quarantined and failed with reasons', async () => {
    // Arrange
    const out = path.join(dir, 'cache');
    const reportFile = path.join(dir, 'report.json');
    const before = FILES.map((f) => readFileSync(path.join(inDir, f)));
    // Act
    const res = await tessera(['deid', '--in', inDir, '--out', out, '--options', 'retain-longitudinal-modified-dates,clean-descriptors', '--report', reportFile, '--secret', path.join(dir, 'secret')]);
    // Assert
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('5 in, 3 written, 1 quarantined, 1 failed');
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    expect(report.filesIn).toBe(5);
    expect(report.options).toEqual(['retain-longitudinal-modified-dates', 'clean-descriptors']);
    expect(report.written.map((e) => e.file).sort()).toEqual(['dicomparser/report_dfl', 'pydicom/CT_small.dcm', 'pydicom/MR_small_bigendian.dcm']);
    expect(report.quarantined).toMatchObject([{ file: 'pydicom/ExplVR_BigEnd.dcm', reasons: [{ code: 'burned-in-annotation-unknown' }] }]);
    expect(report.failed).toMatchObject([{ file: 'pydicom/no_meta.dcm', reasons: [{ code: 'unreadable' }] }]);
    expect(report.attributesChangedByAction['C']?.['(0008,0020) Study Date']).toBeGreaterThan(0);
    expect(report.attributesChangedByAction['Z']?.["(0010,0010) Patient's Name"]).toBe(3);
    expect(readdirSync(out).sort()).toEqual(report.written.map((e) => e.output).sort());
    for (const name of readdirSync(out)) {
      const ds = dicomParser.parseDicom(readFileSync(path.join(out, name)));
      expect(`${ds.string('x00080018')}.dcm`).toBe(name);
      expect(ds.string('x00280303')).toBe('MODIFIED');
    }
    FILES.forEach((f, i) => expect(readFileSync(path.join(inDir, f)).equals(before[i]!)).toBe(true));
    expect(statSync(path.join(dir, 'secret')).mode & 0o777).toBe(0o600);
  });

  it('gives the same pseudonyms and UIDs on a second run with the same site secret', async () => {
    const a = path.join(dir, 'run-a');
    const b = path.join(dir, 'run-b');
    const secret = path.join(dir, 'secret2');
    expect((await tessera(['deid', '--in', inDir, '--out', a, '--secret', secret])).code).toBe(0);
    expect((await tessera(['deid', '--in', inDir, '--out', b, '--secret', secret])).code).toBe(0);
    expect(readdirSync(a).sort()).toEqual(readdirSync(b).sort());
  });

  it('exits 2 for an unknown option, 4 for a missing input folder, and refuses an output folder holding other files', async () => {
    const bad = await tessera(['deid', '--in', inDir, '--out', path.join(dir, 'x'), '--options', 'keep-everything', '--secret', path.join(dir, 'secret')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown de-identification option 'keep-everything'");
    const missing = await tessera(['deid', '--in', path.join(dir, 'nope'), '--out', path.join(dir, 'y'), '--secret', path.join(dir, 'secret')]);
    expect(missing.code).toBe(4);
    const nested = await tessera(['deid', '--in', inDir, '--out', path.join(inDir, 'out'), '--secret', path.join(dir, 'secret')]);
    expect(nested.code).toBe(4);
    expect(nested.stderr).toContain('must not be inside');
  });
});
