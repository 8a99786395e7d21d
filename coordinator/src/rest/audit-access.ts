/**
 * What the REST API needs from the audit ledger: filtered entries, the raw export and an offline-style
 * verification of the whole chain. The ledger itself lives in coordinator/src/audit; this is the read side the
 * routes and the dashboard use, so that the API does not depend on how the ledger stores entries.
 */
export interface AuditFilter {
  studyId?: string;
  siteId?: string;
  actor?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, inclusive. */
  until?: number;
  limit?: number;
}

/** One ledger entry as the API shows it: flat fields for filtering and CSV, `details` for the rest. */
export interface AuditEntryView {
  seq: number;
  /** ISO-8601. */
  at: string;
  actor: string;
  kind: string;
  studyId: string | null;
  siteId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
  signature: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** The first entry that fails (seq), when not ok. */
  firstBad: number | null;
  reason: string | null;
  /** ISO-8601 of the check. */
  checkedAt: string;
}

export interface AuditAccess {
  list(filter: AuditFilter): Promise<AuditEntryView[]>;
  /** The whole ledger as the JSONL `tessera audit export` writes (one entry per line with hash and signature). */
  exportJsonl(): Promise<string>;
  verify(): Promise<AuditVerification>;
  /** Records a REST-side security event (e.g. a refused login); best effort. */
  record?(event: { kind: string; actor: string; details: Record<string, unknown> }): Promise<void>;
}

const CSV_COLUMNS = ['seq', 'at', 'actor', 'kind', 'studyId', 'siteId', 'details', 'prevHash', 'hash', 'signature'] as const;

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  // Quote every cell; neutralise spreadsheet formulas (CSV injection) by prefixing a quote mark.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

/** RFC 4180 CSV of audit entries (header row, CRLF line ends). */
export function auditCsv(entries: readonly AuditEntryView[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of entries) lines.push(CSV_COLUMNS.map((c) => csvCell(e[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
