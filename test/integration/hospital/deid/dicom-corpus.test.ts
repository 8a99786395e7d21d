import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeText } from '../../../../site-agent/src/hospital/dicom/dataset.js';
import { DICOM_PARSER_OPTIONS } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { loadConfidentialityProfile } from '../../../../site-agent/src/hospital/deid/dicom-profile.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { runDicomDeid, type DeidReport } from '../../../../site-agent/src/hospital/ingest/dicom-deid-gate.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

const corpus = path.join(sharedDataDir(), 'dicom');
const present = existsSync(path.join(corpus, 'MANIFEST.tsv'));

interface ManifestRow {
  file: string;
  sha256: string;
  parserOk: boolean;
  malformed: boolean;
}

function readManifest(): ManifestRow[] {
  const [header, ...lines] = readFileSync(path.join(corpus, 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const cols = header!.split('\t');
  const at = (name: string): number => cols.findIndex((c) => c.startsWith(name));
  return lines.map((line) => {
    const f = line.split('\t');
    return {
      file: f[at('file')]!,
      sha256: f[at('sha256')]!,
      parserOk: f[at('dicom-parser')] === 'ok',
      malformed: (f[at('notes')] ?? '').includes('MALFORMED'),
    };
  });
}

/** Every (tag → raw values) at any depth, read with dicom-parser itself. */
function valuesByTag(ds: dicomParser.DataSet, out = new Map<string, Set<string>>(), depth = 0): Map<string, Set<string>> {
  for (const el of Object.values(ds.elements)) {
    if (el.items !== undefined) {
      for (const item of el.items) if (item.dataSet) valuesByTag(item.dataSet, out, depth + 1);
      continue;
    }
    // Pixel data and other bulk values are not attributes of the profile; skip them (and their cost).
    if (el.encapsulatedPixelData === true || el.length <= 0 || el.tag === 'x7fe00010' || el.length > 4096) continue;
    const v = decodeText(ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length));
    if (v === '') continue;
    let set = out.get(el.tag);
    if (set === undefined) out.set(el.tag, (set = new Set()));
    set.add(v);
  }
  return out;
}

function hasPrivate(ds: dicomParser.DataSet): boolean {
  for (const el of Object.values(ds.elements)) {
    if ((Number.parseInt(el.tag.slice(1, 5), 16) & 1) === 1) return true;
    for (const item of el.items ?? []) if (item.dataSet && hasPrivate(item.dataSet)) return true;
  }
  return false;
}

const DUMMIES = new Set(['ANONYMIZED', '19000101', '000000', '19000101000000', '000Y', '0', '\0\0', '\0\0\0\0']);

describe.skipIf(!present)('DICOM de-identification gate over the shared corpus (MANIFEST.tsv)', () => {
  const profile = present ? loadConfidentialityProfile() : undefined;
  let dir: string;
  let outDir: string;
  let report: DeidReport;
  const manifest = present ? readManifest() : [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tessera-deid-corpus-'));
    outDir = path.join(dir, 'cache');
    report = await runDicomDeid({
      inDir: corpus,
      outDir,
      profile: profile!,
      pseudonymizer: new PatientPseudonymizer({ secret: new Uint8Array(32).fill(7) }),
    });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accounts for every file: written, quarantined or failed with a reason; parser failures are refused', () => {
    expect(manifest).toHaveLength(80);
    expect(report.filesIn).toBe(81); // the 80 files and MANIFEST.tsv itself
    const byFile = new Map([...report.written, ...report.quarantined, ...report.failed].map((e) => [e.file, e]));
    expect(byFile.size).toBe(81);
    expect(byFile.get('MANIFEST.tsv')?.status).toBe('failed');
    for (const row of manifest) {
      const entry = byFile.get(row.file);
      expect(entry, row.file).toBeDefined();
      if (entry!.status !== 'written') {
        expect(entry!.reasons.length, row.file).toBeGreaterThan(0);
        for (const r of entry!.reasons) expect(r.message.length).toBeGreaterThan(10);
      }
      if (!row.parserOk) {
        expect(entry!.status, row.file).toBe('failed');
        expect(entry!.status === 'failed' && entry!.reasons[0]!.code, row.file).toBe('unreadable');
      } else if (entry!.status === 'failed' && !row.malformed) {
        expect(['dicomdir', 'duplicate-instance', 'missing-uid'], row.file).toContain(entry!.reasons[0]!.code);
      }
    }
    expect(manifest.filter((r) => !r.parserOk)).toHaveLength(12);
    expect(report.written.length).toBeGreaterThanOrEqual(30);
    const status = (f: string): string | undefined => byFile.get(f)?.status;
    expect(status('pydicom/DICOMDIR')).toBe('failed');
    expect(status('fo-dicom/GH364.dcm')).toBe('quarantined'); // BurnedInAnnotation YES
    expect(status('dicomparser/IM00001.fragmented_no_bot_jpeg_baseline.50.dcm')).toBe('quarantined'); // US, no declaration
    expect(status('pydicom/badVR.dcm')).toBe('failed'); // NumberOfFrames "1A"
    expect(status('dicomparser/report_dfl')).toBe('written'); // deflated SR
    expect(status('fo-dicom/MOVEKNEE.dcm')).toBe('written'); // enhanced multi-frame MR, deep functional groups
  });

  it('leaves the originals byte-identical (sha256 in MANIFEST.tsv)', () => {
    for (const row of manifest) {
      const sha = createHash('sha256').update(readFileSync(path.join(corpus, row.file))).digest('hex');
      expect(sha, row.file).toBe(row.sha256);
    }
  });

  it('writes only the de-identified files, each parsed back by dicom-parser with no profile attribute keeping its original value', () => {
    const outputs = readdirSync(outDir).sort();
    expect(outputs).toEqual(report.written.map((e) => (e.status === 'written' ? e.output : '')).sort());
    for (const entry of report.written) {
      if (entry.status !== 'written') continue;
      const original = dicomParser.parseDicom(readFileSync(path.join(corpus, entry.file)), DICOM_PARSER_OPTIONS);
      const written = dicomParser.parseDicom(readFileSync(path.join(outDir, entry.output)), DICOM_PARSER_OPTIONS);
      const before = valuesByTag(original);
      const after = valuesByTag(written);
      for (const rule of profile!.rules.values()) {
        const key = `x${rule.tag.toString(16).padStart(8, '0')}`;
        for (const v of after.get(key) ?? []) {
          if (DUMMIES.has(v) || (rule.tag === 0x00100020 && /^[0-9a-f]{32}$/.test(v))) continue;
          expect(before.get(key)?.has(v) ?? false, `${entry.file}: ${rule.name} kept its original value`).toBe(false);
        }
      }
      expect(hasPrivate(written), `${entry.file}: private tags remain`).toBe(false);
      expect(written.string('x00020003')).toBe(written.string('x00080018'));
      expect(written.string('x00120062')).toBe('YES');
      expect(written.string('x00100020')).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('replaces UIDs consistently: the same original study maps to the same new study in every file', () => {
    const studyOf = (file: string): string | undefined => {
      const e = report.written.find((w) => w.file === file);
      if (e?.status !== 'written') return undefined;
      return dicomParser.parseDicom(readFileSync(path.join(outDir, e.output))).string('x0020000d');
    };
    // CR1 and CT2 of patient 77654033 come from the DICOMDIR test set; check each file's study UID is a 2.25 UID
    // and that the two CT0012 instances written (baseline and lossless) share their study.
    const a = studyOf('dicomparser/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm');
    const b = studyOf('dicomparser/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm');
    expect(a).toMatch(/^2\.25\.\d+$/);
    expect(a).toBe(b);
  });

  it('lists the attributes changed by action', () => {
    const actions = report.attributesChangedByAction;
    expect(Object.keys(actions).sort()).toEqual(['D', 'U', 'X', 'Z']);
    expect(actions['Z']!["(0010,0010) Patient's Name"]).toBeGreaterThan(20);
    expect(actions['U']!['(0008,0018) SOP Instance UID']).toBe(report.written.length);
    expect(actions['X']!['(gggg,eeee) Private attributes (odd group)']).toBeGreaterThan(100);
  });

  it('with checkPixels, admits only images a bundled codec decodes, refusing the rest with a reason', async () => {
    const out = path.join(dir, 'checked');
    const checked = await runDicomDeid({
      inDir: corpus,
      outDir: out,
      profile: profile!,
      pseudonymizer: new PatientPseudonymizer({ secret: new Uint8Array(32).fill(7) }),
      checkPixels: true,
    });
    const undecodable = checked.failed.filter((e) => e.status === 'failed' && e.reasons[0]!.code === 'undecodable-pixels').map((e) => e.file);
    // 12-bit JPEG extended has no bundled decoder.
    expect(undecodable).toEqual(['dicomparser/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm']);
    expect(checked.written.length).toBe(report.written.length - 1);
  }, 120_000);
});
