import { createConsortiumCa, issueCertificate, type CaMaterial } from '../../../coordinator/src/pki/index.js';
import { CertificateRole } from '../../../shared/src/pki/certificate-role.js';
import { LedgerSigner } from '../../../shared/src/audit/index.js';
import { NOW } from '../pki/pki-fixtures.js';

/** A consortium CA with a coordinator and one site signer, made once per test file (RSA keys are slow). */
export interface AuditPki {
  ca: CaMaterial;
  coordinator: LedgerSigner;
  site: LedgerSigner;
  /** A signer from a different consortium. */
  stranger: LedgerSigner;
  /** The coordinator's key and certificate as PEM (for CoordinatorAudit.open). */
  coordinatorPem: { key: string; cert: string };
}

export function makeAuditPki(): AuditPki {
  const ca = createConsortiumCa({ name: 'audit-test', validityDays: 3660, now: NOW });
  const issue = (role: CertificateRole, id: string, from: CaMaterial): LedgerSigner => {
    const c = issueCertificate({ ca: from, role, id, validityDays: 365, now: NOW });
    return LedgerSigner.fromPem(c.keyPem, c.certPem);
  };
  const other = createConsortiumCa({ name: 'other', validityDays: 3660, now: NOW });
  const coordinatorCert = issueCertificate({ ca, role: CertificateRole.Coordinator, id: 'coordinator', validityDays: 365, now: NOW });
  return {
    ca,
    coordinatorPem: { key: coordinatorCert.keyPem, cert: coordinatorCert.certPem },
    coordinator: LedgerSigner.fromPem(coordinatorCert.keyPem, coordinatorCert.certPem),
    site: issue(CertificateRole.Site, 'site-1', ca),
    stranger: issue(CertificateRole.Coordinator, 'coordinator', other),
  };
}
