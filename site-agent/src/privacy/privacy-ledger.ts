import sqlite3 from 'sqlite3';

/** One study's entry in a site's ε ledger. */
export interface LedgerEntry {
  studyId: string;
  /** ε spent so far on this study, from the site's accountant over all the DP-SGD steps run. */
  epsilon: number;
  delta: number;
  accountant: string;
  noiseMultiplier: number;
  samplingRate: number;
  /** DP-SGD steps run so far (all fits of the study at this site). */
  steps: number;
  /** Fits run (rounds, retried attempts included). */
  rounds: number;
  updatedAt: number;
}

interface Row {
  study_id: string;
  epsilon: number;
  delta: number;
  accountant: string;
  noise_multiplier: number;
  sampling_rate: number;
  steps: number;
  rounds: number;
  updated_at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS privacy_ledger (
  study_id TEXT PRIMARY KEY,
  epsilon REAL NOT NULL,
  delta REAL NOT NULL,
  accountant TEXT NOT NULL,
  noise_multiplier REAL NOT NULL,
  sampling_rate REAL NOT NULL,
  steps INTEGER NOT NULL,
  rounds INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);`;

const fromRow = (r: Row): LedgerEntry => ({
  studyId: r.study_id,
  epsilon: r.epsilon,
  delta: r.delta,
  accountant: r.accountant,
  noiseMultiplier: r.noise_multiplier,
  samplingRate: r.sampling_rate,
  steps: r.steps,
  rounds: r.rounds,
  updatedAt: r.updated_at,
});

/**
 * The site's ε ledger in SQLite (WAL, synchronous FULL): what each study has spent on this site's
 * records. A spend is recorded *before* the noisy training it pays for, so a crash can only
 * over-count, never under-count. Holds identifiers and numbers only, never data or weights.
 */
export class PrivacyLedger {
  private constructor(private readonly db: sqlite3.Database) {}

  static async open(file: string): Promise<PrivacyLedger> {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const handle = new sqlite3.Database(file, (err) => (err ? reject(err) : resolve(handle)));
    });
    const ledger = new PrivacyLedger(db);
    db.configure('busyTimeout', 5000);
    await ledger.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; ${SCHEMA}`);
    return ledger;
  }

  private exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  async entries(): Promise<LedgerEntry[]> {
    const rows = await new Promise<Row[]>((resolve, reject) =>
      this.db.all('SELECT * FROM privacy_ledger ORDER BY study_id', (err: Error | null, r: Row[]) => (err ? reject(err) : resolve(r))),
    );
    return rows.map(fromRow);
  }

  async get(studyId: string): Promise<LedgerEntry | undefined> {
    const row = await new Promise<Row | undefined>((resolve, reject) =>
      this.db.get('SELECT * FROM privacy_ledger WHERE study_id = ?', [studyId], (err: Error | null, r: Row | undefined) => (err ? reject(err) : resolve(r))),
    );
    return row === undefined ? undefined : fromRow(row);
  }

  /** Writes a study's entry (durably, before returning). */
  async record(e: LedgerEntry): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.db.run(
        `INSERT INTO privacy_ledger (study_id, epsilon, delta, accountant, noise_multiplier, sampling_rate, steps, rounds, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(study_id) DO UPDATE SET epsilon = excluded.epsilon, delta = excluded.delta, accountant = excluded.accountant,
           noise_multiplier = excluded.noise_multiplier, sampling_rate = excluded.sampling_rate, steps = excluded.steps,
           rounds = excluded.rounds, updated_at = excluded.updated_at`,
        [e.studyId, e.epsilon, e.delta, e.accountant, e.noiseMultiplier, e.samplingRate, e.steps, e.rounds, e.updatedAt],
        (err: Error | null) => (err ? reject(err) : resolve()),
      ),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}
