import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { describe, expect, it } from 'vitest';

import { encodeDicom, textElement } from '../../../../site-agent/src/hospital/dicom/index.js';
import { DICOM_PARSER_OPTIONS, parseDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { Tags, tagFromParserKey } from '../../../../site-agent/src/hospital/dicom/dictionary.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

const corpus = path.join(sharedDataDir(), 'dicom');

/**
 * What dicom-parser's own `parseDicom` index holds at the top level, as the reader must list it:
 * tag order of the index, groups 0002 (file meta) and FFFE (delimiters) left out, each value's bytes.
 */
function expectedTopLevel(bytes: Uint8Array): { tags: number[]; values: (string | undefined)[]; warnings: string[] } {
  const raw = dicomParser.parseDicom(bytes, DICOM_PARSER_OPTIONS);
  const tags: number[] = [];
  const values: (string | undefined)[] = [];
  for (const key of Object.keys(raw.elements)) {
    const el = raw.elements[key]!;
    const t = tagFromParserKey(key);
    if (t >>> 16 === 0x0002 || t >>> 16 === 0xfffe) continue;
    tags.push(t);
    values.push(
      el.items !== undefined || el.encapsulatedPixelData === true
        ? undefined
        : Buffer.from(raw.byteArray.subarray(el.dataOffset, el.dataOffset + el.length)).toString('hex'),
    );
  }
  return { tags, values, warnings: raw.warnings };
}

function actualTopLevel(bytes: Uint8Array, source: string): { tags: number[]; values: (string | undefined)[]; warnings: readonly string[]; swapped: boolean } {
  const parsed = parseDicom(bytes, source);
  const els = [...parsed.dataset.values()];
  return {
    tags: els.map((el) => el.tag),
    values: els.map((el) => (el.items !== undefined || el.encapsulated !== undefined ? undefined : Buffer.from(el.value ?? []).toString('hex'))),
    warnings: parsed.warnings,
    // Big endian values are swapped to little endian by the reader: those files are compared by tag only.
    swapped: parsed.transferSyntaxUid === '1.2.840.10008.1.2.2',
  };
}

/** Compares the reader with dicom-parser's index on one input: same elements in the same order, or both refuse. */
function expectSameAsDicomParser(bytes: Uint8Array, source: string): 'read' | 'refused' {
  let expected;
  try {
    expected = expectedTopLevel(bytes);
  } catch {
    expect(() => parseDicom(bytes, source)).toThrow(/TESSERA_INPUT_DICOM_INVALID|not a readable DICOM|malformed/);
    return 'refused';
  }
  let actual;
  try {
    actual = actualTopLevel(bytes, source);
  } catch (err) {
    // The reader also refuses what its own checks find damaged (values past the end, nesting too deep).
    expect(String(err)).toMatch(/malformed DICOM data set/);
    return 'refused';
  }
  expect(actual.tags).toEqual(expected.tags);
  if (!actual.swapped) expect(actual.values).toEqual(expected.values);
  expect(actual.warnings).toEqual(expected.warnings);
  return 'read';
}

describe('parseDicom lists the top level as dicom-parser indexes it', () => {
  const files = (readdirSync(corpus, { recursive: true }) as string[]).filter((f) => statSync(path.join(corpus, f)).isFile()).sort();

  it('on every corpus file: same elements, order, values and warnings; refused where dicom-parser refuses', () => {
    const outcomes = { read: 0, refused: 0 };
    for (const f of files) outcomes[expectSameAsDicomParser(new Uint8Array(readFileSync(path.join(corpus, f))), f)]++;
    expect(outcomes.read).toBeGreaterThanOrEqual(60);
    expect(outcomes.refused).toBeGreaterThanOrEqual(5);
  });

  it('on damaged copies of corpus files (seeded byte changes and truncations)', () => {
    let seed = 20261126;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const outcomes = { read: 0, refused: 0 };
    for (const f of files.filter((_, i) => i % 4 === 0)) {
      const original = new Uint8Array(readFileSync(path.join(corpus, f)));
      for (let m = 0; m < 12; m++) {
        const copy = new Uint8Array(original);
        if (m % 3 === 0) {
          outcomes[expectSameAsDicomParser(copy.subarray(0, 132 + Math.floor(next() * (copy.length - 132))), `${f}#${m}`)]++;
          continue;
        }
        for (let k = 0; k < 3; k++) copy[128 + Math.floor(next() * Math.min(copy.length - 128, 3000))] = Math.floor(next() * 256);
        outcomes[expectSameAsDicomParser(copy, `${f}#${m}`)]++;
      }
    }
    expect(outcomes.read).toBeGreaterThan(20);
    expect(outcomes.refused).toBeGreaterThan(20);
  });

  it('a repeated tag replaces the earlier element in place, and an out-of-order tag keeps its index position', () => {
    // Arrange: a valid file, then two elements appended by hand: (0010,0010) again and (0008,0060) after it.
    const ds = new Map([
      [Tags.SOPClassUID, textElement(Tags.SOPClassUID, 'UI', '1.2.3')],
      [Tags.SOPInstanceUID, textElement(Tags.SOPInstanceUID, 'UI', '1.2.3.4')],
      [Tags.PatientName, textElement(Tags.PatientName, 'PN', 'First')],
    ]);
    const head = encodeDicom(ds);
    const extra = (group: number, element: number, vr: string, text: string): number[] => [
      group & 0xff, group >> 8, element & 0xff, element >> 8, vr.charCodeAt(0), vr.charCodeAt(1), text.length, 0, ...Buffer.from(text, 'latin1'),
    ];
    const bytes = new Uint8Array([
      ...head,
      ...extra(0x0010, 0x0010, 'PN', 'Second'),
      ...extra(0x0008, 0x0060, 'CS', 'OT'),
      ...extra(0x0009, 0x1001, 'LO', 'private1'),
      ...extra(0x0009, 0x1001, 'LO', 'private2'),
    ]);
    // Act
    const parsed = parseDicom(bytes, 'crafted');
    const withoutPrivate = parseDicom(bytes, 'crafted', { dropPrivate: true });
    // Assert
    expectSameAsDicomParser(bytes, 'crafted');
    expect([...parsed.dataset.keys()]).toEqual([Tags.SOPClassUID, Tags.SOPInstanceUID, Tags.PatientName, Tags.Modality, 0x00091001]);
    expect(Buffer.from(parsed.dataset.get(Tags.PatientName)!.value!).toString('latin1')).toBe('Second');
    expect(Buffer.from(parsed.dataset.get(0x00091001)!.value!).toString('latin1')).toBe('private2');
    // The index holds the repeated private element once: it is counted once where it would have been.
    expect(withoutPrivate.droppedPrivate?.get(withoutPrivate.dataset)).toEqual({ count: 1, at: 4 });
  });
});
