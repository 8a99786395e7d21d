import forge from 'node-forge';
import { IdentityError } from '../errors.js';
import {
  addDays,
  CLOCK_SKEW_ALLOWANCE_MS,
  generateRsaKeyPair,
  randomSerialHex,
  readAttr,
  subjectKeyId,
  utf8Attr,
} from './forge-util.js';

/** The consortium CA's certificate and private key, both PEM. The key never leaves the consortium admin. */
export interface CaMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options for {@link createConsortiumCa}. */
export interface ConsortiumCaOptions {
  /** Consortium name; becomes the CA's `CN` and `O`, and the `issuer` of revocation lists. */
  name: string;
  /** Lifetime of the CA certificate, in days from `now`. */
  validityDays: number;
  /** Issue time. `notBefore` is set {@link CLOCK_SKEW_ALLOWANCE_MS} earlier to tolerate clock drift. */
  now: Date;
}

/**
 * Creates a self-signed consortium root CA: RSA 2048, SHA-256, basicConstraints `CA:true, pathlen:0` (it
 * signs only leaf certificates), keyUsage `keyCertSign, cRLSign` (both critical), a random 16-byte serial.
 */
export function createConsortiumCa(options: ConsortiumCaOptions): CaMaterial {
  const keys = generateRsaKeyPair();
  const privateKey = forge.pki.privateKeyFromPem(keys.privateKeyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(options.now.getTime() - CLOCK_SKEW_ALLOWANCE_MS);
  cert.validity.notAfter = addDays(options.now, options.validityDays);
  const subject = [utf8Attr('CN', options.name), utf8Attr('O', options.name)];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

/** The parsed CA, ready to sign. @internal */
export interface LoadedCa {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
  /** The CA's `CN`: the consortium name. */
  readonly name: string;
  readonly keyId: string;
}

/** Parses CA material for signing. Throws IdentityError `TESSERA_IDENTITY_MALFORMED` if unusable. @internal */
export function loadCa(ca: CaMaterial): LoadedCa {
  try {
    const cert = forge.pki.certificateFromPem(ca.certPem);
    const key = forge.pki.privateKeyFromPem(ca.keyPem);
    const name = readAttr(cert.subject, 'CN') ?? '';
    return { cert, key, name, keyId: subjectKeyId(cert) };
  } catch (err) {
    throw new IdentityError('TESSERA_IDENTITY_MALFORMED', 'CA certificate or key could not be parsed', {}, {
      cause: err,
    });
  }
}
