/**
 * Tessera's consortium PKI, the part both sides run: certificate roles, the signed JSON revocation list
 * and peer verification for mTLS handshakes. Issuing (the consortium CA, leaf certificates, provisioning
 * and revocation) is the operator's job and lives in coordinator/src/pki.
 */
export { CertificateRole, isCertificateRole } from './certificate-role.js';
export { createConsortiumCa, type CaMaterial, type ConsortiumCaOptions } from './certificate-authority.js';
export { CLOCK_SKEW_ALLOWANCE_MS, normalizeSerial, RSA_MODULUS_BITS } from './forge-util.js';
export {
  canonicalJson,
  createRevocationList,
  revoke,
  RevocationListSchema,
  verifyRevocationList,
  type RevocationEntry,
  type RevocationList,
  type RevocationRequest,
} from './revocation-list.js';
export { RevocationStore, type RevocationStoreOptions } from './revocation-store.js';
export {
  verifyPeerCertificate,
  type PeerIdentity,
  type RevocationChecker,
  type VerifyPeerOptions,
} from './verify-peer.js';
