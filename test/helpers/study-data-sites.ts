import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sharedDataDir } from '../../cli/src/public-data.js';
import { parseCsvRecords } from '../../site-agent/src/hospital/emr/csv-records.js';
import { createImageDataset } from '../../site-agent/src/hospital/dicom/image.js';
import { writeDicomFile } from '../../site-agent/src/hospital/dicom/writer.js';

/** Hospitals for the study data contract's tests: Synthea cut into sites, and small chest-radiograph sites. */
export const SYNTHEA = path.join(sharedDataDir(), 'emr', 'synthea', 'csv');
const TABLES = ['patients', 'encounters', 'observations', 'conditions', 'procedures', 'medications'];

export /** Writes site `s` of 3: the Synthea patients whose row index is s mod 3, with every table cut to them. */
function writeSyntheaSite(dir: string, s: number, opts: { patientsOnly?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  const patients = parseCsvRecords(readFileSync(path.join(SYNTHEA, 'patients.csv'), 'utf8')).records;
  const head = patients[0]?.fields ?? [];
  const ids = new Set(patients.slice(1).filter((_, i) => i % 3 === s).map((r) => r.fields[head.indexOf('Id')]));
  for (const table of TABLES) {
    const text = readFileSync(path.join(SYNTHEA, `${table}.csv`), 'utf8');
    const lines = text.split(/\r?\n/);
    const header = lines[0] ?? '';
    const col = (header.split(',').indexOf(table === 'patients' ? 'Id' : 'PATIENT'));
    const kept = opts.patientsOnly === true && table !== 'patients' ? [] : lines.slice(1).filter((l) => l !== '' && ids.has(l.split(',')[col]));
    writeFileSync(path.join(dir, `${table}.csv`), `${[header, ...kept].join('\n')}\n`);
  }
}

export /**
 * A small chest-radiograph site: 24 patients, one 16×16 CR image each (a bright square when the patient has
 * pneumonia), and FHIR records whose pneumonia diagnosis is coded the site's way: SNOMED CT at site 1,
 * ICD-10-CM at site 2, a local code mapped by the site's file at site 3; study descriptions differ too.
 */
async function writeImagingSite(dir: string, s: number): Promise<{ dicom: string; fhir: string; mapping?: string; emr?: string }> {
  const dicom = path.join(dir, 'dicom');
  const fhir = path.join(dir, 'fhir');
  mkdirSync(dicom, { recursive: true });
  mkdirSync(fhir, { recursive: true });
  const description = ['Chest X-Ray', 'Radiograph, Chest', 'XR CHEST PA'][s] ?? '';
  const dx = [
    { system: 'http://snomed.info/sct', code: '233604007' },
    { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'J18.9' },
    { system: 'urn:site-3:dx', code: 'PNEU' },
  ][s];
  const entries: Record<string, unknown>[] = [];
  // Site 2 keeps its diagnoses in a separate EMR export (an `emr` dataset the imaging dataset names).
  const emrEntries: Record<string, unknown>[] = [];
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 24; i++) {
    const mrn = `S${s}P${String(i).padStart(3, '0')}`;
    const sick = i % 2 === 0;
    // Site 1 exports 32×32 12-bit images (the pipeline resamples them to the model's 16×16), the others 16×16 8-bit.
    const side = s === 0 ? 32 : 16;
    const scale = s === 0 ? 16 : 1;
    const pixels = s === 0 ? new Uint16Array(side * side) : new Uint8Array(side * side);
    for (let k = 0; k < side * side; k++) pixels[k] = (40 + ((k * 7 + i * 13) % 30)) * scale;
    if (sick) for (let r = side / 4; r < (3 * side) / 4; r++) for (let c = side / 4; c < (3 * side) / 4; c++) pixels[r * side + c] = 220 * scale;
    const date = `2021-0${1 + (i % 9)}-1${i % 10}`;
    writes.push(
      writeDicomFile(
        path.join(dicom, `${mrn}.dcm`),
        createImageDataset({
          rows: side,
          columns: side,
          pixels,
          attributes: { PatientID: mrn, PatientName: `Doe^${mrn}`, PatientBirthDate: '19600101', StudyDate: date.replaceAll('-', ''), Modality: 'CR', BodyPartExamined: 'CHEST', StudyDescription: description, BurnedInAnnotation: 'NO' },
        }),
      ),
    );
    const pid = `pat-${mrn}`;
    const patient = { resourceType: 'Patient', id: pid, identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: 'urn:site:mrn', value: mrn }], name: [{ family: 'Doe', given: [mrn] }], gender: i % 3 === 0 ? 'male' : 'female', birthDate: '1960-01-01' };
    if (s === 1) emrEntries.push(patient);
    entries.push(
      patient,
      {
        resourceType: 'ImagingStudy',
        id: `img-${mrn}`,
        status: 'available',
        subject: { reference: `Patient/${pid}` },
        started: `${date}T09:00:00Z`,
        description,
        series: [{ uid: `1.2.826.0.1.3680043.10.${s}.${i}`, modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CR' }, bodySite: { code: 'CHEST' } }],
      },
    );
    if (sick) (s === 1 ? emrEntries : entries).push({ resourceType: 'Condition', id: `dx-${mrn}`, code: { coding: [dx] }, subject: { reference: `Patient/${pid}` }, onsetDateTime: `${date}T12:00:00Z` });
  }
  writeFileSync(path.join(fhir, 'bundle.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: entries.map((resource) => ({ resource })) }));
  const emr = path.join(dir, 'emr-chest');
  if (s === 1) {
    mkdirSync(emr, { recursive: true });
    writeFileSync(path.join(emr, 'bundle.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: emrEntries.map((resource) => ({ resource })) }));
  }
  await Promise.all(writes);
  const mapping = path.join(dir, 'mapping.yaml');
  const lines = [
    'descriptions:',
    `  - { description: '${description}', to: { system: radlex, code: RPID1301 } }`,
    ...(s === 2 ? ['codes:', "  - { from: { system: 'urn:site-3:dx', code: PNEU }, to: { system: snomed, code: '233604007' } }"] : []),
  ];
  writeFileSync(mapping, `${lines.join('\n')}\n`);
  return { dicom, fhir, mapping, ...(s === 1 ? { emr } : {}) };
}
