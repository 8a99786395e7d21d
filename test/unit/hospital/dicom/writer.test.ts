import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { afterAll, describe, expect, it } from 'vitest';

import {
  DICOM_PARSER_OPTIONS,
  Tags,
  createImageDataset,
  concatChunks,
  encodeDicom,
  encodeDicomChunks,
  getString,
  parseDicom,
  readDicomdir,
  tag,
  textElement,
  writeDicomFile,
} from '../../../../site-agent/src/hospital/dicom/index.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('encodeDicom', () => {
  it('writes preamble, DICM, file meta with its group length, then explicit VR little endian elements (byte level)', () => {
    // Arrange
    const ds = new Map([
      [Tags.SOPClassUID, textElement(Tags.SOPClassUID, 'UI', '1.2.3')],
      [Tags.SOPInstanceUID, textElement(Tags.SOPInstanceUID, 'UI', '1.2.3.4')],
      [Tags.PatientName, textElement(Tags.PatientName, 'PN', 'Doe')],
    ]);
    // Act
    const bytes = encodeDicom(ds);
    // Assert
    expect(bytes.subarray(0, 128).every((b) => b === 0)).toBe(true);
    expect(Buffer.from(bytes.subarray(128, 132)).toString('latin1')).toBe('DICM');
    // (0002,0000) UL 4 <length>
    expect([...bytes.subarray(132, 140)]).toEqual([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00]);
    const groupLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(140, true);
    const dataStart = 144 + groupLength;
    // (0008,0016) UI 6 '1.2.3\0' is the first data set element.
    expect([...bytes.subarray(dataStart, dataStart + 8)]).toEqual([0x08, 0x00, 0x16, 0x00, 0x55, 0x49, 0x06, 0x00]);
    expect(Buffer.from(bytes.subarray(dataStart + 8, dataStart + 14)).toString('latin1')).toBe('1.2.3\0');
    // PN 'Doe' is padded with a space to even length.
    const tail = Buffer.from(bytes.subarray(bytes.length - 12)).toString('latin1');
    expect(tail.endsWith('PN\x04\x00Doe ')).toBe(true);
  });

  it('returns chunks of its own: a later encode (also one whose header outgrows the packing buffer) leaves them unchanged', () => {
    // Arrange
    const make = (uid: string, text: string) =>
      new Map([
        [Tags.SOPClassUID, textElement(Tags.SOPClassUID, 'UI', '1.2.3')],
        [Tags.SOPInstanceUID, textElement(Tags.SOPInstanceUID, 'UI', uid)],
        [Tags.PatientName, textElement(Tags.PatientName, 'PN', text)],
      ]);
    const first = encodeDicomChunks(make('1.2.3.4', 'first'));
    const firstCopy = Buffer.from(concatChunks(first));
    // Act: a small file, then one with 40 long values (1,900 bytes each, under the bulk threshold, so packed).
    const second = concatChunks(encodeDicomChunks(make('1.2.3.5', 'second')));
    const big = make('1.2.3.6', 'big');
    for (let i = 0; i < 40; i++) big.set(0x00091000 + i, { tag: 0x00091000 + i, vr: 'LT', value: new Uint8Array(1900).fill(0x41 + (i % 26)) });
    const third = concatChunks(encodeDicomChunks(big));
    // Assert
    expect(Buffer.from(concatChunks(first)).equals(firstCopy)).toBe(true);
    expect(getString(parseDicom(concatChunks(first), 'first').dataset, Tags.PatientName)).toBe('first');
    expect(getString(parseDicom(second, 'second').dataset, Tags.PatientName)).toBe('second');
    const back = parseDicom(third, 'third').dataset;
    expect(back.get(0x00091027)?.value?.every((b) => b === 0x41 + (39 % 26))).toBe(true);
    expect(back.get(0x00091000)?.value?.length).toBe(1900);
  });

  it('writes elements added out of order (at the top level and in items) in tag order, leaving out group 0002', () => {
    // Arrange: in order, then (0008,0060), (0002,0010), (0010,0020) and (0008,0005) appended; an item likewise.
    const item = new Map([
      [tag(0x0008, 0x1155), textElement(tag(0x0008, 0x1155), 'UI', '1.2.3.9')],
      [tag(0x0008, 0x1150), textElement(tag(0x0008, 0x1150), 'UI', '1.2.3')],
    ]);
    const ds = new Map([
      [Tags.SOPClassUID, textElement(Tags.SOPClassUID, 'UI', '1.2.3')],
      [Tags.SOPInstanceUID, textElement(Tags.SOPInstanceUID, 'UI', '1.2.3.4')],
      [tag(0x0008, 0x1140), { tag: tag(0x0008, 0x1140), vr: 'SQ', items: [item] }],
      [Tags.PatientName, textElement(Tags.PatientName, 'PN', 'Doe')],
      [Tags.Modality, textElement(Tags.Modality, 'CS', 'MR')],
      [Tags.TransferSyntaxUID, textElement(Tags.TransferSyntaxUID, 'UI', '9.9')],
      [Tags.PatientID, textElement(Tags.PatientID, 'LO', 'P1')],
      [Tags.SpecificCharacterSet, textElement(Tags.SpecificCharacterSet, 'CS', 'ISO_IR 100')],
    ]);
    // Act
    const back = dicomParser.parseDicom(encodeDicom(ds));
    // Assert
    // dicom-parser's index lists the data set in file order, then the file meta.
    expect(Object.keys(back.elements)).toEqual([
      'x00080005', 'x00080016', 'x00080018', 'x00080060', 'x00081140', 'x00100010', 'x00100020',
      'x00020000', 'x00020001', 'x00020002', 'x00020003', 'x00020010', 'x00020012', 'x00020013',
    ]);
    expect(back.string('x00020010')).toBe('1.2.840.10008.1.2.1');
    const itemKeys = Object.keys(back.elements['x00081140']!.items![0]!.dataSet!.elements);
    expect(itemKeys.filter((k) => !k.startsWith('xfffe'))).toEqual(['x00081150', 'x00081155']);
  });

  it('refuses a data set without SOP Instance UID', () => {
    const ds = new Map([[Tags.SOPClassUID, textElement(Tags.SOPClassUID, 'UI', '1.2.3')]]);
    expect(() => encodeDicom(ds)).toThrow(/SOP Instance UID/);
  });
});

describe('createImageDataset + writeDicomFile', () => {
  it('writes an 8-bit MONOCHROME2 secondary capture image that dicom-parser reads back', async () => {
    // Arrange
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-dicom-'));
    dirs.push(dir);
    const pixels = Uint8Array.from({ length: 28 * 28 }, (_, i) => i % 256);
    const ds = createImageDataset({
      rows: 28,
      columns: 28,
      pixels,
      attributes: { PatientName: 'Doe^Jane', PatientID: 'MRN-1', Modality: 'US', StudyDate: '20240131', BurnedInAnnotation: 'NO' },
    });
    // Act
    const file = path.join(dir, 'a', 'img.dcm');
    await writeDicomFile(file, ds);
    // Assert
    const bytes = await readFile(file);
    const read = dicomParser.parseDicom(bytes, DICOM_PARSER_OPTIONS);
    expect(read.string('x00100010')).toBe('Doe^Jane');
    expect(read.string('x00080060')).toBe('US');
    expect(read.uint16('x00280010')).toBe(28);
    expect(read.uint16('x00280100')).toBe(8);
    expect(read.string('x00020003')).toBe(read.string('x00080018'));
    const px = read.elements['x7fe00010']!;
    expect([...bytes.subarray(px.dataOffset, px.dataOffset + px.length)]).toEqual([...pixels]);
    expect(await readdir(path.dirname(file))).toEqual(['img.dcm']);
  });

  it('writes 16-bit signed pixels as OW little endian', () => {
    const pixels = Int16Array.from([-1000, 0, 1000, 32767]);
    const bytes = encodeDicom(createImageDataset({ rows: 2, columns: 2, pixels }));
    const read = dicomParser.parseDicom(bytes);
    expect(read.uint16('x00280103')).toBe(1);
    const px = read.elements['x7fe00010']!;
    expect(px.vr).toBe('OW');
    expect([...new Int16Array(bytes.slice(px.dataOffset, px.dataOffset + 8).buffer)]).toEqual([-1000, 0, 1000, 32767]);
  });

  it('rejects a pixel count that does not match the size', () => {
    expect(() => createImageDataset({ rows: 2, columns: 2, pixels: new Uint8Array(3) })).toThrow(/pixel count/);
  });
});

describe('parseDicom → encodeDicom round trip on real files', () => {
  const files = [
    'dicomparser/CT1_UNC.implicit_little_endian.dcm',
    'dicomparser/CT1_UNC.explicit_big_endian.dcm',
    'dicomparser/report_dfl',
    'dicomparser/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm',
    'dicomparser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm',
    'fo-dicom/MOVEKNEE.dcm',
  ];
  for (const rel of files) {
    it(`keeps every top-level value and fragment of ${rel}`, async () => {
      // Arrange
      const bytes = await readFile(path.join(sharedDataDir(), 'dicom', rel));
      const parsed = parseDicom(bytes, rel);
      const ts = parsed.transferSyntaxUid.endsWith('.99') || parsed.transferSyntaxUid.endsWith('1.2.2') ? '1.2.840.10008.1.2.1' : parsed.transferSyntaxUid;
      // Act
      const again = parseDicom(encodeDicom(parsed.dataset, { transferSyntaxUid: ts }), `${rel} (rewritten)`);
      // Assert
      // Group 0000 (command group, found in report_dfl) is never written into a file's data set.
      const kept = [...parsed.dataset].filter(([t]) => t >>> 16 > 0x0002);
      expect([...again.dataset.keys()].sort()).toEqual(kept.map(([t]) => t).sort());
      for (const [t, el] of kept) {
        const other = again.dataset.get(t)!;
        if (el.value !== undefined) expect(Buffer.from(other.value!).equals(Buffer.from(el.value)) || el.value.length % 2 === 1).toBe(true);
        if (el.items !== undefined) expect(other.items).toHaveLength(el.items.length);
        if (el.encapsulated !== undefined) expect(other.encapsulated!.fragments.map((f) => f.length)).toEqual(el.encapsulated.fragments.map((f) => f.length));
      }
      expect(getString(again.dataset, Tags.SOPInstanceUID)).toBe(getString(parsed.dataset, Tags.SOPInstanceUID));
    });
  }
});

describe('readDicomdir', () => {
  it('lists the records of a real DICOMDIR: types and referenced files, no identifying attributes', async () => {
    const rel = 'pydicom/DICOMDIR';
    const parsed = parseDicom(await readFile(path.join(sharedDataDir(), 'dicom', rel)), rel);
    expect(parsed.isDicomdir).toBe(true);
    const records = readDicomdir(parsed, rel);
    const types = new Set(records.map((r) => r.type));
    expect([...types].sort()).toEqual(expect.arrayContaining(['IMAGE', 'PATIENT', 'SERIES', 'STUDY']));
    const images = records.filter((r) => r.type === 'IMAGE');
    expect(images.length).toBeGreaterThan(5);
    for (const r of images) {
      expect(r.file).toMatch(/^77654033\/|^98892001\/|^98892003\//);
      expect(r.sopInstanceUid).toMatch(/^[\d.]+$/);
    }
    expect(JSON.stringify(records)).not.toContain('Doe');
  });

  it('refuses a file that is not a DICOMDIR', async () => {
    const rel = 'pydicom/CT_small.dcm';
    const parsed = parseDicom(await readFile(path.join(sharedDataDir(), 'dicom', rel)), rel);
    expect(() => readDicomdir(parsed, rel)).toThrow(/not a DICOMDIR/);
  });
});
