import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../../cli/src/commands/command-io.js';
import { deidEmrCommand } from '../../../cli/src/commands/deid-emr.js';
import { ExitCode } from '../../../cli/src/exit-codes.js';
import { main } from '../../../cli/src/main.js';
import type { EmrIngestReport } from '../../../site-agent/src/hospital/ingest/emr-ingest.js';
import { FHIR_DIR } from '../../unit/hospital/emr/synthea-fixture.js';

function captureIo(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), now: () => new Date('2022-03-04T00:00:00Z') };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('tessera deid-emr', () => {
  it('de-identifies the Synthea FHIR export, writes the report and creates the site secret (0600)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-deid-emr-'));
    dirs.push(dir);
    const io = captureIo();
    const code = await deidEmrCommand(['--in', FHIR_DIR, '--out', path.join(dir, 'cache'), '--report', path.join(dir, 'report.json')], io);
    expect(io.stderr).toEqual([]);
    expect(code).toBe(ExitCode.Ok);
    const report = JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as EmrIngestReport;
    expect(report.patients).toBe(16);
    expect(report.refused).toEqual([]);
    expect(io.stdout[0]).toMatch(/^read 18 files, \d+ resources; wrote \d+ de-identified resources of 16 patients/);
    expect((await stat(path.join(dir, 'site-secret.hex'))).mode & 0o777).toBe(0o600);
  });

  it('is listed by main and rejects bad arguments with the usage exit code', async () => {
    const io = captureIo();
    expect(await deidEmrCommand(['--in', 'x'], io)).toBe(ExitCode.Usage);
    expect(await deidEmrCommand(['--in', 'x', '--out', 'x'], io)).toBe(ExitCode.Usage);
    expect(await deidEmrCommand(['--in', 'x', '--out', 'y', '--dates', 'month'], io)).toBe(ExitCode.Usage);
    expect(io.stderr.join('\n')).toMatch(/usage: tessera deid-emr/);
    expect(await main(['deid-emr', '--help'])).toBe(ExitCode.Ok);
  });

  it('exits 4 when the input folder cannot be read', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-deid-emr-'));
    dirs.push(dir);
    const io = captureIo();
    expect(await deidEmrCommand(['--in', '/nonexistent/emr', '--out', path.join(dir, 'out')], io)).toBe(ExitCode.InputMissing);
  });
});
