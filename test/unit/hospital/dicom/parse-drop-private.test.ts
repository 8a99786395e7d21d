import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import type { DicomDataset } from '../../../../site-agent/src/hospital/dicom/dataset.js';
import { parseDicom } from '../../../../site-agent/src/hospital/dicom/parse.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

const corpus = path.join(sharedDataDir(), 'dicom');

/** Private non-sequence elements at every depth, and all elements that are not. */
function census(ds: DicomDataset): { privateValues: number; others: number } {
  let privateValues = 0;
  let others = 0;
  for (const el of ds.values()) {
    if (((el.tag >>> 16) & 1) === 1 && el.items === undefined && el.encapsulated === undefined) privateValues++;
    else others++;
    for (const item of el.items ?? []) {
      const c = census(item);
      privateValues += c.privateValues;
      others += c.others;
    }
  }
  return { privateValues, others };
}

describe('parseDicom dropPrivate', () => {
  it('leaves out exactly the private non-sequence elements of the real corpus, counted per data set', () => {
    const files = (readdirSync(corpus, { recursive: true }) as string[]).filter((f) => statSync(path.join(corpus, f)).isFile()).sort();
    let filesWithPrivate = 0;
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(path.join(corpus, f)));
      let full;
      try {
        full = parseDicom(bytes, f);
      } catch {
        // A file the reader refuses is refused with the option too.
        expect(() => parseDicom(bytes, f, { dropPrivate: true })).toThrow();
        continue;
      }
      const dropped = parseDicom(bytes, f, { dropPrivate: true });
      const before = census(full.dataset);
      const after = census(dropped.dataset);
      expect(after.privateValues, f).toBe(0);
      expect(after.others, f).toBe(before.others);
      const counted = [...(dropped.droppedPrivate?.values() ?? [])].reduce((n, d) => n + d.count, 0);
      expect(counted, f).toBe(before.privateValues);
      if (counted > 0) filesWithPrivate++;
      expect(full.droppedPrivate).toBeUndefined();
    }
    expect(filesWithPrivate).toBeGreaterThan(5);
  });
});
