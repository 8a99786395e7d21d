/**
 * Issuing side of the consortium PKI (run by the operator, on the machine that keeps ca.key): a root CA
 * per consortium, role-bearing leaf certificates for the coordinator, sites and operators, provisioning
 * kits and their ledger, and revocation. Verification lives in shared/src/pki (both sides run it).
 */

export { issueCertificate, type IssueCertificateOptions, type IssuedCertificate } from './issue-certificate.js';
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
export { createConsortiumCa, type CaMaterial, type ConsortiumCaOptions } from '../../../shared/src/pki/certificate-authority.js';
