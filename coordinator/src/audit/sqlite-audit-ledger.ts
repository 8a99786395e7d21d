import {
  type AuditEntry,
  type AuditEntryInput,
  csvHeaderRow,
  entryCsvRow,
  entryLine,
  GENESIS_HASH,
  ledgerHeader,
  type LedgerHead,
  type LedgerSigner,
  type LedgerVerification,
  recordLine,
  sealEntry,
  signHead,
  verifyLedger,
} from '../../../shared/src/audit/index.js';
import { AuditError } from '../../../shared/src/errors.js';
import { SqliteDb, type SqlValue } from '../store/sqlite.js';
import {
  type AuditFilter,
  type AuditHeadInfo,
  type AuditLedger,
  type AuditPage,
  type AuditPageRequest,
  MAX_AUDIT_PAGE,
} from './audit-ledger.js';

// The table is append-only: triggers refuse UPDATE and DELETE, so neither Tessera nor a stray SQL session
// can rewrite history through SQLite (someone editing the file's bytes is caught by verification instead).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_entries (
  seq INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  study_id TEXT,
  site_id TEXT,
  hash TEXT NOT NULL UNIQUE,
  entry_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_study ON audit_entries(study_id, seq);
CREATE INDEX IF NOT EXISTS audit_entries_site ON audit_entries(site_id, seq);
CREATE INDEX IF NOT EXISTS audit_entries_at ON audit_entries(at_ms);
CREATE TABLE IF NOT EXISTS audit_signers (
  fingerprint TEXT PRIMARY KEY,
  certificate TEXT NOT NULL,
  first_seq INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'TESSERA_AUDIT_APPEND_ONLY: audit entries cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'TESSERA_AUDIT_APPEND_ONLY: audit entries cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_signers_no_update BEFORE UPDATE ON audit_signers
  BEGIN SELECT RAISE(ABORT, 'TESSERA_AUDIT_APPEND_ONLY: audit signers cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_signers_no_delete BEFORE DELETE ON audit_signers
  BEGIN SELECT RAISE(ABORT, 'TESSERA_AUDIT_APPEND_ONLY: audit signers cannot be deleted'); END;
`;

/** Options for {@link SqliteAuditLedger.open}. */
export interface SqliteAuditLedgerOptions {
  /** The coordinator's SQLite file (`coordinator.sqlite`), or `:memory:`. */
  file: string;
  /** `coordinator:<coordinatorId>`. */
  name: string;
  /** Signs new entries; null opens the ledger read-only (`tessera audit` reading a stopped coordinator's file). */
  signer: LedgerSigner | null;
  /** The consortium CA certificate (PEM): in export headers, and what {@link SqliteAuditLedger.verify} trusts. */
  caPem: string;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

interface EntryRow {
  seq: number;
  entry_json: string;
}

/** Rows are read in pages of this many while exporting, so a long ledger never sits in memory at once. */
const EXPORT_BATCH = 500;

/** {@link AuditLedger} in the coordinator's SQLite database (its own connection; WAL makes that safe). */
export class SqliteAuditLedger implements AuditLedger {
  private queue: Promise<unknown> = Promise.resolve();
  private last: { seq: number; hash: string; at: string | null } | undefined;

  private constructor(
    private readonly db: SqliteDb,
    private readonly options: SqliteAuditLedgerOptions,
  ) {}

  get name(): string {
    return this.options.name;
  }

  static async open(options: SqliteAuditLedgerOptions): Promise<SqliteAuditLedger> {
    const db = await SqliteDb.open(options.file);
    await db.exec(SCHEMA);
    const ledger = new SqliteAuditLedger(db, options);
    if (options.signer !== null) {
      await db.run('INSERT OR IGNORE INTO audit_signers (fingerprint, certificate, first_seq) VALUES (?, ?, ?)', [
        options.signer.fingerprint,
        options.signer.certificatePem,
        (await ledger.head()).seq + 1,
      ]);
    }
    return ledger;
  }

  append(input: AuditEntryInput): Promise<AuditEntry> {
    const run = this.queue.then(() => this.appendNow(input));
    // Keep the queue going after a failed append; the caller sees the error.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(input: AuditEntryInput): Promise<AuditEntry> {
    const signer = this.options.signer;
    if (signer === null) throw new AuditError('TESSERA_AUDIT_LEDGER_INVALID', `${this.options.name} ledger was opened read-only`);
    return this.db.transaction(async () => {
      // Read the tail inside the write transaction: correct even if another process appended meanwhile.
      const tail = await this.db.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1');
      const now = (this.options.now ?? Date.now)();
      const entry = sealEntry(input, (tail?.seq ?? 0) + 1, tail?.hash ?? GENESIS_HASH, new Date(now), signer);
      await this.db.run(
        'INSERT INTO audit_entries (seq, at_ms, actor, kind, study_id, site_id, hash, entry_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [entry.seq, now, entry.actor, entry.kind, entry.studyId ?? null, entry.siteId ?? null, entry.hash, JSON.stringify(entry)],
      );
      this.last = { seq: entry.seq, hash: entry.hash, at: entry.at };
      return entry;
    });
  }

  private where(filter: AuditFilter, afterSeq: number): { sql: string; params: SqlValue[] } {
    const clauses = ['seq > ?'];
    const params: SqlValue[] = [afterSeq];
    const add = (clause: string, value: SqlValue | undefined): void => {
      if (value === undefined) return;
      clauses.push(clause);
      params.push(value);
    };
    add('study_id = ?', filter.studyId);
    add('site_id = ?', filter.siteId);
    add('actor = ?', filter.actor);
    add('kind = ?', filter.kind);
    add('at_ms >= ?', filter.fromMs);
    add('at_ms < ?', filter.toMs);
    return { sql: clauses.join(' AND '), params };
  }

  private async rows(filter: AuditFilter, afterSeq: number, limit: number): Promise<AuditEntry[]> {
    const { sql, params } = this.where(filter, afterSeq);
    const rows = await this.db.all<EntryRow>(`SELECT seq, entry_json FROM audit_entries WHERE ${sql} ORDER BY seq LIMIT ?`, [...params, limit]);
    return rows.map((r) => JSON.parse(r.entry_json) as AuditEntry);
  }

  async list(filter: AuditFilter = {}, page: AuditPageRequest = {}): Promise<AuditPage> {
    const limit = Math.max(1, Math.min(MAX_AUDIT_PAGE, Math.floor(page.limit ?? 100)));
    const entries = await this.rows(filter, page.afterSeq ?? 0, limit + 1);
    const more = entries.length > limit;
    if (more) entries.pop();
    return { entries, nextAfterSeq: more ? (entries.at(-1)?.seq ?? null) : null };
  }

  async head(): Promise<AuditHeadInfo> {
    await this.queue;
    if (this.last && this.options.signer !== null) return { ...this.last };
    const tail = await this.db.get<EntryRow>('SELECT seq, entry_json FROM audit_entries ORDER BY seq DESC LIMIT 1');
    if (!tail) return { seq: 0, hash: GENESIS_HASH, at: null };
    const e = JSON.parse(tail.entry_json) as AuditEntry;
    return { seq: e.seq, hash: e.hash, at: e.at };
  }

  async signedHead(): Promise<LedgerHead> {
    const signer = this.options.signer;
    if (signer === null) throw new AuditError('TESSERA_AUDIT_LEDGER_INVALID', `${this.options.name} ledger was opened read-only: no key to sign a head`);
    const head = await this.head();
    return signHead(this.options.name, head.seq === 0 ? null : head, new Date((this.options.now ?? Date.now)()), signer);
  }

  private async signerCertificates(): Promise<string[]> {
    const rows = await this.db.all<{ certificate: string }>('SELECT certificate FROM audit_signers ORDER BY first_seq');
    return rows.map((r) => r.certificate);
  }

  async *exportJsonl(filter: AuditFilter = {}): AsyncIterable<string> {
    const selection = selectionOf(filter);
    // Fix the end first: entries appended while exporting belong to the next export, not half to this one.
    const head = selection === undefined ? await this.signedHead() : undefined;
    const end = head?.seq ?? Number.MAX_SAFE_INTEGER;
    yield recordLine(ledgerHeader(this.options.name, await this.signerCertificates(), this.options.caPem, selection));
    for await (const e of this.batches(filter, end)) yield entryLine(e);
    if (head !== undefined) yield recordLine(head);
  }

  async *exportCsv(filter: AuditFilter = {}): AsyncIterable<string> {
    yield csvHeaderRow();
    for await (const e of this.batches(filter, Number.MAX_SAFE_INTEGER)) yield entryCsvRow(e);
  }

  private async *batches(filter: AuditFilter, endSeq: number): AsyncIterable<AuditEntry> {
    let after = 0;
    for (;;) {
      const batch = (await this.rows(filter, after, EXPORT_BATCH)).filter((e) => e.seq <= endSeq);
      for (const e of batch) yield e;
      const lastSeq = batch.at(-1)?.seq;
      if (batch.length < EXPORT_BATCH || lastSeq === undefined) return;
      after = lastSeq;
    }
  }

  async verify(): Promise<LedgerVerification> {
    let text = '';
    if (this.options.signer === null) {
      // Read-only: verify the stored chain without a fresh head.
      text += recordLine(ledgerHeader(this.options.name, await this.signerCertificates(), this.options.caPem));
      for await (const e of this.batches({}, Number.MAX_SAFE_INTEGER)) text += entryLine(e);
      return verifyLedger(text, { caPem: this.options.caPem, requireHead: false }).report;
    }
    for await (const line of this.exportJsonl()) text += line;
    return verifyLedger(text, { caPem: this.options.caPem }).report;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.db.close();
  }
}

/** The filter as a header `selection`, or undefined when it selects everything. */
function selectionOf(filter: AuditFilter): Record<string, string | number> | undefined {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(filter)) if (v !== undefined) out[k] = v as string | number;
  return Object.keys(out).length === 0 ? undefined : out;
}
