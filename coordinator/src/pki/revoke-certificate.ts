import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, ProvisionError } from '../../../shared/src/errors.js';
import { normalizeSerial } from '../../../shared/src/pki/forge-util.js';
import { type ManifestCertificate, ProvisionLayout, readManifest, writeJsonAtomic } from './provision-manifest.js';
import { recordRevocation } from './provision-ledger.js';
import { revoke, verifyRevocationList } from '../../../shared/src/pki/revocation-list.js';

/** Options for {@link revokeCertificate}: name the certificate by exactly one of `serial` and `id`. */
export type RevokeCertificateOptions = (
  | { serial: string; id?: never }
  | { id: string; serial?: never }
) & {
  /**
   * The provisioning output folder (holding `ca/` and `manifest.json`), or its `ca/` subfolder.
   */
  caDir: string;
  /** Why, for the list's readers (e.g. `key compromised`, `left consortium`). */
  reason: string;
  now: Date;
};

/** What {@link revokeCertificate} did. */
export interface RevokeResult {
  readonly id: string;
  /** Lowercase hex. */
  readonly serial: string;
  /** True when the serial was already on the list (nothing was written). */
  readonly alreadyRevoked: boolean;
  /**
   * Files written: `ca/revocations.json`, the provisioning ledger `ca/audit-ledger.jsonl` and, when the
   * coordinator folder exists, their copies there.
   */
  readonly written: readonly string[];
  /** Set when the provisioning ledger could not record the revocation (the revocation itself took effect). */
  readonly ledgerProblem?: string;
}

/**
 * Adds a certificate to the consortium's signed revocation list, finding it in `manifest.json` by id or
 * serial. Writes `ca/revocations.json` and, if `coordinator/` exists next to it, `coordinator/revocations.json`
 * (both atomically, so a running coordinator's RevocationStore picks the change up within a second).
 *
 * Throws ProvisionError `TESSERA_PROVISION_CA_DIR_INVALID` (CA files or manifest missing),
 * `TESSERA_PROVISION_NOT_FOUND` (no such id or serial in the manifest), and IdentityError
 * `TESSERA_IDENTITY_CRL_INVALID` when the existing list does not verify (it is never re-signed).
 */
export function revokeCertificate(options: RevokeCertificateOptions): RevokeResult {
  const root = resolveRoot(options.caDir);
  const file = (rel: string): string => path.join(root, rel);
  const manifest = readManifest(file(ProvisionLayout.manifest));
  const target = findCertificate(manifest.certificates, options);
  const ca = {
    certPem: readFileSync(file(ProvisionLayout.caCert), 'utf8'),
    keyPem: readFileSync(file(ProvisionLayout.caKey), 'utf8'),
  };
  const current = verifyRevocationList(readJson(file(ProvisionLayout.caRevocations)), ca.certPem);
  const next = revoke(current, ca, { serial: target.serial, id: target.id, reason: options.reason }, options.now);
  if (next === current) return { id: target.id, serial: target.serial, alreadyRevoked: true, written: [] };

  // The ledger first: a coordinator that reloads the new list then finds the ledger entry already there.
  let ledgerFiles: string[] = [];
  let ledgerProblem: string | undefined;
  try {
    const revoked = { id: target.id, serial: target.serial, reason: options.reason };
    ledgerFiles = recordRevocation(root, ca, manifest.consortium, revoked, options.now);
  } catch (err) {
    // A ledger that cannot be continued must not stop the revocation; the caller reports it.
    ledgerProblem = errorMessage(err);
  }
  const written = [file(ProvisionLayout.caRevocations)];
  if (existsSync(file(ProvisionLayout.coordinatorDir))) written.push(file(ProvisionLayout.coordinatorRevocations));
  for (const out of written) writeJsonAtomic(out, next);
  return {
    id: target.id,
    serial: target.serial,
    alreadyRevoked: false,
    written: [...written, ...ledgerFiles],
    ...(ledgerProblem !== undefined ? { ledgerProblem } : {}),
  };
}

/** Accepts the output root or its `ca/` folder, so `--ca-dir out` and `--ca-dir out/ca` both work. */
function resolveRoot(caDir: string): string {
  const dir = path.resolve(caDir);
  for (const candidate of [dir, path.dirname(dir)]) {
    const has = (rel: string): boolean => existsSync(path.join(candidate, rel));
    if (has(ProvisionLayout.caKey) && has(ProvisionLayout.manifest)) return candidate;
  }
  throw new ProvisionError(
    'TESSERA_PROVISION_CA_DIR_INVALID',
    `${dir} is not a provisioning output folder (expected ${ProvisionLayout.caKey} and ${ProvisionLayout.manifest})`,
    { caDir: dir },
  );
}

function findCertificate(
  certificates: readonly ManifestCertificate[],
  options: RevokeCertificateOptions,
): ManifestCertificate {
  if ((options.serial === undefined) === (options.id === undefined)) {
    const message = 'name the certificate to revoke by exactly one of serial and id';
    throw new ProvisionError('TESSERA_PROVISION_NOT_FOUND', message);
  }
  if (options.serial !== undefined) {
    const serial = normalizeSerial(options.serial);
    const found = certificates.find((c) => normalizeSerial(c.serial) === serial);
    if (found === undefined) {
      const message = `no certificate with serial ${serial} in the manifest`;
      throw new ProvisionError('TESSERA_PROVISION_NOT_FOUND', message, { serial });
    }
    return found;
  }
  const found = certificates.find((c) => c.id === options.id);
  if (found === undefined) {
    throw new ProvisionError('TESSERA_PROVISION_NOT_FOUND', `no certificate for id '${options.id}' in the manifest`, {
      id: options.id,
    });
  }
  return found;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const message = `${file} could not be read as JSON`;
    throw new ProvisionError('TESSERA_PROVISION_CA_DIR_INVALID', message, { file }, { cause: err });
  }
}
