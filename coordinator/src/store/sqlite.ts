import sqlite3 from 'sqlite3';

export type SqlValue = string | number | bigint | Buffer | null;

/** A small promise wrapper over the `sqlite3` package; one connection, statements serialized. */
export class SqliteDb {
  private constructor(private readonly db: sqlite3.Database) {}

  /** Opens (or creates) a database file, or `:memory:`, with WAL and foreign keys on. */
  static async open(file: string): Promise<SqliteDb> {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const handle = new sqlite3.Database(file, (err) => (err ? reject(err) : resolve(handle)));
    });
    // One statement at a time per connection. In node-sqlite3's default parallel mode a read could still hold its
    // WAL snapshot while a BEGIN IMMEDIATE on the same connection tries to write; once another connection (the
    // audit ledger's, on the same file) has committed, that upgrade fails at once with SQLITE_BUSY, without the busy
    // timeout. SQLite serialises a connection internally anyway, so this costs no real concurrency.
    db.serialize();
    const wrapped = new SqliteDb(db);
    // Generous: with 100 sites connecting at once on a loaded host, the store's and the audit ledger's
    // connections queue many FULL-sync commits, and 5 s was seen to run out (SQLITE_BUSY on site records).
    db.configure('busyTimeout', 30_000);
    if (file !== ':memory:') await wrapped.exec('PRAGMA journal_mode = WAL');
    // FULL sync: a committed round must survive kill -9 and power loss.
    await wrapped.exec('PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON');
    return wrapped;
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return new Promise((resolve, reject) => {
      this.db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes });
      });
    });
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) =>
      this.db.get(sql, params, (err: Error | null, row: T | undefined) => (err ? reject(err) : resolve(row))),
    );
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return new Promise((resolve, reject) =>
      this.db.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows))),
    );
  }

  /** Runs `fn` inside BEGIN IMMEDIATE … COMMIT, rolling back on error. Callers must not interleave. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn();
      await this.exec('COMMIT');
      return result;
    } catch (err) {
      await this.exec('ROLLBACK');
      throw err;
    }
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}
