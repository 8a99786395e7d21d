import { copyFileSync, existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import { AuditKind, JsonlLedgerFile, LedgerSigner } from '../../../shared/src/audit/index.js';
import type { CaMaterial } from '../../../shared/src/pki/certificate-authority.js';
import type { ProvisionManifest } from './provision-manifest.js';

/** Where provisioning keeps its signed ledger, and the copy the coordinator anchors in its own ledger at start. */
export const ProvisionLedgerLayout = {
  ledger: 'ca/audit-ledger.jsonl',
  coordinatorCopy: 'coordinator/provision-ledger.jsonl',
} as const;

function open(root: string, ca: CaMaterial, consortium: string, now: Date): JsonlLedgerFile {
  return JsonlLedgerFile.open({
    path: path.join(root, ProvisionLedgerLayout.ledger),
    ledger: `ca:${consortium}`,
    signer: LedgerSigner.fromPem(ca.keyPem, ca.certPem),
    caPem: ca.certPem,
    now: () => now,
  });
}

/** Copies the ledger next to the coordinator's certificate (atomically), when that folder exists. Returns the path or null. */
function copyToCoordinator(root: string): string | null {
  if (!existsSync(path.join(root, 'coordinator'))) return null;
  const target = path.join(root, ProvisionLedgerLayout.coordinatorCopy);
  const tmp = `${target}.${process.pid}.tmp`;
  copyFileSync(path.join(root, ProvisionLedgerLayout.ledger), tmp);
  renameSync(tmp, target);
  return target;
}

/**
 * Records a provisioning run in the consortium's own ledger, signed with the CA key (the one party that
 * provisions): one `provision.consortium` entry and one `provision.certificate` per certificate issued (id,
 * role, serial, expiry, fingerprint: never keys or tokens). The coordinator records this ledger's head in
 * its ledger when it starts, so the two chains are tied together.
 */
export function recordProvisioning(root: string, ca: CaMaterial, manifest: ProvisionManifest, now: Date): void {
  const ledger = open(root, ca, manifest.consortium, now);
  const actor = 'ca';
  ledger.append({
    actor,
    kind: AuditKind.ProvisionConsortium,
    details: { consortium: manifest.consortium, coordinator: manifest.coordinator, caSerial: manifest.ca.serial, caFingerprint: manifest.ca.fingerprint256, caNotAfter: manifest.ca.notAfter },
  });
  for (const c of manifest.certificates) {
    ledger.append({
      actor,
      kind: AuditKind.ProvisionCertificate,
      ...(c.role === 'site' ? { siteId: c.id } : {}),
      details: { id: c.id, role: c.role, accessRole: c.accessRole, site: c.site, serial: c.serial, notAfter: c.notAfter, fingerprint256: c.fingerprint256 },
    });
  }
  copyToCoordinator(root);
}

/** Records a revocation in the provisioning ledger (starting one for output that predates it). Returns files written. */
export function recordRevocation(
  root: string,
  ca: CaMaterial,
  consortium: string,
  revoked: { id: string; serial: string; reason: string },
  now: Date,
): string[] {
  const ledger = open(root, ca, consortium, now);
  ledger.append({ actor: 'ca', kind: AuditKind.CertificateRevoked, details: { id: revoked.id, serial: revoked.serial, reason: revoked.reason.slice(0, 200) } });
  const copy = copyToCoordinator(root);
  return [path.join(root, ProvisionLedgerLayout.ledger), ...(copy !== null ? [copy] : [])];
}
