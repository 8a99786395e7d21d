/**
 * Tessera's consortium PKI: a root CA per consortium, role-bearing leaf certificates for the coordinator,
 * sites and operators, a signed JSON revocation list, and peer verification for mTLS handshakes.
 */
export { CertificateRole, isCertificateRole } from './certificate-role.js';
export { createConsortiumCa, type CaMaterial, type ConsortiumCaOptions } from './certificate-authority.js';
export { issueCertificate, type IssueCertificateOptions, type IssuedCertificate } from './issue-certificate.js';
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
export {
  CA_VALIDITY_DAYS,
  provisionConsortium,
  type ProvisionOptions,
  type ProvisionSummary,
  type SiteKit,
} from './provision.js';
export {
  ProvisionLayout,
  ProvisionManifestSchema,
  type ManifestCertificate,
  type ProvisionManifest,
} from './provision-manifest.js';
export { ProvisionLedgerLayout, recordProvisioning, recordRevocation } from './provision-ledger.js';
export { revokeCertificate, type RevokeCertificateOptions, type RevokeResult } from './revoke-certificate.js';
