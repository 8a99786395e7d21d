/**
 * Planning `tessera demo --dataset chest-xray`: the three hospitals' holdings (generated from
 * PneumoniaMNIST into the data folder unless it already holds them), optionally served by one Orthanc per
 * hospital (`--pacs`), and each site agent's `datasets` entry for the study.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { sharedDataDir } from '../../public-data.js';
import { generateChestHospitals, HELD_OUT_LABELS, type ChestSiteTruth } from './generate.js';
import { CHEST_HOSPITALS } from './hospitals.js';
import { orthancMissing, startDemoPacs, type DemoPacs } from './orthanc.js';
import { QUICK_IMAGES } from './study.js';

/** Where PneumoniaMNIST is read from, under the public data folder. */
export const PNEUMONIAMNIST_NPZ = path.join('medmnist', 'pneumoniamnist_varun19424.npz');

/** What planning needs from the demo's arguments. */
export interface ChestPlanOptions {
  workdir: string;
  /** Where the hospitals' holdings are (generated here when absent). */
  dataDir: string;
  seed: number;
  quick: boolean;
  pacs: boolean;
  inputShape: readonly [number, number, number];
}

/** A demo site's agent.yaml pieces: its dataset entry and, with `--pacs`, the PACS source it pulls from. */
export interface ChestSitePlan {
  id: string;
  name: string;
  dataset: Record<string, unknown>;
  sources?: Record<string, unknown>;
}

/** The generated holdings' summary, kept beside them so a later run can reuse the folder. */
export interface ChestHoldings {
  seed: number;
  quick: boolean;
  sites: ChestSiteTruth[];
  generateMs: number;
}

const HOLDINGS_FILE = 'holdings.json';

/** Thrown when the demo cannot plan: the message says what is missing and how to fix it. */
export class ChestPlanError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'input-missing',
  ) {
    super(message);
  }
}

/** Generates the holdings into `dataDir` unless a previous run with the same seed and size left them there. */
export async function ensureChestHoldings(o: ChestPlanOptions, say: (line: string) => void): Promise<ChestHoldings & { reused: boolean }> {
  const file = path.join(o.dataDir, HOLDINGS_FILE);
  if (existsSync(file) && existsSync(path.join(o.dataDir, HELD_OUT_LABELS))) {
    const held = JSON.parse(await readFile(file, 'utf8')) as ChestHoldings;
    if (held.seed === o.seed && held.quick === o.quick) {
      say(`using the hospitals' holdings in ${o.dataDir} (generated earlier in ${(held.generateMs / 1000).toFixed(0)} s)`);
      return { ...held, reused: true };
    }
    throw new ChestPlanError(`${o.dataDir} holds chest-xray data of another seed or size (seed ${held.seed}${held.quick ? ', --quick' : ''}); pick an empty --data-dir`, 'usage');
  }
  const npz = path.join(sharedDataDir(), PNEUMONIAMNIST_NPZ);
  if (!existsSync(npz)) {
    throw new ChestPlanError(`PneumoniaMNIST not found at ${npz}: set TESSERA_SHARED_DATA to the public data folder that holds ${PNEUMONIAMNIST_NPZ}`, 'input-missing');
  }
  say(`generating three hospitals from ${npz}${o.quick ? ` (--quick: ${QUICK_IMAGES.train} / ${QUICK_IMAGES.val} / ${QUICK_IMAGES.test} images)` : ''} into ${o.dataDir}`);
  const started = Date.now();
  const res = await generateChestHospitals({ npz, outDir: o.dataDir, seed: o.seed, ...(o.quick ? { maxPerSplit: QUICK_IMAGES } : {}), progress: say });
  const holdings: ChestHoldings = { seed: o.seed, quick: o.quick, sites: res.sites, generateMs: Date.now() - started };
  for (const s of res.sites) {
    const h = CHEST_HOSPITALS.find((x) => x.id === s.id);
    const p = h?.pacs;
    say(
      `  ${s.id} ${h?.name ?? ''}: ${s.images.train + s.images.val} studies (${p?.modality ?? ''} ${p?.bitsStored ?? ''}-bit ${p?.photometric ?? ''} ${p?.transferSyntax ?? ''} ${p?.size ?? ''} px, ${(s.bytes / 1048576).toFixed(0)} MB), ` +
        `diagnoses ${h?.coding.kind === 'snomed' ? 'in SNOMED CT' : h?.coding.kind === 'icd10cm' ? `in ICD-10-CM (${s.localCoded} in legacy local codes)` : 'only in report text'}; ${s.images.test} held-out test images`,
    );
  }
  say(`  (every image is a 28 px PneumoniaMNIST original upsampled: no detail finer than 28 px exists, which bounds the accuracy any model can reach)`);
  await writeFile(path.join(o.dataDir, HOLDINGS_FILE), `${JSON.stringify(holdings, null, 2)}\n`);
  return { ...holdings, reused: false };
}

/**
 * The sites' agent.yaml pieces. From folders by default; with `pacs`, one Orthanc per hospital is started
 * and loaded (returned so the demo stops them) and the agent pulls from it over DICOMweb.
 */
export async function planChestSites(o: ChestPlanOptions, say: (line: string) => void): Promise<{ sites: ChestSitePlan[]; pacs: DemoPacs[] }> {
  if (o.pacs) {
    const why = orthancMissing();
    if (why !== undefined) throw new ChestPlanError(`--pacs: ${why}`, 'input-missing');
  }
  const sites: ChestSitePlan[] = [];
  const pacs: DemoPacs[] = [];
  try {
    for (const h of CHEST_HOSPITALS) {
      const dir = path.join(o.dataDir, h.id);
      const common = {
        kind: 'imaging-study',
        fhir: path.join(dir, 'fhir'),
        cache: path.join(o.workdir, 'site-cache', h.id),
        secret: path.join(o.workdir, 'site-secrets', h.id),
        deidOptions: ['retain-longitudinal-modified-dates'],
        inputShape: [...o.inputShape],
        ...(existsSync(path.join(dir, 'mapping.yaml')) ? { mapping: path.join(dir, 'mapping.yaml') } : {}),
      };
      if (!o.pacs) {
        sites.push({ id: h.id, name: h.name, dataset: { ...common, dicom: path.join(dir, 'dicom') } });
        continue;
      }
      const p = await startDemoPacs(h.id, path.join(dir, 'dicom'), path.join(o.workdir, 'pacs', h.id));
      pacs.push(p);
      say(`  ${h.id}: Orthanc PACS at ${p.dicomWebUrl} holds ${p.instances} instances`);
      sites.push({
        id: h.id,
        name: h.name,
        sources: { 'hospital-pacs': { kind: 'dicomweb', url: p.dicomWebUrl, auth: { type: 'none' }, concurrency: 4, requestsPerSecond: 200 } },
        dataset: { ...common, source: 'hospital-pacs', query: { modalities: [h.pacs.modality], bodyPart: 'CHEST' } },
      });
    }
  } catch (err) {
    await Promise.all(pacs.map((p) => p.stop()));
    throw err;
  }
  return { sites, pacs };
}
