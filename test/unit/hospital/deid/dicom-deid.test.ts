import dicomParser from 'dicom-parser';
import { describe, expect, it } from 'vitest';

import { createImageDataset, encodeDicom, Tags, tag, textElement, type DicomDataset } from '../../../../site-agent/src/hospital/dicom/index.js';
import { parseDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { concatChunks } from '../../../../site-agent/src/hospital/dicom/writer.js';
import { deidentifyDicom, shiftDateValue, type DicomDeidContext } from '../../../../site-agent/src/hospital/deid/dicom-deid.js';
import { loadConfidentialityProfile, resolveBasicAction, type DeidOption } from '../../../../site-agent/src/hospital/deid/dicom-profile.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { makeTextScrubber, SCRUBBED } from '../../../../site-agent/src/hospital/deid/text-scrub.js';

const profile = loadConfidentialityProfile();
const pseudonymizer = new PatientPseudonymizer({ secret: new Uint8Array(32).fill(3) });
const ctx = (...options: DeidOption[]): DicomDeidContext => ({ profile, pseudonymizer, options: new Set(options) });

/** A small MR image with identifying attributes, plus anything extra. */
function mrImage(attributes: Record<string, string> = {}, extra: (ds: DicomDataset) => void = () => undefined): Uint8Array {
  const ds = createImageDataset({
    rows: 4,
    columns: 4,
    pixels: new Uint8Array(16).fill(9),
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4', // MR Image Storage
    sopInstanceUid: '1.2.3.4.5.6',
    studyInstanceUid: '1.2.3.4.5',
    seriesInstanceUid: '1.2.3.4.5.1',
    attributes: {
      PatientName: 'Doe^Jane',
      PatientID: 'MRN-0042',
      PatientBirthDate: '19700214',
      PatientSex: 'F',
      PatientAge: '054Y',
      StudyDate: '20240131',
      StudyTime: '101500',
      Modality: 'MR',
      InstitutionName: 'St Elsewhere General',
      StudyDescription: 'MRI brain follow-up Jane Doe 2024-01-31 MRN-0042',
      ...attributes,
    },
  });
  extra(ds);
  return encodeDicom(ds);
}

function written(result: ReturnType<typeof deidentifyDicom>): dicomParser.DataSet {
  if (result.status !== 'written') throw new Error(`expected written, got ${result.status}: ${JSON.stringify(result.reasons)}`);
  return dicomParser.parseDicom(concatChunks(result.chunks));
}

describe('confidentiality profile table', () => {
  it('loads all 621 rows: 617 exact tags plus the curve, overlay and private-group patterns', () => {
    expect(profile.rowCount).toBe(621);
    expect(profile.rules.size).toBe(617);
    expect(profile.rules.get(Tags.PatientName)?.basic).toBe('Z');
    expect(profile.rules.get(Tags.StudyDate)?.options['retain-longitudinal-modified-dates']).toBe('C');
  });

  it('resolves combined actions to one that removes the original value', () => {
    expect(['X/Z', 'X/D', 'X/Z/D', 'Z/D', 'X/Z/U*'].map(resolveBasicAction)).toEqual(['Z', 'D', 'Z', 'Z', 'U']);
  });
});

describe('deidentifyDicom (Basic Profile)', () => {
  it('empties, removes, dummies and replaces the identifying attributes; Patient ID becomes the keyed pseudonym', () => {
    // Arrange
    const input = mrImage();
    // Act
    const out = written(deidentifyDicom(input, 'mr', ctx()));
    // Assert
    expect(out.string('x00100010') ?? '').toBe(''); // Patient's Name: Z
    expect(out.string('x00100020')).toBe(pseudonymizer.pseudonym('MRN-0042'));
    expect(out.elements['x00100030']?.length ?? 0).toBe(0); // Birth Date: Z
    expect(out.elements['x00101010']).toBeUndefined(); // Age: X
    expect(out.elements['x00081030']).toBeUndefined(); // Study Description: X
    expect(out.string('x00080080') ?? '').toBe(''); // Institution Name: X/Z/D → Z
    expect(out.string('x00080018')).toBe(pseudonymizer.uid('1.2.3.4.5.6'));
    expect(out.string('x0020000d')).toBe(pseudonymizer.uid('1.2.3.4.5'));
    expect(out.string('x00020003')).toBe(out.string('x00080018'));
    expect(out.string('x00120062')).toBe('YES');
    expect(out.string('x00280303')).toBe('REMOVED');
  });

  it('applies the profile inside sequences at any depth and removes private elements everywhere', () => {
    // Arrange: Patient's Name three sequences deep, and a private element inside an item.
    const leaf: DicomDataset = new Map([
      [Tags.PatientName, textElement(Tags.PatientName, 'PN', 'Deep^Name')],
      [tag(0x0009, 0x1001), textElement(tag(0x0009, 0x1001), 'LO', 'secret')],
      [tag(0x0008, 0x1155), textElement(tag(0x0008, 0x1155), 'UI', '1.2.3.999')], // Referenced SOP Instance UID
    ]);
    // Sequences the table does not list: their items are de-identified recursively.
    const mid: DicomDataset = new Map([[tag(0x0040, 0x0260), { tag: tag(0x0040, 0x0260), vr: 'SQ', items: [leaf] }]]);
    const top: DicomDataset = new Map([[tag(0x0054, 0x0016), { tag: tag(0x0054, 0x0016), vr: 'SQ', items: [mid] }]]);
    const input = mrImage({}, (ds) => {
      ds.set(tag(0x0018, 0x9346), { tag: tag(0x0018, 0x9346), vr: 'SQ', items: [top] }); // a sequence not in the profile
      ds.set(tag(0x0029, 0x0010), textElement(tag(0x0029, 0x0010), 'LO', 'PRIVATE CREATOR'));
    });
    // Act
    const result = deidentifyDicom(input, 'nested', ctx());
    const out = written(result);
    // Assert
    const deepest = out.elements['x00189346']!.items![0]!.dataSet!.elements['x00540016']!.items![0]!.dataSet!.elements['x00400260']!.items![0]!.dataSet!;
    expect(deepest.string('x00100010') ?? '').toBe('');
    expect(deepest.elements['x00091001']).toBeUndefined();
    expect(deepest.string('x00081155')).toBe(pseudonymizer.uid('1.2.3.999'));
    expect(out.elements['x00290010']).toBeUndefined();
    expect(result.status === 'written' && result.changes['X']!['(gggg,eeee) Private attributes (odd group)']).toBe(2);
  });

  it('empties a sequence whose action is D, such as an SR Content Sequence holding free text', () => {
    // Arrange: Text Value (0040,A160) is not in Table E.1-1, so only emptying the Content Sequence removes it.
    const item: DicomDataset = new Map([[tag(0x0040, 0xa160), textElement(tag(0x0040, 0xa160), 'UT', 'Jane Doe, seen 2024-01-31')]]);
    const input = mrImage({}, (ds) => ds.set(tag(0x0040, 0xa730), { tag: tag(0x0040, 0xa730), vr: 'SQ', items: [item] }));
    // Act
    const out = written(deidentifyDicom(input, 'sr', ctx()));
    // Assert
    expect(out.elements['x0040a730']!.items ?? []).toHaveLength(0);
  });

  it('maps the same original UIDs to the same new UIDs in different files (series and study still link)', () => {
    const a = written(deidentifyDicom(mrImage(), 'a', ctx()));
    const b = written(deidentifyDicom(mrImage({ InstanceNumber: '2' }), 'b', ctx()));
    expect(a.string('x0020000d')).toBe(b.string('x0020000d'));
    expect(a.string('x0020000e')).toBe(b.string('x0020000e'));
  });

  it('replaces a UID the same way whatever its padding, and each value of a multi-valued UID element', () => {
    // Arrange: Study Instance UID with a leading space, with a trailing no-break space (Latin-1 0xA0), and a
    // two-valued Frame of Reference UID naming the study and the series.
    const withStudyUid = (bytes: number[]) => (ds: DicomDataset) => ds.set(Tags.StudyInstanceUID, { tag: Tags.StudyInstanceUID, vr: 'UI', value: new Uint8Array(bytes) });
    const ascii = (text: string) => [...Buffer.from(text, 'latin1')];
    const plain = written(deidentifyDicom(mrImage(), 'plain', ctx()));
    // Act
    const leading = written(deidentifyDicom(mrImage({}, withStudyUid(ascii(' 1.2.3.4.5'))), 'leading', ctx()));
    const nbsp = written(deidentifyDicom(mrImage({}, withStudyUid([...ascii('1.2.3.4.5'), 0xa0])), 'nbsp', ctx()));
    const multi = written(
      deidentifyDicom(
        mrImage({}, (ds) => ds.set(tag(0x0020, 0x0052), textElement(tag(0x0020, 0x0052), 'UI', '1.2.3.4.5\\1.2.3.4.5.1'))),
        'multi',
        ctx(),
      ),
    );
    // Assert
    const study = plain.string('x0020000d');
    expect(study).toMatch(/^2\.25\.\d+$/);
    expect(leading.string('x0020000d')).toBe(study);
    expect(nbsp.string('x0020000d')).toBe(study);
    expect(multi.string('x00200052')).toBe(`${study}\\${plain.string('x0020000e')}`);
  });
});

describe('deidentifyDicom options', () => {
  it('retain-longitudinal-modified-dates shifts every date by the patient’s one shift and keeps times', () => {
    const shift = pseudonymizer.dateShiftDays('MRN-0042');
    const result = deidentifyDicom(mrImage(), 'mr', ctx('retain-longitudinal-modified-dates'));
    const out = written(result);
    expect(out.string('x00080020')).toBe(shiftDateValue('20240131', 'DA', shift));
    expect(out.string('x00100030') ?? '').toBe(''); // Birth Date has no option column in Table E.1-1: still Z
    expect(out.string('x00080020')).not.toBe('20240131');
    expect(out.string('x00080030')).toBe('101500');
    expect(out.string('x00280303')).toBe('MODIFIED');
    expect(result.status === 'written' && result.dateShiftDays).toBe(shift);
  });

  it('retain-patient-characteristics keeps sex and age (ages of 90 and over grouped as 090Y)', () => {
    const out = written(deidentifyDicom(mrImage(), 'mr', ctx('retain-patient-characteristics')));
    expect(out.string('x00100040')).toBe('F');
    expect(out.string('x00101010')).toBe('054Y');
    const old = written(deidentifyDicom(mrImage({ PatientAge: '097Y' }), 'old', ctx('retain-patient-characteristics')));
    expect(old.string('x00101010')).toBe('090Y');
  });

  it('clean-descriptors keeps descriptions but scrubs names, IDs and dates from them', () => {
    const out = written(deidentifyDicom(mrImage(), 'mr', ctx('clean-descriptors')));
    const text = out.string('x00081030')!;
    expect(text).toContain('MRI brain follow-up');
    for (const phi of ['Jane', 'Doe', '2024-01-31', 'MRN-0042', '0042']) expect(text).not.toContain(phi);
  });
});

describe('burned-in annotation quarantine', () => {
  it('quarantines BurnedInAnnotation YES, and US without a declaration; accepts US declared NO', () => {
    expect(deidentifyDicom(mrImage({ BurnedInAnnotation: 'YES' }), 'a', ctx())).toMatchObject({ status: 'quarantined', reasons: [{ code: 'burned-in-annotation' }] });
    expect(deidentifyDicom(mrImage({ Modality: 'US' }), 'b', ctx())).toMatchObject({ status: 'quarantined', reasons: [{ code: 'burned-in-annotation-unknown' }] });
    expect(deidentifyDicom(mrImage({ Modality: 'US', BurnedInAnnotation: 'NO' }), 'c', ctx()).status).toBe('written');
  });

  const sopClass = (uid: string) => (ds: DicomDataset): void => void ds.set(Tags.SOPClassUID, textElement(Tags.SOPClassUID, 'UI', uid));
  const status = (bytes: Uint8Array, c: DicomDeidContext = ctx()): string => {
    const r = deidentifyDicom(bytes, 'x', c);
    return r.status === 'written' ? `written${r.acceptedRisk !== undefined ? `(${r.acceptedRisk.code})` : ''}` : `${r.status}:${r.reasons[0]?.code}`;
  };

  it('by modality and by SOP class (008-burned-in-annotation): XA, RF, RT images, secondary captures whatever the modality, visible light', () => {
    // Arrange: images without Burned In Annotation of each risky kind, and ordinary ones.
    const unknown = 'quarantined:burned-in-annotation-unknown';
    // Act / Assert
    expect(status(mrImage({ Modality: 'XA' }))).toBe(unknown);
    expect(status(mrImage({ Modality: 'RF' }))).toBe(unknown);
    expect(status(mrImage({ Modality: 'RTIMAGE' }))).toBe(unknown);
    expect(status(mrImage({ Modality: 'CT' }, sopClass('1.2.840.10008.5.1.4.1.1.7')))).toBe(unknown); // a CT screen capture
    expect(status(mrImage({ Modality: 'CT' }, sopClass('1.2.840.10008.5.1.4.1.1.7.4')))).toBe(unknown); // multi-frame true colour SC
    expect(status(mrImage({ Modality: 'MR' }, sopClass('1.2.840.10008.5.1.4.1.1.6.1')))).toBe(unknown); // US storage labelled MR
    expect(status(mrImage({ Modality: 'OT' }, sopClass('1.2.840.10008.5.1.4.1.1.77.1.4')))).toBe(unknown); // VL photographic
    expect(status(mrImage({ Modality: 'CT' }, sopClass('1.2.840.10008.5.1.4.1.1.481.1')))).toBe(unknown); // RT image
    // Not a prefix match on digits: .77 is not .7, .12x is not .12.
    expect(status(mrImage({ Modality: 'OPM' }, sopClass('1.2.840.10008.5.1.4.1.1.78.1')))).toBe('written');
    expect(status(mrImage({ Modality: 'MR' }))).toBe('written');
    expect(status(mrImage({ Modality: 'XA', BurnedInAnnotation: 'NO' }))).toBe('written');
  });

  it('recognizable visual features YES is quarantined whatever the policy', () => {
    const face = mrImage({ Modality: 'XC', BurnedInAnnotation: 'NO' }, (ds) => void ds.set(tag(0x0028, 0x0302), textElement(tag(0x0028, 0x0302), 'CS', 'YES')));
    expect(status(face)).toBe('quarantined:recognizable-visual-features');
    expect(status(face, { ...ctx(), burnedIn: { acceptUnknown: ['*'], acceptDeclared: ['*'] } })).toBe('quarantined:recognizable-visual-features');
  });

  it('a site policy accepts undeclared or declared images of the modalities it names, and says so in the result', () => {
    const usOnly = { ...ctx(), burnedIn: { acceptUnknown: ['US'], acceptDeclared: [] } };
    expect(status(mrImage({ Modality: 'US' }), usOnly)).toBe('written(burned-in-annotation-unknown)');
    expect(status(mrImage({ Modality: 'XA' }), usOnly)).toBe('quarantined:burned-in-annotation-unknown');
    expect(status(mrImage({ Modality: 'US', BurnedInAnnotation: 'YES' }), usOnly)).toBe('quarantined:burned-in-annotation');
    const declared = { ...ctx(), burnedIn: { acceptUnknown: [], acceptDeclared: ['US'] } };
    expect(status(mrImage({ Modality: 'US', BurnedInAnnotation: 'YES' }), declared)).toBe('written(burned-in-annotation)');
    expect(status(mrImage({ Modality: 'US' }), declared)).toBe('quarantined:burned-in-annotation-unknown');
    const any = { ...ctx(), burnedIn: { acceptUnknown: ['*'], acceptDeclared: [] } };
    expect(status(mrImage({ Modality: 'CT' }, sopClass('1.2.840.10008.5.1.4.1.1.7')), any)).toBe('written(burned-in-annotation-unknown)');
    const r = deidentifyDicom(mrImage({ Modality: 'US' }), 'x', usOnly);
    expect(r.status === 'written' && r.acceptedRisk?.message).toMatch(/absent on a US image.*accepted by the site's burnedInAnnotation policy/);
  });
});

describe('refusals', () => {
  it('fails a file that is not DICOM, and a truncated one, with a reason and without throwing', () => {
    expect(deidentifyDicom(new Uint8Array(10), 'x', ctx())).toMatchObject({ status: 'failed', reasons: [{ code: 'unreadable' }] });
    const bytes = mrImage();
    expect(deidentifyDicom(bytes.subarray(0, bytes.length - 10), 'y', ctx())).toMatchObject({ status: 'failed' });
  });

  it('round-trips: the written file parses with Tessera’s reader too', () => {
    const result = deidentifyDicom(mrImage(), 'mr', ctx());
    expect(result.status).toBe('written');
    if (result.status === 'written') expect(parseDicom(concatChunks(result.chunks), 'out').dataset.get(Tags.PixelData)?.value?.length).toBe(16);
  });
});

describe('text scrubber', () => {
  it('removes header identifiers, dates, long numbers, e-mails and titled names; keeps clinical words', () => {
    const scrub = makeTextScrubber(['Doe^Jane', 'MRN-0042']);
    const out = scrub('CT chest for Jane DOE, seen by Dr. Smith on 3/4/2021, call 555-123-4567 or jd@example.org, acc 12345678');
    expect(out).toContain('CT chest for');
    for (const phi of ['Jane', 'DOE', 'Smith', '3/4/2021', '555', 'example', '12345678']) expect(out).not.toContain(phi);
    expect(out).toContain(SCRUBBED);
  });
});
