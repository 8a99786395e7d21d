/**
 * `tessera data check` on a `dicomweb` source of a real Orthanc loaded with the shared corpus, and on a folder:
 * report.json (counts and reasons under pseudonymous ids, no PHI), contact-sheet.png, tensors/<id>.npy.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataCommand } from '../../cli/src/commands/data.js';
import { sharedDataDir } from '../../cli/src/public-data.js';
import { getString } from '../../site-agent/src/hospital/dicom/dataset.js';
import { Tags } from '../../site-agent/src/hospital/dicom/dictionary.js';
import { parseDicom } from '../../site-agent/src/hospital/dicom/parse.js';
import type { DataCheckReport } from '../../site-agent/src/hospital/data-check/data-check.js';
import { orthancSkipReason, type Orthanc } from '../helpers/orthanc.js';
import { corpusFiles, orthancWithCorpus } from '../helpers/pacs-fixture.js';

function capture(): { io: { out: (l: string) => void; err: (l: string) => void; now: () => Date }; lines: string[] } {
  const lines: string[] = [];
  return { io: { out: (l) => lines.push(l), err: (l) => lines.push(l), now: () => new Date() }, lines };
}

/** Parses a .npy v1 header: dtype, order and shape, and checks the data length. */
function readNpy(bytes: Buffer): { descr: string; fortran: boolean; shape: number[]; data: Float32Array } {
  expect(bytes.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
  expect([bytes[6], bytes[7]]).toEqual([1, 0]);
  const headerLength = bytes.readUInt16LE(8);
  expect((10 + headerLength) % 64).toBe(0);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  expect(header.endsWith('\n')).toBe(true);
  const descr = /'descr': '([^']+)'/.exec(header)?.[1] ?? '';
  const fortran = /'fortran_order': True/.test(header);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const body = bytes.subarray(10 + headerLength);
  expect(body.length).toBe(shape.reduce((a, b) => a * b, 1) * 4);
  const data = new Float32Array(body.length / 4);
  for (let i = 0; i < data.length; i++) data[i] = body.readFloatLE(i * 4);
  return { descr, fortran, shape, data };
}

/** Patient names and original instance UIDs of the corpus: none may appear in the report. */
function identifiers(root: string): string[] {
  const out = new Set<string>();
  for (const f of corpusFiles(root)) {
    try {
      const ds = parseDicom(readFileSync(f), f).dataset;
      for (const t of [Tags.PatientName, Tags.SOPInstanceUID, Tags.StudyInstanceUID]) {
        const v = getString(ds, t)?.trim();
        if (v !== undefined && v.length >= 6 && v !== 'Anonymized') out.add(v);
      }
    } catch {
      // unreadable: nothing of it can reach the report either
    }
  }
  return [...out];
}

const skip = orthancSkipReason();

describe('tessera data check', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'tessera-datacheck-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('on a folder: writes report.json, contact-sheet.png and one float32 H×W×C .npy per used instance; --study is validated and recorded', async () => {
    const dir = path.join(work, 'folder');
    const cfg = path.join(dir, 'agent.yaml');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      cfg,
      `kit: ./kit\ndatasets:\n  corpus:\n    kind: imaging-study\n    dicom: ${path.join(sharedDataDir(), 'dicom')}\n    cache: ./cache\n    secret: ./secret.hex\n    inputShape: [48, 64, 3]\n`,
    );
    copyFileSync(path.join('deploy', 'examples', 'study.yaml'), path.join(dir, 'study.yaml'));
    const out = path.join(dir, 'out');
    const { io, lines } = capture();
    const code = await dataCommand(['check', '--config', cfg, '--dataset', 'corpus', '--study', path.join(dir, 'study.yaml'), '--out', out, '--tensors', '--json'], io);
    expect(code, lines.join('\n')).toBe(0);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as DataCheckReport;
    expect(JSON.parse(lines.join('\n'))).toEqual(report);
    expect(report.found).toBe(readdirSync(path.join(sharedDataDir(), 'dicom'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length);
    expect(report.written + report.quarantined + report.failed).toBe(report.found);
    expect(report.used).toBeGreaterThan(20);
    expect(report.decoded).toBeGreaterThanOrEqual(report.used);
    expect(report.study).toMatchObject({ file: 'study.yaml', datasetMatches: false });
    for (const i of report.instances) {
      expect(i.id).toMatch(/^(2\.25\.\d+|file-[0-9a-f]{16})$/);
      expect(i.reasons.length).toBeGreaterThan(0);
    }
    expect(report.instances.some((i) => i.reasons.some((r) => r.code === 'no-pixel-data'))).toBe(true);
    // No PHI: no patient name or original UID of the corpus anywhere in the report.
    const text = readFileSync(path.join(out, 'report.json'), 'utf8');
    for (const id of identifiers(path.join(sharedDataDir(), 'dicom'))) expect(text.includes(id), `report holds '${id.slice(0, 4)}…'`).toBe(false);
    const npys = readdirSync(path.join(out, 'tensors'));
    expect(npys).toHaveLength(report.used);
    for (const f of npys) {
      expect(f).toMatch(/^2\.25\.\d+\.npy$/);
      const npy = readNpy(readFileSync(path.join(out, 'tensors', f)));
      expect(npy).toMatchObject({ descr: '<f4', fortran: false, shape: [48, 64, 3] });
      expect(npy.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    const png = PNG.sync.read(readFileSync(path.join(out, 'contact-sheet.png')));
    expect(png.width).toBeGreaterThan(128);
    expect(png.height).toBeGreaterThan(128);
  });

  it('refuses a study file that is not a valid study (exit 2, the field named), and an unknown dataset', async () => {
    const dir = path.join(work, 'folder');
    writeFileSync(path.join(dir, 'bad-study.yaml'), 'id: x\nrounds: many\n');
    const { io, lines } = capture();
    expect(await dataCommand(['check', '--config', path.join(dir, 'agent.yaml'), '--dataset', 'corpus', '--study', path.join(dir, 'bad-study.yaml'), '--out', path.join(dir, 'o2')], io)).toBe(2);
    expect(lines.join('\n')).toMatch(/bad-study\.yaml: .*rounds|bad-study\.yaml: .*required/);
    const second = capture();
    expect(await dataCommand(['check', '--config', path.join(dir, 'agent.yaml'), '--dataset', 'nope', '--out', path.join(dir, 'o3')], second.io)).toBe(2);
    expect(second.lines.join('\n')).toMatch(/--dataset nope is not in agent\.yaml/);
  });

  describe.skipIf(skip !== undefined)(`on a dicomweb source${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
    let orthanc: Orthanc;
    beforeAll(async () => {
      ({ orthanc } = await orthancWithCorpus(path.join(sharedDataDir(), 'dicom')));
    });
    afterAll(async () => {
      await orthanc?.close();
    });

    it('pulls, de-identifies and preprocesses without training; a second check fetches nothing new and gives the same tensors', async () => {
      const dir = mkdtempSync(path.join(work, 'web-'));
      const cfg = path.join(dir, 'agent.yaml');
      writeFileSync(
        cfg,
        `kit: ./kit\nsources:\n  pacs:\n    kind: dicomweb\n    url: ${orthanc.dicomWebUrl}\ndatasets:\n  ct:\n    kind: imaging-study\n    source: pacs\n    query:\n      modalities: [CT, MR]\n    cache: ./cache\n    secret: ./secret.hex\n    inputShape: [64, 64, 1]\n`,
      );
      const out = path.join(dir, 'out');
      const first = capture();
      expect(await dataCommand(['check', '--config', cfg, '--dataset', 'ct', '--out', out, '--tensors'], first.io), first.lines.join('\n')).toBe(0);
      expect(first.lines[0]).toMatch(/^tessera data check ct \(dicomweb pacs\): \d+ found, \d+ fetched, 0 already cached/);
      const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as DataCheckReport;
      expect(report.source).toEqual({ kind: 'dicomweb', name: 'pacs' });
      expect(report.found).toBeGreaterThan(10);
      expect(report.fetched).toBe(report.found);
      expect(report.used).toBeGreaterThan(5);
      const tensorsBefore = readdirSync(path.join(out, 'tensors')).sort();
      expect(tensorsBefore).toHaveLength(report.used);
      const sample = readFileSync(path.join(out, 'tensors', tensorsBefore[0] as string));
      const again = capture();
      expect(await dataCommand(['check', '--config', cfg, '--dataset', 'ct', '--out', out, '--tensors', '--json'], again.io)).toBe(0);
      const second = JSON.parse(again.lines.join('\n')) as DataCheckReport;
      expect(second).toMatchObject({ found: report.found, fetched: 0, cached: report.found, used: report.used });
      expect(readdirSync(path.join(out, 'tensors')).sort()).toEqual(tensorsBefore);
      expect(readFileSync(path.join(out, 'tensors', tensorsBefore[0] as string)).equals(sample)).toBe(true);
    });

    it('a dataset that yields nothing exits 4 and says why per instance', async () => {
      const dir = mkdtempSync(path.join(work, 'none-'));
      const cfg = path.join(dir, 'agent.yaml');
      writeFileSync(
        cfg,
        `kit: ./kit\nsources:\n  pacs:\n    kind: dicomweb\n    url: ${orthanc.dicomWebUrl}\ndatasets:\n  ot:\n    kind: imaging-study\n    source: pacs\n    query:\n      modalities: [OT]\n    cache: ./cache\n    secret: ./secret.hex\n    inputShape: [64, 64, 1]\n`,
      );
      const { io, lines } = capture();
      expect(await dataCommand(['check', '--config', cfg, '--dataset', 'ot', '--out', path.join(dir, 'out')], io)).toBe(4);
      expect(lines.join('\n')).toMatch(/0 used/);
      expect(lines.join('\n')).toMatch(/quarantined +gate +2\.25\.\d+: burned-in-annotation-unknown: BurnedInAnnotation \(0028,0301\) is absent on a OT image/);
    });
  });
});
