import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deidentifyDicom, patientKey as dicomPatientKey } from '../../../../site-agent/src/hospital/deid/dicom-deid.js';
import { loadConfidentialityProfile } from '../../../../site-agent/src/hospital/deid/dicom-profile.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { SafeHarbor } from '../../../../site-agent/src/hospital/deid/safe-harbor.js';
import { getString } from '../../../../site-agent/src/hospital/dicom/dataset.js';
import { Tags } from '../../../../site-agent/src/hospital/dicom/dictionary.js';
import { parseDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import type { FhirResource } from '../../../../site-agent/src/hospital/emr/fhir-resource.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

type Json = Record<string, unknown>;

// The two gates run on the same real study: a DICOM file from the shared corpus and the FHIR records an
// EMR would hold for it (MRN = the file's Patient ID). With one site secret they must agree on the
// patient pseudonym, the date shift and the replacement UIDs, or imaging and EMR would not link.
describe('DICOM and EMR gates agree', () => {
  it('on pseudonym, date shift and study/series UIDs for the same patient', () => {
    const file = path.join(sharedDataDir(), 'dicom', 'dicomparser', 'CT1_UNC.explicit_little_endian.dcm');
    const bytes = readFileSync(file);
    const original = parseDicom(bytes, file).dataset;
    const mrn = dicomPatientKey(original);
    const studyUid = getString(original, Tags.StudyInstanceUID)!;
    const seriesUid = getString(original, Tags.SeriesInstanceUID)!;
    const studyDate = getString(original, Tags.StudyDate)!;
    expect(studyDate).toMatch(/^\d{8}$/);

    const pseudonymizer = new PatientPseudonymizer({ secret: new Uint8Array(32).fill(21) });
    const dicom = deidentifyDicom(bytes, file, {
      profile: loadConfidentialityProfile(),
      pseudonymizer,
      options: new Set(['retain-longitudinal-modified-dates']),
    });
    expect(dicom.status).toBe('written');
    if (dicom.status !== 'written') return;
    const out = parseDicom(Buffer.concat(dicom.chunks), 'out').dataset;

    const iso = `${studyDate.slice(0, 4)}-${studyDate.slice(4, 6)}-${studyDate.slice(6, 8)}`;
    const emr = new SafeHarbor({ pseudonymizer, today: '2022-01-01' }).deidentify([
      { resourceType: 'Patient', id: 'p1', identifier: [{ type: { coding: [{ code: 'MR' }] }, value: mrn }], birthDate: '1950-06-01' },
      {
        resourceType: 'ImagingStudy',
        id: 's1',
        status: 'available',
        subject: { reference: 'Patient/p1' },
        started: `${iso}T10:00:00Z`,
        identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }],
        series: [{ uid: seriesUid, modality: { code: 'CT' } }],
      },
    ] as FhirResource[]);
    const [patient, study] = emr.resources as Json[];

    expect(getString(out, Tags.PatientID)).toBe(patient!['id']);
    expect(dicom.patientPseudonym).toBe(patient!['id']);
    const shiftedDicomDate = getString(out, Tags.StudyDate)!;
    expect(String(study!['started']).slice(0, 10).replaceAll('-', '')).toBe(shiftedDicomDate);
    expect(dicom.dateShiftDays).toBe(pseudonymizer.dateShiftDays(mrn));
    expect(getString(out, Tags.StudyInstanceUID)).toBe(String((study!['identifier'] as Json[])[0]!['value']).replace('urn:oid:', ''));
    expect(getString(out, Tags.SeriesInstanceUID)).toBe((study!['series'] as Json[])[0]!['uid']);
  });
});
