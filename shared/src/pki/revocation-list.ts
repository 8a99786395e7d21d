import { constants, createPrivateKey, sign, verify, X509Certificate } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { IdentityError } from '../errors.js';
import { type CaMaterial, loadCa } from './certificate-authority.js';
import { normalizeSerial } from './forge-util.js';

/**
 * A signed revocation list. Neither node-forge nor node:crypto can write X.509 CRLs, so Tessera uses this JSON
 * document instead: the body is serialised canonically (sorted keys, no whitespace) and signed with the CA key
 * (RSA-PSS, SHA-256, salt = digest length); `signature` is base64.
 */
export const RevocationListSchema = Type.Object(
  {
    version: Type.Literal(1),
    /** The CA's CN (the consortium name). */
    issuer: Type.String(),
    /** ISO-8601; lists only move forward in time (see {@link RevocationStore}). */
    updatedAt: Type.String(),
    revoked: Type.Array(
      Type.Object(
        {
          /** Lowercase hex. */
          serial: Type.String({ pattern: '^[0-9a-f]+$' }),
          id: Type.String(),
          reason: Type.String(),
          revokedAt: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    signature: Type.String(),
  },
  { additionalProperties: false },
);
/** A signed revocation list document (see {@link RevocationListSchema}). */
export type RevocationList = Static<typeof RevocationListSchema>;
/** One entry of {@link RevocationList.revoked}. */
export type RevocationEntry = RevocationList['revoked'][number];

/** What to revoke; see {@link revoke}. */
export interface RevocationRequest {
  /** Serial in any common form (`4A:0B..`, `4a0b..`); stored normalised. */
  serial: string;
  /** The certificate's CN, for people reading the list. */
  id: string;
  reason: string;
}

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } as const;

/** Creates an empty revocation list signed by `ca`. */
export function createRevocationList(ca: CaMaterial, now: Date): RevocationList {
  const issuer = loadCa(ca).name;
  return signBody({ version: 1, issuer, updatedAt: now.toISOString(), revoked: [] }, ca);
}

/**
 * Returns a new list with `request` added, re-signed by `ca`. The input list is verified first, so a tampered
 * list is never re-signed (throws `TESSERA_IDENTITY_CRL_INVALID`). Revoking a serial already listed returns the
 * input unchanged.
 */
export function revoke(listDoc: RevocationList, ca: CaMaterial, request: RevocationRequest, now: Date): RevocationList {
  verifyRevocationList(listDoc, ca.certPem);
  const serial = normalizeSerial(request.serial);
  if (listDoc.revoked.some((entry) => entry.serial === serial)) return listDoc;
  const entry: RevocationEntry = { serial, id: request.id, reason: request.reason, revokedAt: now.toISOString() };
  const { signature: _old, ...body } = listDoc;
  return signBody({ ...body, updatedAt: now.toISOString(), revoked: [...body.revoked, entry] }, ca);
}

/**
 * Checks that `doc` is a well-formed revocation list issued and signed by the CA in `caCertPem`, and returns it
 * typed. Throws IdentityError `TESSERA_IDENTITY_CRL_INVALID` naming the problem otherwise.
 */
export function verifyRevocationList(doc: unknown, caCertPem: string): RevocationList {
  if (!Value.Check(RevocationListSchema, doc)) {
    const first = Value.Errors(RevocationListSchema, doc).First();
    const where = first === undefined ? '' : ` at ${first.path || '/'}: ${first.message}`;
    throw new IdentityError('TESSERA_IDENTITY_CRL_INVALID', `revocation list is malformed${where}`);
  }
  const { signature, ...body } = doc;
  if (!signatureVerifies(canonicalJson(body), signature, caCertPem)) {
    throw new IdentityError(
      'TESSERA_IDENTITY_CRL_INVALID',
      `revocation list from '${doc.issuer}' updated ${doc.updatedAt} refused: ` +
        'signature does not verify against the consortium CA',
      { issuer: doc.issuer },
    );
  }
  return doc;
}

/**
 * JSON with object keys sorted at every level and no whitespace: the byte string that is signed. Arrays keep
 * their order (the order of revocations is part of the signed content).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function signatureVerifies(data: string, signatureB64: string, caCertPem: string): boolean {
  try {
    const key = new X509Certificate(caCertPem).publicKey;
    return verify('sha256', Buffer.from(data), { key, ...PSS }, Buffer.from(signatureB64, 'base64'));
  } catch {
    // A truncated signature or unusable CA certificate is a failed verification, not a crash.
    return false;
  }
}

function signBody(body: Omit<RevocationList, 'signature'>, ca: CaMaterial): RevocationList {
  const signature = sign('sha256', Buffer.from(canonicalJson(body)), { key: createPrivateKey(ca.keyPem), ...PSS });
  return { ...body, signature: signature.toString('base64') };
}
