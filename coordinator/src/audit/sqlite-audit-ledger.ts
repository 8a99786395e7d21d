import type { AuditEntry } from '../../../shared/src/audit/index.js';
import { SqliteDb, type SqlValue } from '../store/sqlite.js';
import type { AuditFilter } from './audit-ledger.js';
import { type AuditLedgerOptions, BaseAuditLedger } from './base-audit-ledger.js';

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
export interface SqliteAuditLedgerOptions extends AuditLedgerOptions {
  /** The coordinator's SQLite file (`coordinator.sqlite`), or `:memory:`. */
  file: string;
}

interface EntryRow {
  entry_json: string;
}

/**
 * {@link AuditLedger} in the coordinator's SQLite database, on its own connection (WAL makes two
 * connections to one file safe; each append is a `BEGIN IMMEDIATE` transaction with `synchronous=FULL`).
 * Entries are stored exactly as sealed (`entry_json`), with the filter columns beside them.
 */
export class SqliteAuditLedger extends BaseAuditLedger {
  private constructor(
    private readonly db: SqliteDb,
    options: SqliteAuditLedgerOptions,
  ) {
    super(options);
  }

  static async open(options: SqliteAuditLedgerOptions): Promise<SqliteAuditLedger> {
    const db = await SqliteDb.open(options.file);
    await db.exec(SCHEMA);
    const ledger = new SqliteAuditLedger(db, options);
    if (options.signer !== null) {
      await db.run('INSERT OR IGNORE INTO audit_signers (fingerprint, certificate, first_seq) VALUES (?, ?, ?)', [
        options.signer.fingerprint,
        options.signer.certificatePem,
        ((await ledger.tail())?.seq ?? 0) + 1,
      ]);
    }
    return ledger;
  }

  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  protected tail(): Promise<{ seq: number; hash: string } | undefined> {
    return this.db.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1');
  }

  protected async insert(entry: AuditEntry, atMs: number): Promise<void> {
    await this.db.run(
      'INSERT INTO audit_entries (seq, at_ms, actor, kind, study_id, site_id, hash, entry_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [entry.seq, atMs, entry.actor, entry.kind, entry.studyId ?? null, entry.siteId ?? null, entry.hash, JSON.stringify(entry)],
    );
  }

  protected async query(filter: AuditFilter, afterSeq: number, limit: number): Promise<AuditEntry[]> {
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
    const rows = await this.db.all<EntryRow>(`SELECT entry_json FROM audit_entries WHERE ${clauses.join(' AND ')} ORDER BY seq LIMIT ?`, [...params, limit]);
    return rows.map((r) => JSON.parse(r.entry_json) as AuditEntry);
  }

  protected async last(): Promise<AuditEntry | undefined> {
    const row = await this.db.get<EntryRow>('SELECT entry_json FROM audit_entries ORDER BY seq DESC LIMIT 1');
    return row === undefined ? undefined : (JSON.parse(row.entry_json) as AuditEntry);
  }

  protected async signerCertificates(): Promise<string[]> {
    const rows = await this.db.all<{ certificate: string }>('SELECT certificate FROM audit_signers ORDER BY first_seq');
    return rows.map((r) => r.certificate);
  }

  /** Runs raw SQL on the ledger's connection. @internal for tests of the append-only triggers */
  rawRun(sql: string): Promise<{ changes: number }> {
    return this.db.run(sql);
  }

  async close(): Promise<void> {
    await this.drain();
    await this.db.close();
  }
}
