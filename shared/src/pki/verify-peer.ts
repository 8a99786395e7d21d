import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { IdentityError } from '../errors.js';
import { type CertificateRole, isCertificateRole } from './certificate-role.js';
import { normalizeSerial, readAttr } from './forge-util.js';

/** Anything that can say whether a serial is revoked; {@link RevocationStore} is one. */
export interface RevocationChecker {
  /** MUST be synchronous and cheap: it runs on every TLS handshake. `serial` is lowercase hex. */
  isRevoked(serial: string): boolean;
}

/** Options for {@link verifyPeerCertificate}. Give exactly one of `certPem` and `certDer`. */
export type VerifyPeerOptions = (
  | { certPem: string; certDer?: never }
  | { certDer: Uint8Array; certPem?: never }
) & {
  /** The consortium CA certificate (PEM). */
  caCertPem: string;
  /** Revocation source; when absent no revocation check is made. */
  revocations?: RevocationChecker;
  /** The time to check validity against. */
  now: Date;
  /** Refuse the certificate unless its role is this one. */
  expectedRole?: CertificateRole;
  /** The id the peer claims (e.g. `Hello.siteId`); refused unless it equals the certificate's `CN`. */
  claimedId?: string;
};

/** The identity established from a verified peer certificate. */
export interface PeerIdentity {
  /** The subject `CN`: site, operator or coordinator id. */
  readonly id: string;
  readonly role: CertificateRole;
  /** Lowercase hex, no separators. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the DER certificate, as OpenSSL prints it (`AB:CD:...`). */
  readonly fingerprint256: string;
}

/**
 * Verifies a peer certificate against the consortium CA and returns who the peer is. Checks, in order: signed
 * by our CA, within its validity window, not revoked, role, claimed id. Each failure throws an IdentityError
 * whose message names the certificate (CN, role, serial) and the reason:
 *
 * - `TESSERA_IDENTITY_MALFORMED`: not a parsable certificate, or a CA certificate / one without a Tessera role.
 * - `TESSERA_IDENTITY_UNKNOWN_CA`: not issued by the consortium CA.
 * - `TESSERA_IDENTITY_NOT_YET_VALID` / `TESSERA_IDENTITY_EXPIRED`: `now` outside notBefore..notAfter.
 * - `TESSERA_IDENTITY_REVOKED`: the serial is on the revocation list.
 * - `TESSERA_IDENTITY_WRONG_ROLE`: role differs from `expectedRole`.
 * - `TESSERA_IDENTITY_SITE_MISMATCH`: `claimedId` differs from the certificate's CN.
 */
export function verifyPeerCertificate(options: VerifyPeerOptions): PeerIdentity {
  const x509 = parseX509(options);
  const caCert = parseCa(options.caCertPem);
  const serial = normalizeSerial(x509.serialNumber);
  // Checked before reading any field: only our CA's certificates are trusted to say who someone is.
  if (!x509.checkIssued(caCert) || !x509.verify(caCert.publicKey)) {
    throw new IdentityError(
      'TESSERA_IDENTITY_UNKNOWN_CA',
      `certificate '${describeSubject(x509)}' (serial ${serial}) refused: not issued by the consortium CA`,
      { serial },
    );
  }
  const { id, role } = readIdentity(x509, serial);
  const label = `${role} certificate '${id}' (serial ${serial})`;
  const context = { id, role, serial };
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (options.now.getTime() < notBefore.getTime()) {
    throw new IdentityError(
      'TESSERA_IDENTITY_NOT_YET_VALID',
      `${label} refused: not valid until ${notBefore.toISOString()} (now ${options.now.toISOString()})`,
      context,
    );
  }
  if (options.now.getTime() > notAfter.getTime()) {
    throw new IdentityError(
      'TESSERA_IDENTITY_EXPIRED',
      `${label} refused: expired at ${notAfter.toISOString()} (now ${options.now.toISOString()})`,
      context,
    );
  }
  if (options.revocations?.isRevoked(serial) === true) {
    throw new IdentityError('TESSERA_IDENTITY_REVOKED', `${label} refused: revoked by the consortium`, context);
  }
  if (options.expectedRole !== undefined && options.expectedRole !== role) {
    throw new IdentityError(
      'TESSERA_IDENTITY_WRONG_ROLE',
      `${label} refused: role '${role}' where '${options.expectedRole}' is required`,
      { ...context, expectedRole: options.expectedRole },
    );
  }
  if (options.claimedId !== undefined && options.claimedId !== id) {
    throw new IdentityError(
      'TESSERA_IDENTITY_SITE_MISMATCH',
      `${label} refused: peer claims to be '${options.claimedId}' but the certificate is for '${id}'`,
      { ...context, claimedId: options.claimedId },
    );
  }
  return { id, role, serial, notBefore, notAfter, fingerprint256: x509.fingerprint256 };
}

function parseX509(options: VerifyPeerOptions): X509Certificate {
  try {
    return new X509Certificate(options.certPem ?? options.certDer);
  } catch (err) {
    throw new IdentityError('TESSERA_IDENTITY_MALFORMED', 'peer certificate could not be parsed', {}, { cause: err });
  }
}

function parseCa(caCertPem: string): X509Certificate {
  try {
    return new X509Certificate(caCertPem);
  } catch (err) {
    throw new IdentityError('TESSERA_IDENTITY_MALFORMED', 'CA certificate could not be parsed', {}, { cause: err });
  }
}

/** Reads CN and role from a certificate already known to be ours (so forge, RSA-only, can parse it). */
function readIdentity(x509: X509Certificate, serial: string): { id: string; role: CertificateRole } {
  const subject = forge.pki.certificateFromPem(x509.toString()).subject;
  const id = readAttr(subject, 'CN') ?? '';
  const ou = readAttr(subject, 'OU') ?? '';
  // The CA's own certificate verifies against itself; it must never pass as a peer.
  if (x509.ca || id === '' || !isCertificateRole(ou)) {
    throw new IdentityError(
      'TESSERA_IDENTITY_MALFORMED',
      `certificate '${describeSubject(x509)}' (serial ${serial}) refused: not a Tessera peer certificate (CA or no role)`,
      { serial },
    );
  }
  return { id, role: ou };
}

/** The subject as one line (`CN=x, OU=y`) for messages about certificates we do not trust. */
function describeSubject(x509: X509Certificate): string {
  return x509.subject.split('\n').join(', ');
}
