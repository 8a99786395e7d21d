import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { OperatorAccessRole } from '../../../shared/src/config/consortium-config.js';
import { ProvisionError } from '../../../shared/src/errors.js';
import { CertificateRole } from '../../../shared/src/pki/certificate-role.js';

/** File names inside a provisioning output folder, relative to its root. */
export const ProvisionLayout = {
  caCert: 'ca/ca.crt',
  caKey: 'ca/ca.key',
  caRevocations: 'ca/revocations.json',
  coordinatorDir: 'coordinator',
  coordinatorRevocations: 'coordinator/revocations.json',
  manifest: 'manifest.json',
} as const;

const ManifestCertificateSchema = Type.Object(
  {
    id: Type.String(),
    role: Type.Union([
      Type.Literal(CertificateRole.Coordinator),
      Type.Literal(CertificateRole.Site),
      Type.Literal(CertificateRole.Operator),
    ]),
    /** For operators: what they may do at the admin API. */
    accessRole: Type.Optional(
      Type.Union([
        Type.Literal(OperatorAccessRole.Operator),
        Type.Literal(OperatorAccessRole.Compliance),
        Type.Literal(OperatorAccessRole.SiteAdmin),
      ]),
    ),
    /** For site-admin operators: the site they administer. */
    site: Type.Optional(Type.String()),
    /** Lowercase hex. */
    serial: Type.String(),
    /** ISO-8601. */
    notAfter: Type.String(),
    /** SHA-256 of the DER certificate, `AB:CD:...`. */
    fingerprint256: Type.String(),
    /** Certificate file, relative to the output folder. */
    path: Type.String(),
  },
  { additionalProperties: false },
);

/** `manifest.json`: everything a provisioning run issued. Holds no keys or tokens. */
export const ProvisionManifestSchema = Type.Object(
  {
    version: Type.Literal(1),
    consortium: Type.String(),
    /** ISO-8601. */
    createdAt: Type.String(),
    /** `host:port` sites connect to. */
    coordinator: Type.String(),
    ca: Type.Object(
      { serial: Type.String(), notAfter: Type.String(), fingerprint256: Type.String() },
      { additionalProperties: false },
    ),
    certificates: Type.Array(ManifestCertificateSchema),
  },
  { additionalProperties: false },
);
/** See {@link ProvisionManifestSchema}. */
export type ProvisionManifest = Static<typeof ProvisionManifestSchema>;
/** One issued certificate in a {@link ProvisionManifest}. */
export type ManifestCertificate = Static<typeof ManifestCertificateSchema>;

/** Reads and validates a manifest. Throws ProvisionError `TESSERA_PROVISION_CA_DIR_INVALID`. @internal */
export function readManifest(file: string): ProvisionManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ProvisionError('TESSERA_PROVISION_CA_DIR_INVALID', `${file} could not be read`, { file }, { cause: err });
  }
  if (!Value.Check(ProvisionManifestSchema, doc)) {
    const first = Value.Errors(ProvisionManifestSchema, doc).First();
    throw new ProvisionError(
      'TESSERA_PROVISION_CA_DIR_INVALID',
      `${file} is not a Tessera manifest${first === undefined ? '' : ` (${first.path || '/'}: ${first.message})`}`,
      { file },
    );
  }
  return doc;
}

/**
 * Writes JSON through a temp file and a rename, so a reader (the coordinator's RevocationStore) sees either
 * the old file or the new one, never half of one. @internal
 */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, file);
}
