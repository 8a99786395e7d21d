import type { AuditEntry, AuditEntryInput, LedgerHead, LedgerVerification } from '../../../shared/src/audit/index.js';

/** Filter for {@link AuditLedger.list} and the exports; every field narrows (AND). */
export interface AuditFilter {
  studyId?: string;
  siteId?: string;
  /** Exact actor, e.g. `coordinator:coordinator`, `site:site-1`, `operator:alice`. */
  actor?: string;
  /** Exact kind, e.g. `data.received`. */
  kind?: string;
  /** Entries at or after this time (epoch ms). */
  fromMs?: number;
  /** Entries strictly before this time (epoch ms). */
  toMs?: number;
}

/** Paging for {@link AuditLedger.list}: keyset on `seq`, stable while entries are appended. */
export interface AuditPageRequest {
  /** Return entries with `seq` greater than this (the previous page's `nextAfterSeq`). @default 0 */
  afterSeq?: number;
  /** Page size. @default 100, at most {@link MAX_AUDIT_PAGE} */
  limit?: number;
}

/** Largest page {@link AuditLedger.list} returns. */
export const MAX_AUDIT_PAGE = 1000;

/** One page of entries, oldest first. */
export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `afterSeq` for the next page; null when this was the last. */
  nextAfterSeq: number | null;
}

/** The last entry of a ledger (seq 0 and the genesis hash when empty). */
export interface AuditHeadInfo {
  seq: number;
  hash: string;
  /** ISO-8601 time of the last entry, null when empty. */
  at: string | null;
}

/**
 * The coordinator's tamper-evident audit ledger: an append-only, hash-chained sequence of entries, each
 * signed with the coordinator's key (see docs/explanation/audit-ledger.md).
 *
 * Implementations MUST:
 * - assign `seq` 1, 2, 3, … with no gaps and chain each entry to the previous one's hash, also when appends
 *   are called concurrently (they are serialised in call order);
 * - never update or delete an entry once appended (the SQLite implementation refuses it with triggers);
 * - take time from the injected clock, never from the entry input;
 * - return entries from {@link list} and the exports exactly as sealed (hash and signature unchanged).
 */
export interface AuditLedger {
  /** Ledger name: `coordinator:<coordinatorId>`. */
  readonly name: string;
  /** Seals, signs and durably appends one entry. Throws AuditError `TESSERA_AUDIT_ENTRY_INVALID` for bad input. */
  append(input: AuditEntryInput): Promise<AuditEntry>;
  /** Entries matching `filter`, oldest first, one page at a time. */
  list(filter?: AuditFilter, page?: AuditPageRequest): Promise<AuditPage>;
  /** The last entry's seq and hash. */
  head(): Promise<AuditHeadInfo>;
  /** A head signed now: the statement an export ends with. */
  signedHead(): Promise<LedgerHead>;
  /**
   * The ledger as JSONL, line by line (each string ends with `\n`). Without a filter: the whole chain, a
   * header and a signed head — the file `tessera audit verify` checks. With a filter: a *selection*, whose
   * header says so; each entry still verifies alone (hash and signature) but the selection proves nothing
   * about entries left out.
   */
  exportJsonl(filter?: AuditFilter): AsyncIterable<string>;
  /** Entries matching `filter` as CSV rows (header row first, CRLF line ends). */
  exportCsv(filter?: AuditFilter): AsyncIterable<string>;
  /** Verifies the stored chain as an export would be verified (against the coordinator's own CA). */
  verify(): Promise<LedgerVerification>;
}
