import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createImageDataset } from '../dicom/image.js';
import { writeDicomFile } from '../dicom/writer.js';
import { createRng, type Rng } from '../../../../shared/src/rng.js';
import { MEDMNIST_SPLITS, loadMedmnist, type MedmnistSplit } from './medmnist.js';

/**
 * Turns a MedMNIST `.npz` into what a hospital holds: one DICOM file per image, written with the
 * project's DICOM writer, for a synthetic patient (name, MRN, birth date, address, phone: all drawn from
 * a seeded generator and marked synthetic) with linked FHIR R4 records (Patient, ImagingStudy,
 * DiagnosticReport carrying the label as its conclusion code and the official split as a category), spread over sites with a label skew
 * (non-IID). Every identifier is fake; they exist so the de-identification gate has something to remove.
 */

/** Share of each class (index = label) that goes to each site: rows are sites, each column sums to 1. */
export const BREASTMNIST_SITE_SHARES: readonly (readonly [number, number])[] = [
  [0.5, 0.25],
  [0.3, 0.35],
  [0.2, 0.4],
];

/** Coding of the label in `DiagnosticReport.conclusionCode` (BreastMNIST: 0 malignant, 1 normal or benign). */
export const MEDMNIST_LABEL_SYSTEM = 'urn:tessera:medmnist:label';
/** `DiagnosticReport.category` coding system of the official split. */
export const MEDMNIST_SPLIT_SYSTEM = 'urn:tessera:medmnist:split';
/** `meta.tag` marking every generated resource as synthetic test data. */
export const SYNTHETIC_TAG = { system: 'urn:tessera:synthetic', code: 'synthetic', display: 'Synthetic test data, not a real person' } as const;

const GIVEN = ['Alice', 'Beatriz', 'Chiara', 'Dana', 'Esther', 'Fatima', 'Grace', 'Hana', 'Ines', 'Julia', 'Keiko', 'Lena', 'Maya', 'Nadia', 'Olga', 'Priya', 'Rosa', 'Sofia', 'Tamar', 'Una', 'Vera', 'Wen', 'Yara', 'Zofia'];
const FAMILY = ['Abernathy', 'Blackwood', 'Castellanos', 'Delacroix', 'Eastwood', 'Fairbanks', 'Goldsmith', 'Hargreaves', 'Ivanova', 'Jablonski', 'Kowalczyk', 'Lindqvist', 'Moreau', 'Nakamura', 'Okonkwo', 'Petrakis', 'Quintero', 'Rasmussen', 'Szabo', 'Thorne', 'Uberti', 'Valdivia', 'Whitcombe', 'Yilmaz'];
const STREETS = ['Maple', 'Oak', 'Cedar', 'Elm', 'Birch', 'Willow', 'Aspen', 'Juniper'];
const CITIES: readonly [string, string, string][] = [
  ['Springfield', 'IL', '62704'],
  ['Madison', 'WI', '53703'],
  ['Portland', 'OR', '97205'],
  ['Burlington', 'VT', '05401'],
  ['Santa Fe', 'NM', '87501'],
];

/** Options for {@link convertMedmnistToSites}. */
export interface ConvertOptions {
  /** The MedMNIST `.npz` (e.g. breastmnist.npz). */
  npz: string;
  /** Output folder: `<site>/dicom/*.dcm` and `<site>/fhir/bundle.json` per site. */
  outDir: string;
  /** Site ids. @default ['site-1', 'site-2', 'site-3'] */
  sites?: readonly string[];
  /** Per-site class shares, as {@link BREASTMNIST_SITE_SHARES}. @default BREASTMNIST_SITE_SHARES */
  shares?: readonly (readonly number[])[];
  /** Seeds identities and the site assignment. @default 42 */
  seed?: number;
  /** Modality written in DICOM and FHIR. @default 'US' (BreastMNIST is breast ultrasound) */
  modality?: string;
}

/** What was written, per site. */
export interface ConvertResult {
  sites: { id: string; dir: string; images: Record<MedmnistSplit, number>; positives: Record<MedmnistSplit, number> }[];
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)] as T;
}

function isoDate(rng: Rng, fromYear: number, toYear: number): string {
  const y = fromYear + rng.int(toYear - fromYear + 1);
  return `${y}-${pad(1 + rng.int(12), 2)}-${pad(1 + rng.int(28), 2)}`;
}

/** Assigns each image to a site: within each class, a seeded shuffle cut by the class's shares. */
function assignSites(labels: Uint8Array, shares: readonly (readonly number[])[], rng: Rng): number[] {
  const site = new Array<number>(labels.length).fill(0);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  for (const c of classes) {
    const members: number[] = [];
    labels.forEach((l, i) => {
      if (l === c) members.push(i);
    });
    const idx = rng.shuffle(members);
    let start = 0;
    shares.forEach((row, s) => {
      const total = shares.reduce((a, r) => a + (r[c] ?? 0), 0);
      const end = s === shares.length - 1 ? idx.length : start + Math.round(((row[c] ?? 0) / total) * idx.length);
      for (const i of idx.slice(start, end)) site[i] = s;
      start = end;
    });
  }
  return site;
}

/**
 * Converts the `.npz` into per-site DICOM folders and FHIR bundles. Deterministic per seed apart from
 * the DICOM UIDs (fresh random `2.25.` UIDs, as a modality would issue them).
 */
export async function convertMedmnistToSites(opts: ConvertOptions): Promise<ConvertResult> {
  const data = await loadMedmnist(opts.npz);
  const siteIds = opts.sites ?? ['site-1', 'site-2', 'site-3'];
  const shares = opts.shares ?? BREASTMNIST_SITE_SHARES.slice(0, siteIds.length);
  const modality = opts.modality ?? 'US';
  const rng = createRng(opts.seed ?? 42);
  const bundles = siteIds.map(() => [] as Record<string, unknown>[]);
  const result: ConvertResult = {
    sites: siteIds.map((id) => ({ id, dir: path.join(opts.outDir, id), images: { train: 0, val: 0, test: 0 }, positives: { train: 0, val: 0, test: 0 } })),
  };
  for (const id of siteIds) await mkdir(path.join(opts.outDir, id, 'dicom'), { recursive: true });
  let serial = 0;
  for (const split of MEDMNIST_SPLITS) {
    const set = data[split];
    const assignment = assignSites(set.labels, shares, rng);
    const size = set.height * set.width * set.channels;
    for (let i = 0; i < set.n; i++) {
      const s = assignment[i] as number;
      const siteId = siteIds[s] as string;
      const label = set.labels[i] as number;
      serial++;
      const mrn = `SYN${pad(s + 1, 2)}${pad(serial, 6)}`;
      const given = pick(rng, GIVEN);
      const family = pick(rng, FAMILY);
      const birthDate = isoDate(rng, 1945, 1995);
      const studyDate = isoDate(rng, 2018, 2023);
      const [city, state, zip] = pick(rng, CITIES);
      const phone = `555-01${pad(rng.int(100), 2)}`;
      const accession = `ACC${pad(serial, 7)}`;
      const studyUid = `2.25.${BigInt(`0x${Buffer.from(Array.from({ length: 16 }, () => rng.int(256))).toString('hex')}`).toString(10)}`;
      const ds = createImageDataset({
        rows: set.height,
        columns: set.width,
        pixels: set.images.slice(i * size, (i + 1) * size),
        ...(set.channels === 3 ? { photometricInterpretation: 'RGB' as const } : {}),
        studyInstanceUid: studyUid,
        attributes: {
          PatientName: `${family}^${given}`,
          PatientID: mrn,
          PatientBirthDate: birthDate.replaceAll('-', ''),
          PatientSex: 'F',
          PatientAddress: `${1 + rng.int(999)} ${pick(rng, STREETS)} St, ${city}, ${state} ${zip}`,
          PatientTelephoneNumbers: phone,
          StudyDate: studyDate.replaceAll('-', ''),
          StudyTime: `${pad(8 + rng.int(9), 2)}${pad(rng.int(60), 2)}00`,
          AccessionNumber: accession,
          StudyID: pad(serial, 6),
          Modality: modality,
          StudyDescription: `Breast ultrasound for ${given} ${family}`,
          InstitutionName: `Tessera Demo Hospital ${s + 1}`,
          ReferringPhysicianName: `${pick(rng, FAMILY)}^${pick(rng, GIVEN)}`,
          BodyPartExamined: 'BREAST',
          BurnedInAnnotation: 'NO',
          SeriesNumber: '1',
          InstanceNumber: '1',
        },
      });
      await writeDicomFile(path.join(opts.outDir, siteId, 'dicom', `${mrn}.dcm`), ds);
      const patientId = `pat-${mrn.toLowerCase()}`;
      const meta = { tag: [SYNTHETIC_TAG] };
      (bundles[s] as Record<string, unknown>[]).push(
        {
          resourceType: 'Patient',
          id: patientId,
          meta,
          identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: `urn:tessera:demo:${siteId}:mrn`, value: mrn }],
          name: [{ family, given: [given] }],
          gender: 'female',
          birthDate,
          telecom: [{ system: 'phone', value: phone }],
          address: [{ city, state, postalCode: zip }],
        },
        {
          resourceType: 'ImagingStudy',
          id: `img-${mrn.toLowerCase()}`,
          meta,
          status: 'available',
          subject: { reference: `Patient/${patientId}` },
          started: `${studyDate}T09:00:00Z`,
          identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }, { type: { coding: [{ code: 'ACSN' }] }, value: accession }],
          modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: modality }],
          numberOfSeries: 1,
          numberOfInstances: 1,
        },
        {
          resourceType: 'DiagnosticReport',
          id: `rep-${mrn.toLowerCase()}`,
          meta,
          status: 'final',
          // The official split travels as a category: Safe Harbor keeps coded categories, drops meta.
          category: [{ coding: [{ system: MEDMNIST_SPLIT_SYSTEM, code: split, display: `MedMNIST ${split} split` }] }],
          code: { coding: [{ system: 'http://loinc.org', code: '24604-1', display: 'US Breast' }] },
          subject: { reference: `Patient/${patientId}` },
          effectiveDateTime: `${studyDate}T10:00:00Z`,
          imagingStudy: [{ reference: `ImagingStudy/img-${mrn.toLowerCase()}` }],
          conclusionCode: [
            {
              coding: [
                label === 0
                  ? { system: MEDMNIST_LABEL_SYSTEM, code: '0', display: 'malignant' }
                  : { system: MEDMNIST_LABEL_SYSTEM, code: String(label), display: 'normal or benign' },
              ],
            },
          ],
        },
      );
      const site = result.sites[s];
      if (site !== undefined) {
        site.images[split]++;
        if (label === 1) site.positives[split]++;
      }
    }
  }
  await Promise.all(
    siteIds.map(async (id, s) => {
      await mkdir(path.join(opts.outDir, id, 'fhir'), { recursive: true });
      const bundle = { resourceType: 'Bundle', type: 'collection', entry: (bundles[s] ?? []).map((resource) => ({ resource })) };
      await writeFile(path.join(opts.outDir, id, 'fhir', 'bundle.json'), `${JSON.stringify(bundle)}\n`);
    }),
  );
  return result;
}
