import { constants, createPrivateKey, type KeyObject, sign, verify, X509Certificate } from 'node:crypto';
import { AuditError } from '../errors.js';

/** Domain-separation prefixes: an entry signature can never be replayed as a head signature or vice versa. */
export const SIGNATURE_CONTEXT = { entry: 'tessera-audit-v1:entry:', head: 'tessera-audit-v1:head:' } as const;

// RSA keys sign with RSA-PSS (SHA-256, salt = digest length), as the revocation list does.
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };

/** Lowercase hex sha256 of a certificate's DER: the `signer` field of entries and heads. */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replaceAll(':', '').toLowerCase();
}

function digestFor(key: KeyObject): string | null {
  // Ed25519/Ed448 hash internally; node:crypto wants `null` for them.
  return key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
}

function options(key: KeyObject): KeyObject | { key: KeyObject; padding: number; saltLength: number } {
  return key.asymmetricKeyType === 'rsa' ? { key, ...PSS } : key;
}

/**
 * Signs ledger entries and heads with a private key whose certificate is known (the coordinator's server key,
 * a site's key from its kit, the consortium CA key for the provisioning ledger). RSA keys use RSA-PSS with
 * SHA-256; EC keys ECDSA with SHA-256; Ed25519 its own scheme.
 */
export class LedgerSigner {
  private constructor(
    private readonly key: KeyObject,
    /** PEM of the signing certificate; exports carry it so a verifier needs only the CA certificate. */
    readonly certificatePem: string,
    /** {@link certificateFingerprint} of the certificate. */
    readonly fingerprint: string,
  ) {}

  /**
   * Throws AuditError `TESSERA_AUDIT_SIGNER_INVALID` when the key or certificate cannot be parsed or the key
   * is not the certificate's.
   */
  static fromPem(keyPem: string | Buffer, certificatePem: string): LedgerSigner {
    let key: KeyObject;
    let cert: X509Certificate;
    try {
      key = createPrivateKey(keyPem);
      cert = new X509Certificate(certificatePem);
    } catch (err) {
      throw new AuditError('TESSERA_AUDIT_SIGNER_INVALID', 'audit signer key or certificate cannot be parsed', {}, { cause: err });
    }
    if (!cert.checkPrivateKey(key)) {
      throw new AuditError('TESSERA_AUDIT_SIGNER_INVALID', `audit signer key does not belong to certificate ${cert.subject}`, {});
    }
    return new LedgerSigner(key, cert.toString(), certificateFingerprint(certificatePem));
  }

  /** Base64 signature over `context` + `message`. */
  sign(context: string, message: string): string {
    return sign(digestFor(this.key), Buffer.from(context + message), options(this.key)).toString('base64');
  }
}

/**
 * True when `signatureB64` is the signature over `context` + `message` by the key of `signer` (a certificate
 * PEM, or its public key already parsed, which a verifier of many entries should pass); never throws.
 */
export function verifySignature(signer: string | KeyObject, context: string, message: string, signatureB64: string): boolean {
  try {
    const key = typeof signer === 'string' ? new X509Certificate(signer).publicKey : signer;
    return verify(digestFor(key), Buffer.from(context + message), options(key), Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}
