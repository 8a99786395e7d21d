import { isIP } from 'node:net';
import forge from 'node-forge';
import { IdentityError } from '../../../shared/src/errors.js';
import { type CaMaterial, loadCa } from '../../../shared/src/pki/certificate-authority.js';
import { CertificateRole } from '../../../shared/src/pki/certificate-role.js';
import {
  addDays,
  CLOCK_SKEW_ALLOWANCE_MS,
  generateRsaKeyPair,
  issuerAttributes,
  randomSerialHex,
  utf8Attr,
  utf8Description,
} from '../../../shared/src/pki/forge-util.js';

/** Options for {@link issueCertificate}. */
export interface IssueCertificateOptions {
  /** The signing CA (see {@link createConsortiumCa}). */
  ca: CaMaterial;
  /** Written to the subject `OU`; selects the extended key usage. */
  role: CertificateRole;
  /** Site, operator or coordinator id; written to the subject `CN`. */
  id: string;
  /** Human name (hospital, person), written to the subject `description`. */
  displayName?: string;
  /** Lifetime in days from `now` (ignored when `notAfter` is given). */
  validityDays: number;
  /** Issue time. */
  now: Date;
  /** Extra DNS names for a coordinator certificate; `localhost` is always included. */
  dnsNames?: readonly string[];
  /** Extra IP addresses for a coordinator certificate; `127.0.0.1` is always included. */
  ipAddresses?: readonly string[];
  /** @default now - {@link CLOCK_SKEW_ALLOWANCE_MS} */
  notBefore?: Date;
  /** @default now + validityDays */
  notAfter?: Date;
}

/** A freshly issued certificate with its private key (PEM, PKCS#8) and serial (lowercase hex). */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly serial: string;
}

/** Default SAN entries of a coordinator certificate: it must be reachable on loopback in every deployment. */
const DEFAULT_DNS_NAMES = ['localhost'] as const;
const DEFAULT_IP_ADDRESSES = ['127.0.0.1'] as const;

/**
 * Issues a leaf certificate signed by the consortium CA: subject `O=<consortium>, OU=<role>, CN=<id>`,
 * basicConstraints `CA:false`, keyUsage `digitalSignature, keyEncipherment`. Coordinator certificates carry
 * EKU serverAuth and a subjectAltName (DNS `localhost`, IP `127.0.0.1`, plus the given names); site and
 * operator certificates carry EKU clientAuth.
 *
 * Throws IdentityError `TESSERA_IDENTITY_MALFORMED` for an empty id, a bad IP address, or a validity window
 * that is empty or outlives the CA.
 */
export function issueCertificate(options: IssueCertificateOptions): IssuedCertificate {
  const ca = loadCa(options.ca);
  const notBefore = options.notBefore ?? new Date(options.now.getTime() - CLOCK_SKEW_ALLOWANCE_MS);
  const notAfter = options.notAfter ?? addDays(options.now, options.validityDays);
  checkRequest(options, notBefore, notAfter, ca.cert.validity.notAfter);

  const keys = generateRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  const serial = randomSerialHex();
  cert.serialNumber = serial;
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject = [utf8Attr('O', ca.name), utf8Attr('OU', options.role), utf8Attr('CN', options.id)];
  if (options.displayName !== undefined) {
    subject.push(utf8Description(options.displayName));
  }
  cert.setSubject(subject);
  cert.setIssuer(issuerAttributes(ca.cert.subject));
  cert.setExtensions(extensionsFor(options, ca.keyId));
  cert.sign(ca.key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem, serial };
}

function checkRequest(options: IssueCertificateOptions, notBefore: Date, notAfter: Date, caNotAfter: Date): void {
  const context = { id: options.id, role: options.role };
  const what = `certificate for ${options.role} '${options.id}'`;
  if (options.id.trim() === '') {
    throw new IdentityError('TESSERA_IDENTITY_MALFORMED', 'cannot issue a certificate with an empty id', context);
  }
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new IdentityError(
      'TESSERA_IDENTITY_MALFORMED',
      `cannot issue ${what}: notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`,
      context,
    );
  }
  // A leaf that outlives its CA would fail verification on the day the CA expires anyway; refuse it now.
  if (notAfter.getTime() > caNotAfter.getTime()) {
    throw new IdentityError(
      'TESSERA_IDENTITY_MALFORMED',
      `cannot issue ${what}: notAfter ${notAfter.toISOString()} is after the CA's ${caNotAfter.toISOString()}`,
      context,
    );
  }
  for (const ip of options.ipAddresses ?? []) {
    if (isIP(ip) === 0) {
      throw new IdentityError('TESSERA_IDENTITY_MALFORMED', `'${ip}' is not an IP address`, { ...context, ip });
    }
  }
}

function extensionsFor(options: IssueCertificateOptions, caKeyId: string): object[] {
  const common: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
  ];
  switch (options.role) {
    case CertificateRole.Coordinator: {
      const dns = unique([...DEFAULT_DNS_NAMES, ...(options.dnsNames ?? [])]);
      const ips = unique([...DEFAULT_IP_ADDRESSES, ...(options.ipAddresses ?? [])]);
      const altNames = [...dns.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))];
      return [...common, { name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames }];
    }
    case CertificateRole.Site:
    case CertificateRole.Operator:
      return [...common, { name: 'extKeyUsage', clientAuth: true }];
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
