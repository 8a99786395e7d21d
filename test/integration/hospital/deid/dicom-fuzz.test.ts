import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { describe, expect, it } from 'vitest';

import { concatChunks } from '../../../../site-agent/src/hospital/dicom/writer.js';
import { deidentifyDicom } from '../../../../site-agent/src/hospital/deid/dicom-deid.js';
import { loadConfidentialityProfile } from '../../../../site-agent/src/hospital/deid/dicom-profile.js';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { createRng, type Rng } from '../../../../shared/src/rng.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

const corpus = path.join(sharedDataDir(), 'dicom');
// Small seeds covering every encoding: implicit, explicit LE and BE, deflated, sequences, encapsulated, SR, RT.
const SEEDS = [
  'pydicom/CT_small.dcm',
  'pydicom/MR_small_bigendian.dcm',
  'pydicom/MR_small_RLE.dcm',
  'pydicom/JPEG2000.dcm',
  'pydicom/rtplan.dcm',
  'pydicom/reportsi.dcm',
  'pydicom/test-SR.dcm',
  'dicomparser/report_dfl',
  'fo-dicom/Issue1097_FailToOpenDeflatedFileWithSQ.dcm',
  'fo-dicom/GH1301.dcm',
];
const present = SEEDS.every((s) => existsSync(path.join(corpus, s)));
const MUTANTS = 4000;

function hasPrivate(ds: dicomParser.DataSet): boolean {
  for (const el of Object.values(ds.elements)) {
    if ((Number.parseInt(el.tag.slice(1, 5), 16) & 1) === 1) return true;
    for (const item of el.items ?? []) if (item.dataSet && hasPrivate(item.dataSet)) return true;
  }
  return false;
}

/** One random mutation: flip bytes, smash a length field, truncate, duplicate or delete a slice. */
function mutate(seed: Uint8Array, rng: Rng): Uint8Array {
  const out = Uint8Array.from(seed);
  const kind = rng.int(6);
  const at = 132 + rng.int(Math.max(1, out.length - 132));
  switch (kind) {
    case 0:
      for (let i = 0, n = 1 + rng.int(8); i < n; i++) out[132 + rng.int(out.length - 132)] = rng.int(256);
      return out;
    case 1: {
      // a plausible length field (4 bytes) set to an extreme value
      const v = [0xffffffff, 0xfffffffe, 0x7fffffff, 0, 1, 0xffff][rng.int(6)]!;
      new DataView(out.buffer).setUint32(Math.min(at, out.length - 4), v, true);
      return out;
    }
    case 2:
      return out.subarray(0, at);
    case 3: {
      const len = rng.int(64);
      return Uint8Array.from([...out.subarray(0, at), ...out.subarray(at, at + len), ...out.subarray(at)]);
    }
    case 4: {
      const len = 1 + rng.int(32);
      return Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + len)]);
    }
    default:
      // item / delimiter tags dropped in at random
      out.set([0xfe, 0xff, rng.int(2) === 0 ? 0x00 : 0xdd, 0xe0], Math.min(at, out.length - 4));
      return out;
  }
}

describe.skipIf(!present)(`de-identification fuzz (${MUTANTS} mutated files, seeded)`, () => {
  it('never throws or hangs; every written result is a file dicom-parser reads with no private tags', () => {
    // Arrange
    const profile = loadConfidentialityProfile();
    const ctx = { profile, pseudonymizer: new PatientPseudonymizer({ secret: new Uint8Array(32).fill(1) }), options: new Set(['clean-descriptors', 'retain-longitudinal-modified-dates'] as const) };
    const seeds = SEEDS.map((s) => new Uint8Array(readFileSync(path.join(corpus, s))));
    const rng = createRng(20261125);
    const counts = { written: 0, quarantined: 0, failed: 0 };
    // Act + Assert
    for (let i = 0; i < MUTANTS; i++) {
      const input = mutate(seeds[i % seeds.length]!, rng);
      const result = deidentifyDicom(input, `mutant-${i}`, ctx);
      counts[result.status]++;
      if (result.status === 'written') {
        const back = dicomParser.parseDicom(concatChunks(result.chunks));
        expect(hasPrivate(back), `mutant ${i}`).toBe(false);
        expect(back.string('x00020003')).toBe(back.string('x00080018'));
      } else {
        expect(result.reasons.length).toBeGreaterThan(0);
      }
    }
    // Mutations hit both sides: many files still de-identify, many are refused.
    expect(counts.written).toBeGreaterThan(MUTANTS / 10);
    expect(counts.failed).toBeGreaterThan(MUTANTS / 10);
  }, 120_000);
});
