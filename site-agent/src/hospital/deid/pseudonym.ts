/**
 * Keyed patient pseudonyms shared by the DICOM and EMR de-identification paths.
 *
 * One site secret (32 random bytes that never leave the site) keys an HMAC-SHA256. From it come:
 * - a stable pseudonym per patient, so imaging and EMR records of one patient still link after
 *   de-identification, while no one without the secret can recompute it from an MRN;
 * - one date shift per patient (PS3.15 "Retain Longitudinal Temporal Information with Modified
 *   Dates" and HIPAA date handling), identical for that patient's DICOM and EMR dates;
 * - replacement UIDs (`2.25.<decimal>`, PS3.5 §B.2) that map one original UID to one new UID,
 *   so series, studies and the file meta still reference each other.
 *
 * Each use derives from a distinct label, so a pseudonym reveals nothing about the date shift.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { ConfigError } from '../../../../shared/src/errors.js';

/** Length of a site secret in bytes. */
export const SITE_SECRET_BYTES = 32;

/** Options for {@link PatientPseudonymizer}. */
export interface PseudonymizerOptions {
  /** The site secret (exactly {@link SITE_SECRET_BYTES} bytes). */
  readonly secret: Uint8Array;
  /** Largest date shift in days (shifts are in [-maxShiftDays, -1]). Default 365. */
  readonly maxShiftDays?: number;
}

const LABEL_PSEUDONYM = 'tessera/v1/deid/pseudonym';
const LABEL_DATE_SHIFT = 'tessera/v1/deid/date-shift';
const LABEL_UID = 'tessera/v1/deid/uid';

/** Derives pseudonyms, per-patient date shifts and replacement UIDs from a site secret. */
export class PatientPseudonymizer {
  readonly maxShiftDays: number;
  readonly #secret: Buffer;

  constructor(options: PseudonymizerOptions) {
    if (options.secret.length !== SITE_SECRET_BYTES) {
      throw new ConfigError(`site secret must be ${SITE_SECRET_BYTES} bytes, got ${options.secret.length}`);
    }
    const maxShiftDays = options.maxShiftDays ?? 365;
    if (!Number.isInteger(maxShiftDays) || maxShiftDays < 1 || maxShiftDays > 3650) {
      throw new ConfigError('maxShiftDays must be an integer in [1, 3650]', { maxShiftDays });
    }
    this.maxShiftDays = maxShiftDays;
    this.#secret = Buffer.from(options.secret);
  }

  #mac(label: string, value: string): Buffer {
    return createHmac('sha256', this.#secret).update(label).update('\0').update(value, 'utf8').digest();
  }

  /** A stable pseudonym for a patient key (e.g. MRN or FHIR Patient id): 32 lowercase hex characters. */
  pseudonym(patientKey: string): string {
    return this.#mac(LABEL_PSEUDONYM, normaliseKey(patientKey)).subarray(0, 16).toString('hex');
  }

  /** The patient's date shift in whole days, in [-maxShiftDays, -1] (dates move into the past). */
  dateShiftDays(patientKey: string): number {
    const mac = this.#mac(LABEL_DATE_SHIFT, normaliseKey(patientKey));
    // 48 bits of the MAC reduced mod maxShiftDays: bias below 2^-30, irrelevant for a shift.
    const n = mac.readUIntBE(0, 6);
    return -((n % this.maxShiftDays) + 1);
  }

  /** A replacement UID (`2.25.` + a 128-bit decimal), the same for the same original UID. */
  uid(originalUid: string): string {
    const mac = this.#mac(LABEL_UID, originalUid.trim().replace(/\0+$/, ''));
    const value = BigInt(`0x${mac.subarray(0, 16).toString('hex')}`);
    return `2.25.${value.toString(10)}`;
  }
}

function normaliseKey(patientKey: string): string {
  const key = patientKey.trim();
  if (key.length === 0) throw new ConfigError('patient key for pseudonymisation is empty');
  return key;
}

/**
 * Reads the site secret at `path`, creating it (32 random bytes, mode 0600) when absent.
 * The file holds the secret as 64 hex characters.
 */
export async function loadOrCreateSiteSecret(path: string): Promise<Uint8Array> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`cannot read site secret ${path}`, { path }, { cause: error });
    }
  }
  if (text !== undefined) {
    const hex = text.trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw new ConfigError(`site secret ${path} is not 64 lowercase hex characters`, { path });
    }
    return Buffer.from(hex, 'hex');
  }
  const secret = randomBytes(SITE_SECRET_BYTES);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
  return secret;
}
