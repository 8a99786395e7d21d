import { X509Certificate } from 'node:crypto';
import {
  type AuditEntry,
  type AuditEntryInput,
  entryBody,
  entryHash,
  GENESIS_HASH,
  validateEntryInput,
} from './audit-entry.js';
import { canonicalJson } from './canonical-json.js';
import { certificateFingerprint, type LedgerSigner, SIGNATURE_CONTEXT } from './ledger-signer.js';

/** Value of `format` in a ledger file's first line. */
export const LEDGER_FILE_FORMAT = 'tessera-audit-ledger';

/** A certificate that signs entries of a ledger. */
export interface LedgerSignerInfo {
  /** {@link certificateFingerprint}. */
  fingerprint: string;
  /** PEM. */
  certificate: string;
}

/**
 * First line of a ledger file. Not signed itself: a verifier checks each listed certificate against the CA
 * certificate it trusts (its own copy, `--ca`), and every entry's signature against the certificate it names.
 */
export interface LedgerHeader {
  type: 'header';
  format: typeof LEDGER_FILE_FORMAT;
  v: 1;
  /** Whose chain this is: `coordinator:<id>`, `site:<id>`, `ca:<consortium>`. */
  ledger: string;
  signers: LedgerSignerInfo[];
  /** The consortium CA certificate (PEM), for convenience; a verifier SHOULD pin its own copy. */
  ca?: string;
  /**
   * Present when the file holds only the entries matching this filter (a selection): each entry verifies on
   * its own, but nothing can be said about entries left out, and there is no head.
   */
  selection?: Record<string, string | number>;
}

/** The signed part of a head. */
export interface LedgerHeadBody {
  ledger: string;
  /** seq of the last entry (0 for an empty ledger). */
  seq: number;
  /** hash of the last entry ({@link GENESIS_HASH} for an empty ledger). */
  hash: string;
  /** When the head was signed (ISO-8601). */
  at: string;
}

/**
 * A signed statement "this ledger has `seq` entries and ends with `hash`". An export ends with one, signed at
 * export time, so cutting lines off the end of a file (the head with them) is detected.
 */
export interface LedgerHead extends LedgerHeadBody {
  type: 'head';
  signer: string;
  sig: string;
}

/** Seals `input` as entry `seq` after `prev`: validates it, hashes it and signs the hash. */
export function sealEntry(input: AuditEntryInput, seq: number, prev: string, at: Date, signer: LedgerSigner): AuditEntry {
  validateEntryInput(input);
  const body = entryBody(input, seq, at, prev);
  const hash = entryHash(body);
  return { ...body, hash, signer: signer.fingerprint, sig: signer.sign(SIGNATURE_CONTEXT.entry, hash) };
}

/** Signs a head for a ledger whose last entry is `last` (or an empty one). */
export function signHead(ledger: string, last: Pick<AuditEntry, 'seq' | 'hash'> | null, at: Date, signer: LedgerSigner): LedgerHead {
  const body: LedgerHeadBody = { ledger, seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS_HASH, at: at.toISOString() };
  return { type: 'head', ...body, signer: signer.fingerprint, sig: signer.sign(SIGNATURE_CONTEXT.head, headMessage(body)) };
}

/** The canonical string a head signature covers. */
export function headMessage(head: LedgerHeadBody): string {
  return canonicalJson({ ledger: head.ledger, seq: head.seq, hash: head.hash, at: head.at });
}

/** Builds a header from signer certificates (deduplicated) and the CA certificate. */
export function ledgerHeader(
  ledger: string,
  signerCertificates: readonly string[],
  caPem?: string,
  selection?: Record<string, string | number>,
): LedgerHeader {
  const signers = new Map<string, LedgerSignerInfo>();
  for (const pem of signerCertificates) {
    const certificate = new X509Certificate(pem).toString();
    signers.set(certificateFingerprint(certificate), { fingerprint: certificateFingerprint(certificate), certificate });
  }
  return {
    type: 'header',
    format: LEDGER_FILE_FORMAT,
    v: 1,
    ledger,
    signers: [...signers.values()],
    ...(caPem !== undefined ? { ca: new X509Certificate(caPem).toString() } : {}),
    ...(selection !== undefined ? { selection } : {}),
  };
}

/** One JSONL line (with its newline) for an entry: fields in a fixed, readable order. */
export function entryLine(e: AuditEntry): string {
  const line = {
    type: 'entry',
    v: e.v,
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    kind: e.kind,
    ...(e.studyId !== undefined ? { studyId: e.studyId } : {}),
    ...(e.siteId !== undefined ? { siteId: e.siteId } : {}),
    ...(e.round !== undefined ? { round: e.round } : {}),
    details: e.details,
    prev: e.prev,
    hash: e.hash,
    signer: e.signer,
    sig: e.sig,
  };
  return `${JSON.stringify(line)}\n`;
}

/** One JSONL line for a header or head. */
export function recordLine(record: LedgerHeader | LedgerHead): string {
  return `${JSON.stringify(record)}\n`;
}

/** A whole ledger file: header, entries, head. */
export function ledgerJsonl(header: LedgerHeader, entries: Iterable<AuditEntry>, head: LedgerHead): string {
  let out = recordLine(header);
  for (const e of entries) out += entryLine(e);
  return out + recordLine(head);
}

/** Column order of {@link entriesCsv}. */
export const CSV_COLUMNS = ['seq', 'at', 'actor', 'kind', 'studyId', 'siteId', 'round', 'details', 'prev', 'hash', 'signer', 'sig'] as const;

function csvCell(value: string): string {
  // Cells starting with = + - @ are neutralised: spreadsheets would run them as formulas (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One CSV row (with its CRLF line end) for an entry; `details` as canonical JSON. */
export function entryCsvRow(e: AuditEntry): string {
  const cells = [
    String(e.seq),
    e.at,
    e.actor,
    e.kind,
    e.studyId ?? '',
    e.siteId ?? '',
    e.round === undefined ? '' : String(e.round),
    canonicalJson(e.details),
    e.prev,
    e.hash,
    e.signer,
    e.sig,
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** The CSV header row. */
export function csvHeaderRow(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

/** Entries as CSV (RFC 4180, CRLF), for spreadsheets; the JSONL export is the verifiable form. */
export function entriesCsv(entries: Iterable<AuditEntry>): string {
  let out = csvHeaderRow();
  for (const e of entries) out += entryCsvRow(e);
  return out;
}

