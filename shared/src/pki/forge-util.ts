import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * Helpers shared by the CA and the issuer. node-forge builds and signs the certificates (node:crypto cannot),
 * while node:crypto generates the keys: forge's pure-JS RSA keygen takes seconds, OpenSSL's tens of ms.
 * @internal
 */

/** A PEM key pair in the forms Tessera writes to disk (PKCS#8 private key, SPKI public key). */
export interface PemKeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** RSA modulus length for every Tessera key, in bits. */
export const RSA_MODULUS_BITS = 2048;

/**
 * How far `notBefore` is set before `now` when the caller does not give one, in milliseconds. Hospital clocks
 * drift; without this a certificate issued a moment ago on the admin's laptop is "not yet valid" at a site
 * whose clock runs 30 s behind.
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Generates an RSA key pair with OpenSSL (via node:crypto). */
export function generateRsaKeyPair(): PemKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: RSA_MODULUS_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/**
 * A random positive 16-byte serial as lowercase hex. The top bit is cleared (DER integers are signed) and the
 * next one set, so the encoding is always exactly 16 bytes with no leading zero byte (minimal DER, which
 * OpenSSL insists on) and 126 random bits, above the CA/Browser Forum's 64-bit minimum.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/**
 * Normalises a serial as printed by any tool (`4A:0B:...`, `4a0b...`, `0x4A0B`) to Tessera's form:
 * lowercase hex, no separators, no leading zeros.
 */
export function normalizeSerial(serial: string): string {
  const hex = serial
    .trim()
    .replace(/^0x/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
  return hex;
}

/** `validityDays` after `from`, as a Date. */
export function addDays(from: Date, validityDays: number): Date {
  return new Date(from.getTime() + validityDays * DAY_MS);
}

// @types/node-forge types `valueTagClass` as asn1.Class, but forge reads it as an asn1.Type (the tag number).
const UTF8_TAG = forge.asn1.Type.UTF8 as number as forge.asn1.Class;

/** A subject/issuer attribute encoded as UTF8String (PrintableString forbids `_`, `@`, accents...). */
export function utf8Attr(shortName: 'CN' | 'OU' | 'O', value: string): forge.pki.CertificateField {
  return { shortName, value, valueTagClass: UTF8_TAG };
}

/** The `description` attribute (2.5.4.13) as UTF8String; it has no short name in forge. */
export function utf8Description(value: string): forge.pki.CertificateField {
  return { name: 'description', value, valueTagClass: UTF8_TAG };
}

/** Reads an attribute from a parsed subject, decoding UTF8String values that forge leaves as raw bytes. */
export function readAttr(subject: forge.pki.Certificate['subject'], shortName: string): string | undefined {
  const field = subject.getField(shortName) as forge.pki.CertificateField | null;
  if (field == null || typeof field.value !== 'string') return undefined;
  if ((field.valueTagClass as number | undefined) === forge.asn1.Type.UTF8) {
    return forge.util.decodeUtf8(field.value);
  }
  return field.value;
}

/**
 * A parsed certificate's subject attributes, ready to be set as another certificate's issuer. forge parses
 * UTF8String values to raw UTF-8 bytes but encodes them again on write, so passing `subject.attributes` as-is
 * would double-encode any non-ASCII name and the issuer would no longer match the CA's subject (OpenSSL then
 * cannot build the chain).
 */
export function issuerAttributes(subject: forge.pki.Certificate['subject']): forge.pki.CertificateField[] {
  return subject.attributes.map((attr) =>
    (attr.valueTagClass as number | undefined) === forge.asn1.Type.UTF8 && typeof attr.value === 'string'
      ? { ...attr, value: forge.util.decodeUtf8(attr.value) }
      : attr,
  );
}

/** The SHA-256 subject key identifier of a certificate's public key, as forge bytes. */
export function subjectKeyId(cert: forge.pki.Certificate): string {
  return cert.generateSubjectKeyIdentifier().getBytes();
}
