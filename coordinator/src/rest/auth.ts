import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { OperatorAccessRole } from '../../../shared/src/config/consortium-config.js';
import { ApiError, ConfigError, errorMessage } from '../../../shared/src/errors.js';
import type { RevocationChecker } from '../../../shared/src/pki/verify-peer.js';

/** `coordinator/operators.json` as `tessera provision` writes it: token hashes, never tokens. */
export const OperatorTokensSchema = Type.Object(
  {
    version: Type.Literal(1),
    operators: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1 }),
          role: Type.Union([
            Type.Literal(OperatorAccessRole.Operator),
            Type.Literal(OperatorAccessRole.Compliance),
            Type.Literal(OperatorAccessRole.SiteAdmin),
          ]),
          site: Type.Optional(Type.String({ minLength: 1 })),
          tokenSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          certSerial: Type.Optional(Type.String({ pattern: '^[0-9a-f]+$' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type OperatorTokens = Static<typeof OperatorTokensSchema>;

/** Who is calling the REST API. */
export interface ApiPrincipal {
  readonly id: string;
  readonly role: OperatorAccessRole;
  /** For `site-admin`: the one site it administers. */
  readonly site?: string;
}


interface TokenEntry {
  readonly hash: Buffer;
  readonly principal: ApiPrincipal;
  readonly certSerial: string | undefined;
}

/**
 * Bearer-token authentication against the SHA-256 hashes in operators.json. The presented token is hashed and
 * compared with every entry in constant time (no early exit), so the response time does not reveal how much of
 * a hash matched. A token whose operator certificate is on the revocation list is refused like an unknown one.
 */
export class TokenAuthenticator {
  private constructor(
    private readonly entries: readonly TokenEntry[],
    private readonly revocations: RevocationChecker | undefined,
  ) {}

  static fromFile(file: string, revocations?: RevocationChecker): TokenAuthenticator {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${file}: operator token file cannot be read: ${errorMessage(err)}`, { file }, { cause: err });
    }
    return TokenAuthenticator.fromDocument(doc, file, revocations);
  }

  static fromDocument(doc: unknown, source: string, revocations?: RevocationChecker): TokenAuthenticator {
    if (!Value.Check(OperatorTokensSchema, doc)) {
      const first = Value.Errors(OperatorTokensSchema, doc).First();
      throw new ConfigError(`${source}: not an operators.json from tessera provision (${first?.path || '/'}: ${first?.message ?? 'invalid'})`, {
        source,
      });
    }
    const entries = doc.operators.map((o) => {
      if (o.role === 'site-admin' && o.site === undefined) {
        throw new ConfigError(`${source}: operator ${o.id} is a site-admin without 'site'`, { source, id: o.id });
      }
      return {
        hash: Buffer.from(o.tokenSha256, 'hex'),
        principal: { id: o.id, role: o.role, ...(o.site !== undefined && o.role === 'site-admin' ? { site: o.site } : {}) },
        certSerial: o.certSerial,
      };
    });
    return new TokenAuthenticator(entries, revocations);
  }

  /** Resolves an `Authorization` header to a principal; throws ApiError `TESSERA_API_UNAUTHENTICATED`. */
  authenticate(authorization: string | undefined): ApiPrincipal {
    if (authorization === undefined || authorization === '') {
      throw new ApiError('TESSERA_API_UNAUTHENTICATED', 'missing credentials: send Authorization: Bearer <token>');
    }
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
    const match = /^Bearer +([A-Za-z0-9_-]{16,128})$/i.exec(authorization.trim());
    if (!match?.[1]) throw new ApiError('TESSERA_API_UNAUTHENTICATED', 'malformed Authorization header: expected Bearer <token>');
    const presented = createHash('sha256').update(match[1], 'utf8').digest();
    let found: TokenEntry | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(e.hash, presented) && found === undefined) found = e;
    }
    if (!found) throw new ApiError('TESSERA_API_UNAUTHENTICATED', 'unknown or revoked token');
    if (found.certSerial !== undefined && this.revocations?.isRevoked(found.certSerial)) {
      throw new ApiError('TESSERA_API_UNAUTHENTICATED', 'unknown or revoked token', { operator: found.principal.id });
    }
    return found.principal;
  }
}

/** What a route needs: roles allowed, and for site-admins the site the request is about. */
export function authorize(principal: ApiPrincipal, roles: readonly OperatorAccessRole[], action: string): void {
  if (!roles.includes(principal.role)) {
    throw new ApiError('TESSERA_API_FORBIDDEN', `role '${principal.role}' may not ${action}`, { operator: principal.id, role: principal.role });
  }
}

/** Site-admins may only see their own site. */
export function authorizeSite(principal: ApiPrincipal, siteId: string): void {
  if (principal.role === 'site-admin' && principal.site !== siteId) {
    throw new ApiError('TESSERA_API_FORBIDDEN', `site-admin of ${principal.site ?? '?'} may not read site ${siteId}`, {
      operator: principal.id,
    });
  }
}
