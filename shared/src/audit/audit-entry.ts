import { createHash } from 'node:crypto';
import { AuditError } from '../errors.js';
import { canonicalJson, type JsonValue } from './canonical-json.js';

/** Version of the entry format; part of every hashed body. */
export const AUDIT_FORMAT_VERSION = 1;

/** `prev` of the first entry: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * What an entry records. Dotted `area.event` names; the coordinator, the site agent, provisioning and the
 * REST API (logins) append these. A reader MUST accept kinds it does not know (newer writers add kinds);
 * {@link isKnownAuditKind} tells them apart.
 */
export const AuditKind = {
  /** Provisioning created the consortium CA and issued certificates (written by `tessera provision`). */
  ProvisionConsortium: 'provision.consortium',
  /** One certificate issued by provisioning (id, role, serial, fingerprint). */
  ProvisionCertificate: 'provision.certificate',
  /** A certificate was put on the revocation list (`tessera revoke`). */
  CertificateRevoked: 'certificate.revoked',
  /** The coordinator took a (new) revocation list into force. */
  RevocationsLoaded: 'revocation.loaded',
  /** The coordinator's provisioning ledger head, recorded so its chain is anchored in the coordinator's. */
  ProvisionAnchored: 'provision.anchored',
  CoordinatorStarted: 'coordinator.started',
  /** The coordinator's configuration differs from the one recorded at the previous start. */
  ConfigChanged: 'config.changed',
  CoordinatorStopped: 'coordinator.stopped',
  LoginSucceeded: 'auth.login',
  LoginRefused: 'auth.refused',
  StudyCreated: 'study.created',
  StudyStatus: 'study.status',
  /** Privacy parameters (secure aggregation, differential privacy) a study runs under. */
  PrivacyParameters: 'privacy.parameters',
  /** Privacy budget (ε) spent by a site in a round, when differential privacy is on. */
  PrivacySpent: 'privacy.spent',
  RoundStarted: 'round.started',
  RoundPhase: 'round.phase',
  RoundFailed: 'round.failed',
  RoundsInterrupted: 'round.interrupted',
  ModelCommitted: 'model.committed',
  SiteJoined: 'site.joined',
  SiteDisconnected: 'site.disconnected',
  /** A site left a round (timeout, disconnect, invalid update) or refused a task (its policy). */
  SiteDropped: 'site.dropped',
  /** A caller's identity was refused (revoked, wrong role, site mismatch, ...). */
  SiteRefused: 'site.refused',
  /** The coordinator accepted data from a site: kind, bytes, sha256 (never the data). */
  DataReceived: 'data.received',
  /** Site side: a task arrived (kind, model hash to use). */
  TaskReceived: 'task.received',
  /** Site side: the global model it fetched (sha256 and bytes). */
  ModelReceived: 'model.received',
  /** Site side: data it sent (kind, bytes, sha256). */
  DataSent: 'data.sent',
  /** Site side: a task it refused, with the code. */
  TaskRefused: 'task.refused',
  /** The site agent started (its ledger continues). */
  AgentStarted: 'agent.started',
} as const;
export type AuditKind = (typeof AuditKind)[keyof typeof AuditKind];

const KNOWN_KINDS: ReadonlySet<string> = new Set(Object.values(AuditKind));

/** True for the kinds this version of Tessera writes. */
export function isKnownAuditKind(kind: string): kind is AuditKind {
  return KNOWN_KINDS.has(kind);
}

/** What a caller appends; the ledger adds `seq`, `at` (from the caller's clock), `prev`, `hash` and signature. */
export interface AuditEntryInput {
  /** Who did it: `coordinator:<id>`, `site:<id>`, `operator:<id>`, `ca` (the consortium CA). */
  actor: string;
  kind: AuditKind | (string & {});
  studyId?: string;
  siteId?: string;
  round?: number;
  /**
   * Metadata only: ids, counts, codes, sizes, hashes, parameters. Never data rows, weights or free text from a
   * site. Strings are capped at {@link MAX_DETAIL_STRING} characters and the whole entry at
   * {@link MAX_ENTRY_BYTES}.
   */
  details?: Record<string, JsonValue | undefined>;
}

/** The hashed and signed part of an entry. */
export interface AuditEntryBody {
  v: number;
  /** 1-based position in the chain. */
  seq: number;
  /** ISO-8601 UTC with milliseconds. */
  at: string;
  actor: string;
  kind: string;
  studyId?: string;
  siteId?: string;
  round?: number;
  details: Record<string, JsonValue>;
  /** `hash` of the previous entry, {@link GENESIS_HASH} for the first. */
  prev: string;
}

/** A sealed entry: `hash` = sha256(prev ‖ canonicalJson(body)), `sig` = the signer's signature over it. */
export interface AuditEntry extends AuditEntryBody {
  /** Lowercase hex sha256. */
  hash: string;
  /** sha256 fingerprint (lowercase hex of the DER) of the signing certificate. */
  signer: string;
  /** Base64 signature over `tessera-audit-v1:entry:` + `hash`. */
  sig: string;
}

/** Longest string allowed anywhere in `details`. */
export const MAX_DETAIL_STRING = 512;
/** Largest canonical body, in bytes. */
export const MAX_ENTRY_BYTES = 16 * 1024;

const ID_LIKE = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/;

/** Checks an input before it is sealed. Throws AuditError `TESSERA_AUDIT_ENTRY_INVALID` naming the field. */
export function validateEntryInput(input: AuditEntryInput): void {
  const bad = (field: string, why: string): AuditError =>
    new AuditError('TESSERA_AUDIT_ENTRY_INVALID', `audit entry ${field} ${why}`, { field });
  if (!ID_LIKE.test(input.actor)) throw bad('actor', 'must be an id such as coordinator:<id> or site:<id>');
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/.test(input.kind)) throw bad('kind', 'must look like area.event');
  for (const field of ['studyId', 'siteId'] as const) {
    const v = input[field];
    if (v !== undefined && !ID_LIKE.test(v)) throw bad(field, 'must be an id');
  }
  if (input.round !== undefined && (!Number.isInteger(input.round) || input.round < 0)) {
    throw bad('round', 'must be a non-negative integer');
  }
  checkStrings(input.details ?? {}, 'details', bad);
}

function checkStrings(value: unknown, where: string, bad: (f: string, w: string) => AuditError): void {
  if (typeof value === 'string' && value.length > MAX_DETAIL_STRING) {
    throw bad(where, `is longer than ${MAX_DETAIL_STRING} characters: the ledger holds metadata, not content`);
  }
  if (Array.isArray(value)) value.forEach((v, i) => checkStrings(v, `${where}[${i}]`, bad));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) checkStrings(v, `${where}.${k}`, bad);
  }
}

/** Builds the body of entry `seq` from an input. */
export function entryBody(input: AuditEntryInput, seq: number, at: Date, prev: string): AuditEntryBody {
  const details: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(input.details ?? {})) if (v !== undefined) details[k] = v;
  return {
    v: AUDIT_FORMAT_VERSION,
    seq,
    at: at.toISOString(),
    actor: input.actor,
    kind: input.kind,
    ...(input.studyId !== undefined ? { studyId: input.studyId } : {}),
    ...(input.siteId !== undefined ? { siteId: input.siteId } : {}),
    ...(input.round !== undefined ? { round: input.round } : {}),
    details,
    prev,
  };
}

/** The body of an entry, without `hash`, `signer` and `sig`. */
export function bodyOf(entry: AuditEntry): AuditEntryBody {
  const { hash: _h, signer: _s, sig: _g, ...body } = entry;
  return body;
}

/** sha256(prev ‖ canonicalJson(body)) in lowercase hex. Throws when the body is not canonical JSON. */
export function entryHash(body: AuditEntryBody): string {
  const canonical = canonicalJson(body);
  if (Buffer.byteLength(canonical) > MAX_ENTRY_BYTES) {
    throw new AuditError('TESSERA_AUDIT_ENTRY_INVALID', `audit entry is larger than ${MAX_ENTRY_BYTES} bytes`, {
      seq: body.seq,
    });
  }
  return createHash('sha256').update(body.prev).update(canonical).digest('hex');
}
