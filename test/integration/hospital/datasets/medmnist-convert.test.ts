import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMedmnist } from '../../../../site-agent/src/hospital/datasets/medmnist.js';
import { convertMedmnistToSites, type ConvertResult } from '../../../../site-agent/src/hospital/datasets/medmnist-convert.js';
import { ingestImageStudy, loadImageCache } from '../../../../site-agent/src/hospital/ingest/image-study.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

const npz = path.join(sharedDataDir(), 'medmnist', 'breastmnist.npz');
const profile = path.join(sharedDataDir(), 'deid-profile', 'confidentiality_profile_attributes.json');

// Real BreastMNIST, real DICOM files through the real gates; skipped only where ../shared/data is absent.
describe.skipIf(!existsSync(npz) || !existsSync(profile))('BreastMNIST → DICOM + FHIR → de-identification gate → training data', () => {
  let dir: string;
  let converted: ConvertResult;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-bm-'));
    converted = await convertMedmnistToSites({ npz, outDir: path.join(dir, 'data'), seed: 7 });
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every image of the official split once, skewed by label over 3 sites', async () => {
    const total = (split: 'train' | 'val' | 'test'): number => converted.sites.reduce((a, s) => a + s.images[split], 0);
    expect([total('train'), total('val'), total('test')]).toEqual([546, 78, 156]);
    const share = converted.sites.map((s) => s.positives.train / s.images.train);
    expect(Math.max(...share) - Math.min(...share)).toBeGreaterThan(0.2);
    const files = await readdir(path.join(dir, 'data', 'site-1', 'dicom'));
    const s1 = converted.sites[0]!;
    expect(files).toHaveLength(s1.images.train + s1.images.val + s1.images.test);
    // A standard reader parses the originals, which carry the synthetic identity.
    const ds = dicomParser.parseDicom(await readFile(path.join(dir, 'data', 'site-1', 'dicom', files[0]!)));
    expect(ds.string('x00100010')).toMatch(/^[A-Z][a-z]+\^[A-Z][a-z]+$/);
    expect(ds.string('x00100020')).toMatch(/^SYN01\d{6}$/);
    expect(ds.uint16('x00280010')).toBe(28);
  });

  it('ingests site-1 through both gates: no name, MRN, phone or address in the cache, labels and pixels intact', async () => {
    const site = path.join(dir, 'data', 'site-1');
    const cache = path.join(dir, 'cache');
    const { summary } = await ingestImageStudy({ dicom: path.join(site, 'dicom'), fhir: path.join(site, 'fhir'), cache, secret: path.join(dir, 'secret') });
    const s1 = converted.sites[0]!;
    const n = s1.images.train + s1.images.val + s1.images.test;
    expect(summary).toMatchObject({ dicomIn: n, dicomWritten: n, dicomQuarantined: 0, dicomFailed: 0, fhirResources: 3 * n, fhirRefused: 0 });

    // Identifiers of the originals, gathered from the FHIR bundle.
    const bundle = JSON.parse(await readFile(path.join(site, 'fhir', 'bundle.json'), 'utf8')) as { entry: { resource: Record<string, unknown> }[] };
    const patients = bundle.entry.map((e) => e.resource).filter((r) => r['resourceType'] === 'Patient');
    const secrets = patients.flatMap((p) => {
      const name = (p['name'] as { family: string; given: string[] }[])[0]!;
      const mrn = (p['identifier'] as { value: string }[])[0]!.value;
      const phone = (p['telecom'] as { value: string }[])[0]!.value;
      return [`${name.family}^${name.given[0]}`, mrn, phone];
    });
    const emr = await readFile(path.join(cache, 'emr', 'resources.ndjson'), 'utf8');
    const cached = await readdir(path.join(cache, 'dicom'));
    expect(cached).toHaveLength(n);
    const blobs = [emr, ...(await Promise.all(cached.map(async (f) => (await readFile(path.join(cache, 'dicom', f))).toString('latin1'))))].join('\n');
    for (const value of secrets) expect(blobs.includes(value), 'an identifier reached the cache').toBe(false);
    expect(blobs).not.toMatch(/SYN01\d{6}|Maple St|Oak St|555-01/);

    const data = await loadImageCache(cache, { shape: [28, 28, 1], dataset: 'breastmnist' });
    expect([data.train.n, data.test.n]).toEqual([s1.images.train, s1.images.test]);
    // The official val split is loaded apart, for model selection; it never trains.
    expect(data.val?.n).toBe(s1.images.val);
    expect(data.val?.y.reduce((a, b) => a + b, 0)).toBe(s1.positives.val);
    // The compiled loader (what an agent runs) decodes on worker threads: the same rows, in the same order,
    // as the calling thread gives.
    const compiled = (await import(new URL('../../../../dist/site-agent/src/hospital/ingest/image-study.js', import.meta.url).href)) as { loadImageCache: typeof loadImageCache };
    const threaded = await compiled.loadImageCache(cache, { shape: [28, 28, 1], dataset: 'breastmnist', preprocessThreads: 2 });
    const inline = await compiled.loadImageCache(cache, { shape: [28, 28, 1], dataset: 'breastmnist', preprocessThreads: 0 });
    for (const split of ['train', 'test'] as const) {
      expect(threaded[split].n).toBe(data[split].n);
      expect(Buffer.from(threaded[split].x.buffer).equals(Buffer.from(inline[split].x.buffer))).toBe(true);
      expect(Buffer.from(threaded[split].x.buffer).equals(Buffer.from(data[split].x.buffer))).toBe(true);
      expect(Array.from(threaded[split].y)).toEqual(Array.from(data[split].y));
    }
    const noVal = await loadImageCache(cache, { shape: [28, 28, 1], dataset: 'breastmnist', valSplits: [] });
    expect(noVal.val).toBeUndefined();
    expect(data.report.rowsRejected).toBe(0);
    expect(data.train.y.reduce((a, b) => a + b, 0)).toBe(s1.positives.train);
    // Pixels survive the round trip: every cached training image is one of the npz's training images.
    const official = await loadMedmnist(npz);
    const key = (px: ArrayLike<number>): string => Array.from(px, (v) => Math.round(v)).join(',');
    const originals = new Set(Array.from({ length: official.train.n }, (_, i) => key(official.train.images.subarray(i * 784, (i + 1) * 784))));
    for (let i = 0; i < data.train.n; i++) {
      expect(originals.has(key(Array.from(data.train.x.subarray(i * 784, (i + 1) * 784), (v) => v * 255)))).toBe(true);
    }
    // Through the image pipeline an 8-bit image without a window is exactly value / 255 (the stored range).
    expect(Array.from(data.train.x.subarray(0, 784)).every((v) => Number.isInteger(Math.round(v * 255)) && v === Math.fround(Math.round(v * 255) / 255))).toBe(true);
  }, 120_000);
});
