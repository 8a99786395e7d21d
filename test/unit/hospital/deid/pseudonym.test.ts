import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError } from '../../../../shared/src/errors.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';

const secretA = Buffer.alloc(32, 1);
const secretB = Buffer.alloc(32, 2);

describe('PatientPseudonymizer', () => {
  it('is stable per secret and differs across secrets', () => {
    const a = new PatientPseudonymizer({ secret: secretA });
    const a2 = new PatientPseudonymizer({ secret: secretA });
    const b = new PatientPseudonymizer({ secret: secretB });
    expect(a.pseudonym('MRN-0001')).toBe(a2.pseudonym(' MRN-0001 '));
    expect(a.pseudonym('MRN-0001')).toMatch(/^[0-9a-f]{32}$/);
    expect(a.pseudonym('MRN-0001')).not.toBe(b.pseudonym('MRN-0001'));
    expect(a.pseudonym('MRN-0001')).not.toBe(a.pseudonym('MRN-0002'));
    expect(a.pseudonym('MRN-0001')).not.toContain('0001');
  });

  it('gives one date shift per patient within [-max, -1], spread over the range', () => {
    const p = new PatientPseudonymizer({ secret: secretA, maxShiftDays: 30 });
    const shifts = new Set<number>();
    for (let i = 0; i < 500; i += 1) {
      const s = p.dateShiftDays(`patient-${i}`);
      expect(s).toBeGreaterThanOrEqual(-30);
      expect(s).toBeLessThanOrEqual(-1);
      expect(p.dateShiftDays(`patient-${i}`)).toBe(s);
      shifts.add(s);
    }
    expect(shifts.size).toBe(30);
  });

  it('maps UIDs one to one into valid 2.25 UIDs of at most 64 characters', () => {
    const p = new PatientPseudonymizer({ secret: secretA });
    const uid = p.uid('1.2.840.113619.2.55.3.604688119.969.1268071029.320');
    expect(uid).toMatch(/^2\.25\.(0|[1-9][0-9]*)$/);
    expect(uid.length).toBeLessThanOrEqual(64);
    expect(p.uid('1.2.840.113619.2.55.3.604688119.969.1268071029.320\0')).toBe(uid);
    expect(p.uid('1.2.3')).not.toBe(uid);
  });

  it('refuses a secret of the wrong size and an empty patient key', () => {
    expect(() => new PatientPseudonymizer({ secret: Buffer.alloc(16) })).toThrow(ConfigError);
    expect(() => new PatientPseudonymizer({ secret: secretA }).pseudonym('  ')).toThrow(/empty/);
  });
});

describe('loadOrCreateSiteSecret', () => {
  it('creates a 0600 secret once and reads the same one back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-secret-'));
    const path = join(dir, 'site', 'deid-secret');
    const first = await loadOrCreateSiteSecret(path);
    const second = await loadOrCreateSiteSecret(path);
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a corrupt secret file naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-secret-'));
    const path = join(dir, 'deid-secret');
    await writeFile(path, 'not hex\n');
    await expect(loadOrCreateSiteSecret(path)).rejects.toThrow(/deid-secret/);
  });
});
