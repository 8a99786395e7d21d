import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateChestHospitals, HELD_OUT_LABELS, type ChestGenerateResult } from '../../../../cli/src/demo/chest-xray/generate.js';
import { storedSamples, upsample } from '../../../../cli/src/demo/chest-xray/pixels.js';
import { CHEST_HOSPITALS, ICD10CM, SITE2_LOCAL_SYSTEM, SNOMED } from '../../../../cli/src/demo/chest-xray/hospitals.js';
import { chestReportText } from '../../../../cli/src/demo/chest-xray/reports.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { createRng } from '../../../../shared/src/rng.js';
import { loadMedmnist } from '../../../../site-agent/src/hospital/datasets/medmnist.js';
import { parseDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { chestModelInput } from '../../../../cli/src/demo/chest-xray/pipeline.js';
import { ingestImageStudy } from '../../../../site-agent/src/hospital/ingest/image-study.js';

const npz = path.join(sharedDataDir(), 'medmnist', 'pneumoniamnist_varun19424.npz');

describe('chest-xray demo: pixels and report texts', () => {
  it('upsamples with aligned pixel centres: a constant stays constant, a 2×2 checker keeps its corners', () => {
    expect([...upsample(new Uint8Array(4).fill(77), 2, 8)].every((v) => Math.abs(v - 77) < 1e-4)).toBe(true);
    const up = upsample(Uint8Array.from([0, 255, 255, 0]), 2, 4);
    expect(up[0]).toBe(0);
    expect(up[3]).toBe(255);
    expect(up[5]).toBeGreaterThan(0);
    expect(up[5]).toBeLessThan(255);
  });

  it('stores each site\'s grey range and inverts MONOCHROME1', () => {
    const white = new Uint8Array(28 * 28).fill(255);
    const [a, b, c] = CHEST_HOSPITALS.map((h) => storedSamples(white, 28, h.pacs, 0, 0));
    const values = (x: Uint8Array | Uint16Array | undefined): Set<number> => new Set(x);
    // Site 1 is MONOCHROME1: white (dense) is its lowest stored value.
    expect(a).toBeInstanceOf(Uint16Array);
    expect(values(a)).toEqual(new Set([CHEST_HOSPITALS[0]!.pacs.range[0]]));
    expect(values(b)).toEqual(new Set([3950]));
    expect(b!.length).toBe(448 * 448);
    expect(c).toBeInstanceOf(Uint8Array);
    expect(values(c)).toEqual(new Set([255]));
  });

  it('writes positive reports that state pneumonia and negative ones that negate or hedge it', () => {
    const rng = createRng(3);
    const pos = Array.from({ length: 200 }, () => chestReportText(rng, true));
    const neg = Array.from({ length: 400 }, () => chestReportText(rng, false));
    expect(pos.every((r) => r.stance === 'positive' && /IMPRESSION: .*(pneumonia|bronchopneumonia)/i.test(r.text))).toBe(true);
    expect(neg.filter((r) => r.stance === 'hedged').length).toBeGreaterThan(20);
    expect(neg.some((r) => r.text.includes('No evidence of pneumonia.'))).toBe(true);
    expect(neg.some((r) => r.text.includes('Cannot exclude early pneumonia.'))).toBe(true);
    expect(new Set(pos.map((r) => r.text)).size).toBeGreaterThan(150);
    for (const r of [...pos, ...neg]) expect(r.text).toMatch(/^EXAM: .*\nINDICATION: .*\nFINDINGS: .*\nIMPRESSION: .*$/);
  });
});

// Real PneumoniaMNIST through the real encoders, decoders and gates; skipped only where ../shared/data is absent.
describe.skipIf(!existsSync(npz))('chest-xray demo: PneumoniaMNIST → three hospitals', () => {
  let dir: string;
  let out: ChestGenerateResult;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-cx-'));
    out = await generateChestHospitals({ npz, outDir: path.join(dir, 'data'), seed: 5, maxPerSplit: { train: 40, val: 20, test: 20 } });
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('spreads the chosen images of every split over the three sites, stratified', () => {
    const total = (k: 'train' | 'val' | 'test'): number => out.sites.reduce((a, s) => a + s.images[k], 0);
    expect([total('train'), total('val'), total('test')]).toEqual([40, 20, 20]);
    for (const s of out.sites) expect(s.images.train).toBeGreaterThan(5);
    // PneumoniaMNIST's official test split is 62.5 % pneumonia; the stratified subset keeps it.
    expect(out.sites.reduce((a, s) => a + s.pneumonia.test, 0)).toBe(12);
  });

  it('exports each site in its own PACS syntax, and every file decodes back to its 28 px source', async () => {
    const data = await loadMedmnist(npz);
    const expected: Record<string, { ts: string; photometric: string; bits: number; size: number; modality: string }> = {
      'site-1': { ts: '1.2.840.10008.1.2.4.80', photometric: 'MONOCHROME1', bits: 16, size: 512, modality: 'CR' },
      'site-2': { ts: '1.2.840.10008.1.2.4.90', photometric: 'MONOCHROME2', bits: 12, size: 448, modality: 'DX' },
      'site-3': { ts: '1.2.840.10008.1.2.4.50', photometric: 'MONOCHROME2', bits: 8, size: 256, modality: 'CR' },
    };
    for (const s of out.sites) {
      const files = (await readdir(path.join(s.dir, 'dicom'))).sort();
      expect(files).toHaveLength(s.images.train + s.images.val);
      // The official test split is held out, in the same site's format, with its labels beside it.
      const heldOut = await readdir(path.join(dir, 'data', 'heldout', s.id));
      expect(heldOut).toHaveLength(s.images.test);
      const labels = JSON.parse(await readFile(path.join(dir, 'data', HELD_OUT_LABELS), 'utf8')) as Record<string, number>;
      expect(heldOut.map((f) => labels[path.join('heldout', s.id, f)]).filter((l) => l === 1)).toHaveLength(s.pneumonia.test);
      const bytes = await readFile(path.join(s.dir, 'dicom', files[0]!));
      const ds = dicomParser.parseDicom(bytes);
      const e = expected[s.id]!;
      expect([ds.string('x00020010'), ds.string('x00280004'), ds.uint16('x00280101'), ds.uint16('x00280010'), ds.string('x00080060')]).toEqual([e.ts, e.photometric, e.bits, e.size, e.modality]);
      // Identifying fields a real export carries, for the gate to remove.
      expect(ds.string('x00100010')).toMatch(/\^/);
      expect(ds.string('x00100030')).toMatch(/^\d{8}$/);
      expect(ds.string('x00080080')).toBe(CHEST_HOSPITALS.find((h) => h.id === s.id)!.name);
      // Decoded and resampled to 28 px, the image is its source again (up to noise and lossy JPEG).
      // Through the function the sites' training loader uses (the clinical image pipeline for these files).
      const x = await chestModelInput(parseDicom(bytes, files[0]!), files[0]!, [28, 28, 1]);
      const patientId = ds.string('x00100020')!;
      expect(patientId.length).toBeGreaterThan(4);
      // Sites differ in window and range after the pipeline, so compare by correlation.
      const corr = (a: ArrayLike<number>, b: ArrayLike<number>, at: number): number => {
        let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
        for (let k = 0; k < 784; k++) {
          const u = a[k] as number;
          const v = b[at + k] as number;
          sa += u; sb += v; saa += u * u; sbb += v * v; sab += u * v;
        }
        return (sab - (sa * sb) / 784) / Math.sqrt((saa - (sa * sa) / 784) * (sbb - (sb * sb) / 784));
      };
      let best = -1;
      for (const split of ['train', 'val', 'test'] as const) {
        const set = data[split];
        for (let i = 0; i < set.n; i++) best = Math.max(best, corr(x, set.images, i * 784));
      }
      expect(best).toBeGreaterThan(0.98);
    }
  });

  it('codes the diagnosis differently per site: SNOMED CT, ICD-10-CM with legacy local codes and a mapping file, none at all', async () => {
    const conditions = async (id: string): Promise<{ system: string; code: string }[]> => {
      const file = path.join(dir, 'data', id, 'fhir', 'Condition.ndjson');
      if (!existsSync(file)) return [];
      const text = await readFile(file, 'utf8');
      return text.trim().split('\n').map((l) => (JSON.parse(l) as { code: { coding: { system: string; code: string }[] } }).code.coding[0]!);
    };
    const s1 = await conditions('site-1');
    const s2 = await conditions('site-2');
    expect(new Set(s1.map((c) => c.system))).toEqual(new Set([SNOMED]));
    expect(s1.filter((c) => ['233604007', '53084003', '75570004'].includes(c.code))).toHaveLength(out.sites[0]!.pneumonia.train + out.sites[0]!.pneumonia.val);
    expect(new Set(s2.map((c) => c.system))).toEqual(new Set([ICD10CM, SITE2_LOCAL_SYSTEM]));
    expect(s2.filter((c) => c.system === SITE2_LOCAL_SYSTEM && c.code.startsWith('PNA'))).toHaveLength(out.sites[1]!.localCoded);
    expect(await conditions('site-3')).toEqual([]);
    const mapping = await readFile(path.join(dir, 'data', 'site-2', 'mapping.yaml'), 'utf8');
    expect(mapping).toMatch(/code: PNA\b[\s\S]*system: icd10, code: J18\.9/);
    const reports = (await readFile(path.join(dir, 'data', 'site-3', 'fhir', 'DiagnosticReport.ndjson'), 'utf8')).trim().split('\n');
    expect(reports).toHaveLength(out.sites[2]!.images.train + out.sites[2]!.images.val);
    const text = Buffer.from((JSON.parse(reports[0]!) as { presentedForm: { data: string }[] }).presentedForm[0]!.data, 'base64').toString('utf8');
    expect(text).toMatch(/IMPRESSION: /);
  });

  it('goes through both de-identification gates at every site with nothing quarantined or refused', async () => {
    for (const s of out.sites) {
      const n = s.images.train + s.images.val;
      const { summary } = await ingestImageStudy({ dicom: path.join(s.dir, 'dicom'), fhir: path.join(s.dir, 'fhir'), cache: path.join(dir, 'cache', s.id), secret: path.join(dir, `secret-${s.id}`) });
      expect(summary).toMatchObject({ dicomIn: n, dicomWritten: n, dicomQuarantined: 0, dicomFailed: 0, fhirRefused: 0 });
      const cached = await readdir(path.join(dir, 'cache', s.id, 'dicom'));
      const ds = dicomParser.parseDicom(await readFile(path.join(dir, 'cache', s.id, 'dicom', cached[0]!)));
      expect(ds.string('x00080080') ?? '').not.toMatch(/Hospital/);
      const emr = await readFile(path.join(dir, 'cache', s.id, 'emr', 'resources.ndjson'), 'utf8');
      expect(emr).not.toMatch(/MRN[- ]\d|Electronically signed by Dr\. [A-Z][a-z]+ [A-Z]/);
    }
  }, 120_000);
});
