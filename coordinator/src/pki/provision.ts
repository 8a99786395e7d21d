import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import {
  type ConsortiumConfig,
  type ConsortiumOperator,
  type ConsortiumSite,
  PARTICIPANT_ID_PATTERN,
} from '../../../shared/src/config/consortium-config.js';
import { ConfigError, ProvisionError } from '../../../shared/src/errors.js';
import { type CaMaterial, createConsortiumCa } from '../../../shared/src/pki/certificate-authority.js';
import { CertificateRole } from '../../../shared/src/pki/certificate-role.js';
import { normalizeSerial } from '../../../shared/src/pki/forge-util.js';
import { issueCertificate } from './issue-certificate.js';
import {
  type ManifestCertificate,
  type ProvisionManifest,
  ProvisionLayout,
  writeJsonAtomic,
} from './provision-manifest.js';
import { recordProvisioning } from './provision-ledger.js';
import { createRevocationList } from '../../../shared/src/pki/revocation-list.js';

/**
 * Lifetime of a consortium CA, in days: ten years plus slack, so that every leaf (at most 3650 days, see
 * `validityDays` in consortium.yaml) ends before its CA does.
 */
export const CA_VALIDITY_DAYS = 3660;

/** Options for {@link provisionConsortium}. */
export interface ProvisionOptions {
  /** Replace a previous run's output in a non-empty `outDir`. Other files there are left alone. @default false */
  force?: boolean;
}

/** What {@link provisionConsortium} wrote. */
export interface ProvisionSummary {
  /** Absolute path of the output folder. */
  readonly outDir: string;
  /** The manifest also written to `outDir/manifest.json`. */
  readonly manifest: ProvisionManifest;
}

/** `site.json`-style kit that tells a site agent where its files are and whom to connect to. */
export interface SiteKit {
  readonly siteId: string;
  /** `host:port` (IPv6 hosts in brackets). */
  readonly coordinator: string;
  readonly consortium: string;
  readonly certificate: 'site.crt';
  readonly key: 'site.key';
  readonly ca: 'ca.crt';
}

const KEY_MODE = 0o600;
const DIR_MODE = 0o700;
const PUBLIC_MODE = 0o644;
/** Entries a previous run leaves at the top of the output folder; `force` removes exactly these. */
const OUTPUT_ENTRIES = ['ca', 'coordinator', 'sites', 'operators', 'manifest.json'] as const;

/**
 * Creates a consortium's CA and every certificate its `consortium.yaml` asks for, laid out per recipient:
 *
 * - `ca/{ca.crt, ca.key, revocations.json}`: stays with the consortium admin;
 * - `coordinator/{server.crt, server.key, ca.crt, revocations.json, operators.json}`; operators.json holds the
 *   SHA-256 of each operator token (never the token) with its REST role, site and certificate serial;
 * - `sites/<id>/{site.crt, site.key, ca.crt, kit.json}`: one kit to hand to each hospital;
 * - `operators/<id>/{operator.crt, operator.key, ca.crt, token}`;
 * - `manifest.json`: ids, roles, serials, notAfter and fingerprints of everything issued (no secrets);
 * - `ca/audit-ledger.jsonl` (copied to `coordinator/provision-ledger.jsonl`): the same, as a ledger signed by the
 *   CA key, which `tessera revoke` continues.
 *
 * Private keys and tokens are written mode 0600 and folders 0700. The coordinator certificate's SAN gets
 * `coordinator.host` in addition to localhost/127.0.0.1 and the configured names. Throws ProvisionError
 * `TESSERA_PROVISION_OUT_DIR_NOT_EMPTY` when `outDir` has content and `force` is not set, and ConfigError when a
 * site or operator id is not a safe folder name (only possible for a config not built by parseConsortiumConfig).
 */
export function provisionConsortium(
  config: ConsortiumConfig,
  outDir: string,
  now: Date,
  options: ProvisionOptions = {},
): ProvisionSummary {
  const root = path.resolve(outDir);
  assertSafeIds(config);
  prepareOutDir(root, options.force ?? false);
  const ca = createConsortiumCa({ name: config.name, validityDays: CA_VALIDITY_DAYS, now });
  const revocations = createRevocationList(ca, now);
  const write = (rel: string, content: string, mode = PUBLIC_MODE): void => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true, mode: DIR_MODE });
    writeFileSync(path.join(root, rel), content, { mode });
  };
  write(ProvisionLayout.caCert, ca.certPem);
  write(ProvisionLayout.caKey, ca.keyPem, KEY_MODE);
  writeJsonAtomic(path.join(root, ProvisionLayout.caRevocations), revocations);

  const coordinatorAddress = hostPort(config.coordinator.host, config.coordinator.port);
  const run: Run = { config, ca, now, write, coordinatorAddress };
  const certificates: ManifestCertificate[] = [issueCoordinator(run)];
  writeJsonAtomic(path.join(root, ProvisionLayout.coordinatorRevocations), revocations);
  for (const site of config.sites) certificates.push(issueSite(run, site));
  const operatorHashes: OperatorTokenHash[] = [];
  for (const op of config.operators) {
    const { entry, tokenHash } = issueOperator(run, op);
    certificates.push(entry);
    operatorHashes.push(tokenHash);
  }
  write('coordinator/operators.json', `${JSON.stringify({ version: 1, operators: operatorHashes }, null, 2)}\n`);

  const caX509 = new X509Certificate(ca.certPem);
  const manifest: ProvisionManifest = {
    version: 1,
    consortium: config.name,
    createdAt: now.toISOString(),
    coordinator: coordinatorAddress,
    ca: {
      serial: normalizeSerial(caX509.serialNumber),
      notAfter: new Date(caX509.validTo).toISOString(),
      fingerprint256: caX509.fingerprint256,
    },
    certificates,
  };
  writeJsonAtomic(path.join(root, ProvisionLayout.manifest), manifest);
  recordProvisioning(root, ca, manifest, now);
  return { outDir: root, manifest };
}

/** One provisioning run's shared state. */
interface Run {
  readonly config: ConsortiumConfig;
  readonly ca: CaMaterial;
  readonly now: Date;
  readonly write: (rel: string, content: string, mode?: number) => void;
  readonly coordinatorAddress: string;
}

/** An entry of `coordinator/operators.json`. */
interface OperatorTokenHash {
  readonly id: string;
  readonly role: string;
  readonly site?: string;
  /** Hex SHA-256 of the UTF-8 token string (base64url as written to the operator's `token` file). */
  readonly tokenSha256: string;
  /** Serial (lowercase hex) of the operator's certificate: revoking it (`tessera revoke`) also disables the token. */
  readonly certSerial: string;
}

function issueCoordinator({ config, ca, now, write }: Run): ManifestCertificate {
  const { host, id } = config.coordinator;
  // Sites dial `host`; the certificate must name it or their hostname check fails.
  const hostIsIp = isIP(host) !== 0;
  const issued = issueCertificate({
    ca,
    role: CertificateRole.Coordinator,
    id,
    validityDays: config.validityDays,
    now,
    dnsNames: hostIsIp ? config.coordinator.dnsNames : [...config.coordinator.dnsNames, host],
    ipAddresses: hostIsIp ? [...config.coordinator.ipAddresses, host] : config.coordinator.ipAddresses,
  });
  write('coordinator/server.crt', issued.certPem);
  write('coordinator/server.key', issued.keyPem, KEY_MODE);
  write('coordinator/ca.crt', ca.certPem);
  return manifestEntry(id, CertificateRole.Coordinator, issued.certPem, 'coordinator/server.crt');
}

function issueSite({ config, ca, now, write, coordinatorAddress }: Run, site: ConsortiumSite): ManifestCertificate {
  const dir = `sites/${site.id}`;
  const issued = issueCertificate({
    ca,
    role: CertificateRole.Site,
    id: site.id,
    validityDays: config.validityDays,
    now,
    ...(site.displayName !== undefined ? { displayName: site.displayName } : {}),
  });
  write(`${dir}/site.crt`, issued.certPem);
  write(`${dir}/site.key`, issued.keyPem, KEY_MODE);
  write(`${dir}/ca.crt`, ca.certPem);
  const kit: SiteKit = {
    siteId: site.id,
    coordinator: coordinatorAddress,
    consortium: config.name,
    certificate: 'site.crt',
    key: 'site.key',
    ca: 'ca.crt',
  };
  write(`${dir}/kit.json`, `${JSON.stringify(kit, null, 2)}\n`);
  return manifestEntry(site.id, CertificateRole.Site, issued.certPem, `${dir}/site.crt`);
}

function issueOperator(
  { config, ca, now, write }: Run,
  op: ConsortiumOperator,
): { entry: ManifestCertificate; tokenHash: OperatorTokenHash } {
  const dir = `operators/${op.id}`;
  const issued = issueCertificate({
    ca,
    role: CertificateRole.Operator,
    id: op.id,
    validityDays: config.validityDays,
    now,
  });
  // 256 bits from the OS CSPRNG; only its hash reaches the coordinator.
  const token = randomBytes(32).toString('base64url');
  write(`${dir}/operator.crt`, issued.certPem);
  write(`${dir}/operator.key`, issued.keyPem, KEY_MODE);
  write(`${dir}/ca.crt`, ca.certPem);
  write(`${dir}/token`, `${token}\n`, KEY_MODE);
  const site = op.site !== undefined ? { site: op.site } : {};
  const entry = manifestEntry(op.id, CertificateRole.Operator, issued.certPem, `${dir}/operator.crt`);
  return {
    entry: { ...entry, accessRole: op.role, ...site },
    tokenHash: { id: op.id, role: op.role, ...site, tokenSha256: sha256Hex(token), certSerial: entry.serial },
  };
}

/** Ids become folder names; a config built in code (not parsed) must not be able to escape `outDir`. */
function assertSafeIds(config: ConsortiumConfig): void {
  const pattern = new RegExp(PARTICIPANT_ID_PATTERN);
  for (const id of [...config.sites.map((s) => s.id), ...config.operators.map((o) => o.id)]) {
    if (!pattern.test(id)) {
      throw new ConfigError(`id '${id}' must match ${PARTICIPANT_ID_PATTERN}`, { id });
    }
  }
}

function prepareOutDir(root: string, force: boolean): void {
  const entries = existsSync(root) ? readdirSync(root) : [];
  if (entries.length > 0) {
    if (!force) {
      throw new ProvisionError(
        'TESSERA_PROVISION_OUT_DIR_NOT_EMPTY',
        `${root} is not empty; refusing to overwrite a consortium's keys (use --force to replace a previous run)`,
        { outDir: root },
      );
    }
    for (const entry of OUTPUT_ENTRIES) rmSync(path.join(root, entry), { recursive: true, force: true });
  }
  mkdirSync(root, { recursive: true, mode: DIR_MODE });
}

function manifestEntry(id: string, role: CertificateRole, certPem: string, file: string): ManifestCertificate {
  const x509 = new X509Certificate(certPem);
  return {
    id,
    role,
    serial: normalizeSerial(x509.serialNumber),
    notAfter: new Date(x509.validTo).toISOString(),
    fingerprint256: x509.fingerprint256,
    path: file,
  };
}

function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
