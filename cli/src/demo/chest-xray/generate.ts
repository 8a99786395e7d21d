/**
 * Turns PneumoniaMNIST (paediatric chest radiographs, 28 × 28, official train / val / test splits) into
 * the holdings of three hospitals ({@link CHEST_HOSPITALS}): per site a PACS export folder of DICOM files
 * in that site's modality, bit depth, photometric interpretation, transfer syntax and size, and an EMR
 * bulk export (FHIR R4 NDJSON: Patient, ImagingStudy, DiagnosticReport with the report text, and
 * Condition where the site codes its diagnoses), plus site 2's mapping file for its legacy local codes.
 *
 * Every patient is synthetic (names, MRNs, dates, addresses, phone numbers drawn from a seeded
 * generator, resources tagged synthetic); they are there so the de-identification gates have real work.
 * The images are the 28 px originals upsampled (bilinear) with a little detector noise: no detail above
 * 28 px exists in them, which bounds what any model can learn from the larger files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { createRng, type Rng } from '../../../../shared/src/rng.js';
import { put, textElement, uint16Element } from '../../../../site-agent/src/hospital/dicom/dataset.js';
import { Tags, tag } from '../../../../site-agent/src/hospital/dicom/dictionary.js';
import { createImageDataset } from '../../../../site-agent/src/hospital/dicom/image.js';
import { writeDicomFile } from '../../../../site-agent/src/hospital/dicom/writer.js';
import { MEDMNIST_SPLIT_SYSTEM, SYNTHETIC_TAG } from '../../../../site-agent/src/hospital/datasets/medmnist-convert.js';
import { MEDMNIST_SPLITS, loadMedmnist, type ImageSet, type MedmnistSplit } from '../../../../site-agent/src/hospital/datasets/medmnist.js';
import { EncodePool } from './encode-pool.js';
import { NOISE_LENGTH, TRANSFER_SYNTAX_UID } from './pixels.js';
import { CHEST_HOSPITALS, DIAGNOSES, ICD10CM, SITE2_LOCAL_SYSTEM, SNOMED, type ChestHospital } from './hospitals.js';
import { chestReportText, type ReportStance } from './reports.js';

/** Options for {@link generateChestHospitals}. */
export interface ChestGenerateOptions {
  /** PneumoniaMNIST `.npz` with train/val/test images and labels (0 normal, 1 pneumonia). */
  npz: string;
  /** Output folder: `<site>/{dicom,fhir}` and `<site>/mapping.yaml` where the site has one. */
  outDir: string;
  /** @default CHEST_HOSPITALS */
  hospitals?: readonly ChestHospital[];
  /** Seeds identities, reports and the site assignment. @default 42 */
  seed?: number;
  /** Keep at most this many images per split, stratified (for `--quick`). @default all */
  maxPerSplit?: Partial<Record<MedmnistSplit, number>>;
  /**
   * Write the official test split as the held-out evaluation set (`heldout/<site>/*.dcm` in each site's
   * export format, labels in `heldout/labels.json`) instead of into the sites' holdings. @default true
   */
  holdOutTest?: boolean;
  /** Encoder threads. @default one per core, at most four */
  threads?: number;
  /** Called after each site and split is written. */
  progress?: (line: string) => void;
}

/** The held-out set's labels, relative to the output folder: `{ "heldout/site-1/NG17000013.dcm": 1, … }`. */
export const HELD_OUT_LABELS = path.join('heldout', 'labels.json');

/**
 * The ground truth of the sites' studies, by site and MRN (`{ "site-1": { "N0000012": 1, … } }`), which only
 * the demo reads, to check the labels each site derived. Beside the site folders, never in one.
 */
export const SITE_TRUTH = 'truth.json';

/** Ground truth counts of one site, which only the demo knows. */
export interface ChestSiteTruth {
  id: string;
  dir: string;
  images: Record<MedmnistSplit, number>;
  pneumonia: Record<MedmnistSplit, number>;
  /** Of the site's reports: stating pneumonia, negating it, hedging. */
  reports: Record<ReportStance, number>;
  /** Pneumonia diagnoses coded in a legacy local code (site 2 before its ICD-10-CM migration). */
  localCoded: number;
  bytes: number;
}

export interface ChestGenerateResult {
  sites: ChestSiteTruth[];
  /** Side of the source images (28). */
  sourceSize: number;
}

/**
 * Site 2's mapping file (agent.yaml names it): its legacy problem-list codes → ICD-10-CM, as that site's
 * terminology team keeps it, in the study-data mapping format (`codes: [{ from, to }]`).
 */
export function site2MappingYaml(): string {
  const local = [...DIAGNOSES.local.pneumonia, ...DIAGNOSES.local.other];
  const icd = [...DIAGNOSES.icd10cm.pneumonia, ...DIAGNOSES.icd10cm.other];
  const lines = local.map(([code, display], i) => {
    const [to, toDisplay] = icd[i] as readonly [string, string];
    return `  - { from: { system: '${SITE2_LOCAL_SYSTEM}', code: ${code} }, to: { system: icd10, code: ${to} } } # ${display} → ${toDisplay}`;
  });
  return `# St Brendan General Hospital: legacy problem-list codes (before the 2020 ICD-10-CM migration)\ncodes:\n${lines.join('\n')}\n`;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)] as T;
}

const GIVEN_F = ['Amelia', 'Chloe', 'Isla', 'Mei', 'Zara', 'Noor', 'Lucia', 'Freya', 'Ava', 'Hannah', 'Leila', 'Sienna'];
const GIVEN_M = ['Oliver', 'Mateo', 'Arjun', 'Leo', 'Kai', 'Omar', 'Finn', 'Elias', 'Jonah', 'Ravi', 'Tomas', 'Yusuf'];
const FAMILY = ['Ashworth', 'Bergström', 'Cardenas', 'Dubois', 'Eriksen', 'Fitzgerald', 'Gallagher', 'Horvath', 'Iwasaki', 'Jankowski', 'Kaur', 'Lombardi', 'Mbeki', 'Novak', "O'Connell", 'Pereira', 'Quist', 'Romanov', 'Sandoval', 'Tanaka', 'Ulrich', 'Vasquez', 'Whitfield', 'Zhou'];
const STREETS = ['Harbor', 'Linden', 'Chestnut', 'Sycamore', 'Magnolia', 'Ridge', 'Orchard', 'Mill'];
const CITIES: readonly (readonly [string, string, string])[] = [
  ['Fairview', 'OH', '44126'],
  ['Lakewood', 'CO', '80226'],
  ['Riverside', 'CA', '92501'],
  ['Greenville', 'SC', '29601'],
  ['Salem', 'MA', '01970'],
];
const RADIOLOGISTS = ['Dr. Helen Marsh', 'Dr. Samuel Okafor', 'Dr. Ingrid Holm', 'Dr. Rafael Mendes', 'Dr. Priya Raman'];

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Picks at most `max` indices of `set`, keeping its class proportions (all when `max` is undefined). */
function stratifiedSubset(set: ImageSet, max: number | undefined, rng: Rng): number[] {
  const all = Array.from({ length: set.n }, (_, i) => i);
  if (max === undefined || max >= set.n) return all;
  const byClass = new Map<number, number[]>();
  for (const i of all) {
    const c = set.labels[i] as number;
    byClass.set(c, [...(byClass.get(c) ?? []), i]);
  }
  const keep: number[] = [];
  // Cumulative rounding: the class counts sum to exactly `max`.
  let seen = 0;
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(c) as number[];
    const start = Math.round((seen / set.n) * max);
    seen += members.length;
    keep.push(...rng.shuffle(members).slice(0, Math.round((seen / set.n) * max) - start));
  }
  return keep.sort((a, b) => a - b);
}

/** Site index of each chosen image: within each class a seeded shuffle cut by the sites' shares. */
function assignSites(labels: Uint8Array, chosen: readonly number[], hospitals: readonly ChestHospital[], rng: Rng): Map<number, number> {
  const site = new Map<number, number>();
  for (const c of [0, 1]) {
    const members = rng.shuffle(chosen.filter((i) => labels[i] === c));
    const total = hospitals.reduce((a, h) => a + h.shares[c as 0 | 1], 0);
    let start = 0;
    hospitals.forEach((h, s) => {
      const end = s === hospitals.length - 1 ? members.length : start + Math.round((h.shares[c as 0 | 1] / total) * members.length);
      for (const i of members.slice(start, end)) site.set(i, s);
      start = end;
    });
  }
  return site;
}

const ndjson = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');

/** Writes the three hospitals. Deterministic per seed apart from DICOM UIDs' randomness source (seeded too). */
export async function generateChestHospitals(opts: ChestGenerateOptions): Promise<ChestGenerateResult> {
  const data = await loadMedmnist(opts.npz);
  if (data.train.height !== data.train.width || data.train.channels !== 1) throw new Error(`${opts.npz}: expected square grey images`);
  const hospitals = opts.hospitals ?? CHEST_HOSPITALS;
  const rng = createRng(opts.seed ?? 42);
  const srcSize = data.train.height;
  const fhir = hospitals.map(() => ({ Patient: [] as unknown[], ImagingStudy: [] as unknown[], DiagnosticReport: [] as unknown[], Condition: [] as unknown[] }));
  const truth: ChestSiteTruth[] = hospitals.map((h) => ({
    id: h.id,
    dir: path.join(opts.outDir, h.id),
    images: { train: 0, val: 0, test: 0 },
    pneumonia: { train: 0, val: 0, test: 0 },
    reports: { positive: 0, negated: 0, hedged: 0 },
    localCoded: 0,
    bytes: 0,
  }));
  for (const h of hospitals) {
    await mkdir(path.join(opts.outDir, h.id, 'dicom'), { recursive: true });
    await mkdir(path.join(opts.outDir, 'heldout', h.id), { recursive: true });
  }
  const uid = (): string => `2.25.${BigInt(`0x${Array.from({ length: 16 }, () => rng.int(256).toString(16).padStart(2, '0')).join('')}`).toString(10)}`;
  const heldOutLabels: Record<string, 0 | 1> = {};
  const siteTruth: Record<string, Record<string, 0 | 1>> = {};
  const pool = new EncodePool(opts.threads);
  try {
  let serial = 0;
  const day = 86_400_000;
  const from = Date.UTC(2017, 0, 1);
  const to = Date.UTC(2023, 11, 31);
  for (const split of MEDMNIST_SPLITS) {
    const set = data[split];
    const chosen = stratifiedSubset(set, opts.maxPerSplit?.[split], rng);
    const assignment = assignSites(set.labels, chosen, hospitals, rng);
    for (const i of chosen) {
      const s = assignment.get(i) as number;
      const h = hospitals[s] as ChestHospital;
      const t = truth[s] as ChestSiteTruth;
      const out = fhir[s] as (typeof fhir)[number];
      const pneumonia = set.labels[i] === 1;
      serial++;
      const mrn = h.mrn(serial);
      const female = rng.next() < 0.47;
      const given = pick(rng, female ? GIVEN_F : GIVEN_M);
      const family = pick(rng, FAMILY);
      const studyMs = from + rng.int(Math.floor((to - from) / day)) * day + (7 + rng.int(12)) * 3_600_000 + rng.int(60) * 60_000;
      const ageDays = 365 + rng.int(4 * 365);
      const birthDate = isoDay(studyMs - ageDays * day);
      const studyDate = isoDay(studyMs);
      const studyTime = new Date(studyMs).toISOString().slice(11, 19);
      const [city, state, zip] = pick(rng, CITIES);
      const phone = `(555) 01${pad(rng.int(100), 2)}-${pad(rng.int(10_000), 4)}`;
      const accession = `${h.id === 'site-2' ? 'SB' : h.id === 'site-1' ? 'NG' : 'RB'}${studyDate.slice(2, 4)}${pad(serial, 6)}`;
      const studyUid = uid();
      const seriesUid = uid();
      const sopUid = uid();
      const description = pick(rng, h.pacs.studyDescriptions);
      const view = rng.next() < 0.8 ? 'AP' : 'PA';
      const p = h.pacs;
      const noiseOffset = rng.int(NOISE_LENGTH);
      const heldOut = split === 'test' && opts.holdOutTest !== false;
      const file = heldOut ? path.join('heldout', h.id, `${accession}.dcm`) : path.join(h.id, 'dicom', `${accession}.dcm`);
      const ds = createImageDataset({
        rows: p.size,
        columns: p.size,
        // Placeholder pixels of the right size and depth; the encoded frame replaces them below.
        pixels: p.bitsAllocated === 8 ? new Uint8Array(p.size * p.size) : new Uint16Array(p.size * p.size),
        photometricInterpretation: p.photometric,
        sopClassUid: p.sopClassUid,
        sopInstanceUid: sopUid,
        studyInstanceUid: studyUid,
        seriesInstanceUid: seriesUid,
        attributes: {
          ImageType: 'ORIGINAL\\PRIMARY',
          PatientName: `${family}^${given}`,
          PatientID: mrn,
          IssuerOfPatientID: h.name,
          PatientBirthDate: birthDate.replaceAll('-', ''),
          PatientSex: female ? 'F' : 'M',
          PatientAge: `${pad(Math.floor(ageDays / 365), 3)}Y`,
          PatientAddress: `${1 + rng.int(999)} ${pick(rng, STREETS)} Rd, ${city}, ${state} ${zip}`,
          PatientTelephoneNumbers: phone,
          StudyDate: studyDate.replaceAll('-', ''),
          SeriesDate: studyDate.replaceAll('-', ''),
          AcquisitionDate: studyDate.replaceAll('-', ''),
          ContentDate: studyDate.replaceAll('-', ''),
          StudyTime: studyTime.replaceAll(':', ''),
          AccessionNumber: accession,
          StudyID: pad(serial, 6),
          Modality: p.modality,
          Manufacturer: p.manufacturer,
          InstitutionName: h.name,
          InstitutionAddress: `${100 + s * 111} Hospital Way, ${city}, ${state}`,
          StationName: `${h.id.toUpperCase()}-XR${1 + rng.int(4)}`,
          ReferringPhysicianName: `${pick(rng, FAMILY)}^${pick(rng, [...GIVEN_F, ...GIVEN_M])}^^Dr`,
          OperatorsName: `${pick(rng, FAMILY)}^${pick(rng, [...GIVEN_F, ...GIVEN_M])}`,
          StudyDescription: description,
          SeriesDescription: `${view} ${description}`,
          BodyPartExamined: 'CHEST',
          DeviceSerialNumber: `${p.model.replace(/\W/g, '').slice(0, 6).toUpperCase()}${pad(1000 + s, 5)}`,
          SeriesNumber: '1',
          InstanceNumber: '1',
          PatientOrientation: 'R\\F',
          BurnedInAnnotation: 'NO',
          ...(p.bitsAllocated === 16 ? { WindowCenter: String(Math.round((p.range[0] + p.range[1]) / 2)), WindowWidth: String(p.range[1] - p.range[0]) } : {}),
        },
      });
      ds.delete(Tags.ConversionType); // a Secondary Capture attribute; these are acquired images
      put(ds, textElement(tag(0x0008, 0x1090), 'LO', p.model)); // Manufacturer's Model Name
      put(ds, textElement(tag(0x0018, 0x5101), 'CS', view)); // View Position
      put(ds, textElement(tag(0x0018, 0x1164), 'DS', p.size >= 448 ? '0.35\\0.35' : '0.7\\0.7')); // Imager Pixel Spacing
      if (p.modality === 'DX') put(ds, textElement(tag(0x0008, 0x0068), 'CS', 'FOR PRESENTATION')); // Presentation Intent Type
      put(ds, uint16Element(Tags.BitsStored, p.bitsStored));
      put(ds, uint16Element(Tags.HighBit, p.bitsStored - 1));
      if (p.transferSyntax === 'jpeg-baseline') {
        put(ds, textElement(tag(0x0028, 0x2110), 'CS', '01')); // Lossy Image Compression
        put(ds, textElement(tag(0x0028, 0x2114), 'CS', 'ISO_10918_1')); // Lossy Image Compression Method
      }
      const src = set.images.slice(i * srcSize * srcSize, (i + 1) * srcSize * srcSize);
      await pool.submit({ src, srcSize, profile: p, noiseOffset }, async (codestream) => {
        put(ds, { tag: Tags.PixelData, vr: 'OB', encapsulated: { offsetTable: new Uint8Array(0), fragments: [codestream] } });
        await writeDicomFile(path.join(opts.outDir, file), ds, { transferSyntaxUid: TRANSFER_SYNTAX_UID[p.transferSyntax] });
        t.bytes += codestream.length;
      });
      t.images[split]++;
      if (pneumonia) t.pneumonia[split]++;
      if (heldOut) {
        // The official test split is the consortium's held-out evaluation set: no EMR, never at a site.
        heldOutLabels[file] = pneumonia ? 1 : 0;
        continue;
      }
      (siteTruth[h.id] ??= {})[mrn] = pneumonia ? 1 : 0;

      const patientId = `pt-${serial}`;
      const meta = { tag: [SYNTHETIC_TAG] };
      const subject = { reference: `Patient/${patientId}` };
      out.Patient.push({
        resourceType: 'Patient',
        id: patientId,
        meta,
        identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: `urn:demo:${h.id}:mrn`, value: mrn }],
        name: [{ family, given: [given] }],
        gender: female ? 'female' : 'male',
        birthDate,
        telecom: [{ system: 'phone', value: phone }],
        address: [{ line: [`${1 + rng.int(999)} ${pick(rng, STREETS)} Rd`], city, state, postalCode: zip }],
      });
      out.ImagingStudy.push({
        resourceType: 'ImagingStudy',
        id: `is-${serial}`,
        meta,
        status: 'available',
        subject,
        started: `${studyDate}T${studyTime}Z`,
        identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }, { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: accession }],
        modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: p.modality }],
        description,
        numberOfSeries: 1,
        numberOfInstances: 1,
        series: [{ uid: seriesUid, number: 1, modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: p.modality }, numberOfInstances: 1, bodySite: { system: SNOMED, code: '51185008', display: 'Chest' }, instance: [{ uid: sopUid, sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${p.sopClassUid}` }, number: 1 }] }],
      });
      const report = chestReportText(rng, pneumonia);
      t.reports[report.stance]++;
      const radiologist = pick(rng, RADIOLOGISTS);
      const signed = isoDay(studyMs + rng.int(2) * day);
      const text = `${report.text}\n\nElectronically signed by ${radiologist} on ${signed}. Patient: ${given} ${family}, MRN ${mrn}.`;
      out.DiagnosticReport.push({
        resourceType: 'DiagnosticReport',
        id: `dr-${serial}`,
        meta,
        status: 'final',
        // The official split travels as a demo-only category so the pooled test set is exactly the official one.
        category: [
          { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' }] },
          { coding: [{ system: MEDMNIST_SPLIT_SYSTEM, code: split, display: `MedMNIST ${split} split` }] },
        ],
        code: { coding: [{ system: `urn:demo:${h.id}:ris-procedure`, code: `XR-CHEST-${1 + h.pacs.studyDescriptions.indexOf(description)}`, display: description }], text: description },
        subject,
        effectiveDateTime: `${studyDate}T${studyTime}Z`,
        issued: `${signed}T18:00:00Z`,
        imagingStudy: [{ reference: `ImagingStudy/is-${serial}` }],
        presentedForm: [{ contentType: 'text/plain; charset=utf-8', data: Buffer.from(text, 'utf8').toString('base64'), title: 'Radiology report' }],
      });
      const coding = h.coding;
      if (coding.kind !== 'report-text') {
        const onset = isoDay(studyMs + rng.int(3) * day);
        const conditions: (readonly [string, string, string])[] = [];
        const legacy = coding.kind === 'icd10cm' && onset < coding.legacyBefore;
        const table: { pneumonia: readonly (readonly [string, string])[]; other: readonly (readonly [string, string])[] } = coding.kind === 'snomed' ? DIAGNOSES.snomed : legacy ? DIAGNOSES.local : DIAGNOSES.icd10cm;
        const system = coding.kind === 'snomed' ? SNOMED : legacy ? SITE2_LOCAL_SYSTEM : ICD10CM;
        if (pneumonia) {
          // Most pneumonia is coded unspecified; some bacterial or viral.
          const r = rng.next();
          const [code, display] = table.pneumonia[r < 0.7 ? 0 : r < 0.85 ? 1 : 2] as readonly [string, string];
          conditions.push([system, code, display]);
          if (legacy) t.localCoded++;
        }
        if (rng.next() < 0.3) {
          const [code, display] = pick(rng, table.other);
          conditions.push([system, code, display]);
        }
        conditions.forEach(([sys, code, display], k) =>
          out.Condition.push({
            resourceType: 'Condition',
            id: `cond-${serial}-${k}`,
            meta,
            clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
            verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
            category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
            code: { coding: [{ system: sys, code, display }], text: display },
            subject,
            onsetDateTime: `${onset}T12:00:00Z`,
            recordedDate: `${onset}T12:00:00Z`,
          }),
        );
      }
    }
    await pool.drain();
    opts.progress?.(`  ${split}: ${chosen.length} images written over ${hospitals.length} sites`);
  }
  } finally {
    await pool.close();
  }
  for (const [s, h] of hospitals.entries()) {
    const dir = path.join(opts.outDir, h.id, 'fhir');
    await mkdir(dir, { recursive: true });
    const out = fhir[s] as (typeof fhir)[number];
    for (const [type, rows] of Object.entries(out)) if (rows.length > 0) await writeFile(path.join(dir, `${type}.ndjson`), ndjson(rows));
    if (h.coding.kind === 'icd10cm') await writeFile(path.join(opts.outDir, h.id, 'mapping.yaml'), site2MappingYaml());
  }
  if (Object.keys(heldOutLabels).length > 0) await writeFile(path.join(opts.outDir, HELD_OUT_LABELS), `${JSON.stringify(heldOutLabels)}\n`);
  await writeFile(path.join(opts.outDir, SITE_TRUTH), `${JSON.stringify(siteTruth)}\n`);
  return { sites: truth, sourceSize: srcSize };
}
