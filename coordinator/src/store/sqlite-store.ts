import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type {
  CommitRoundInput,
  CoordinatorStore,
  ModelVersionRecord,
  PhaseTiming,
  RoundMetrics,
  RoundRecord,
  RoundSiteRecord,
  RoundStatus,
  SiteRecord,
  StudyRecord,
  StudyStatus,
} from './coordinator-store.js';
import { IllegalStateError } from '../../../shared/src/errors.js';
import { ConflictError } from '../errors.js';
import { SqliteDb, type SqlValue } from './sqlite.js';
import { ALLOWED_ROUND_TRANSITIONS, ALLOWED_STUDY_TRANSITIONS, sourcesOf, TERMINAL_ROUND_STATUSES } from './states.js';

/** `?, ?, …` for `n` values. */
function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id TEXT PRIMARY KEY,
  spec_json TEXT NOT NULL,
  status TEXT NOT NULL,
  current_model TEXT NOT NULL,
  completed_rounds INTEGER NOT NULL DEFAULT 0,
  strategy_state BLOB,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  reason TEXT
);
CREATE TABLE IF NOT EXISTS model_versions (
  sha256 TEXT NOT NULL,
  study_id TEXT NOT NULL REFERENCES studies(id),
  round INTEGER NOT NULL,
  num_params INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (study_id, sha256)
);
CREATE TABLE IF NOT EXISTS rounds (
  study_id TEXT NOT NULL REFERENCES studies(id),
  round INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  model_in TEXT NOT NULL,
  model_out TEXT,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  phases_json TEXT NOT NULL DEFAULT '{}',
  metrics_json TEXT,
  train_metrics_json TEXT,
  reason TEXT,
  PRIMARY KEY (study_id, round, attempt)
);
-- A round number can be committed once per study, whatever happens: the crash-consistency invariant.
CREATE UNIQUE INDEX IF NOT EXISTS rounds_committed_once ON rounds(study_id, round) WHERE status = 'committed';
CREATE TABLE IF NOT EXISTS round_sites (
  study_id TEXT NOT NULL,
  round INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  site_id TEXT NOT NULL,
  phase TEXT NOT NULL,
  outcome TEXT NOT NULL,
  num_examples INTEGER NOT NULL,
  loss REAL,
  accuracy REAL,
  update_sha256 TEXT,
  update_bytes INTEGER,
  duration_ms INTEGER,
  reason TEXT,
  PRIMARY KEY (study_id, round, attempt, site_id, phase)
);
CREATE TABLE IF NOT EXISTS sites (
  id TEXT PRIMARY KEY,
  connected INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  backend TEXT NOT NULL,
  agent_version TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  cert_not_after INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
`;

interface StudyRow {
  id: string;
  spec_json: string;
  status: string;
  current_model: string;
  completed_rounds: number;
  created_at: number;
  updated_at: number;
  reason: string | null;
}
interface RoundRow {
  study_id: string;
  round: number;
  attempt: number;
  status: string;
  model_in: string;
  model_out: string | null;
  started_at: number;
  ended_at: number | null;
  phases_json: string;
  metrics_json: string | null;
  train_metrics_json: string | null;
  reason: string | null;
}
interface RoundSiteRow {
  study_id: string;
  round: number;
  attempt: number;
  site_id: string;
  phase: string;
  outcome: string;
  num_examples: number;
  loss: number | null;
  accuracy: number | null;
  update_sha256: string | null;
  update_bytes: number | null;
  duration_ms: number | null;
  reason: string | null;
}
interface SiteRow {
  id: string;
  connected: number;
  first_seen: number;
  last_seen: number;
  backend: string;
  agent_version: string;
  cert_serial: string;
  cert_not_after: number;
}
interface ModelRow {
  sha256: string;
  study_id: string;
  round: number;
  num_params: number;
  created_at: number;
}

function toStudy(row: StudyRow): StudyRecord {
  return {
    id: row.id,
    spec: JSON.parse(row.spec_json) as StudySpec,
    status: row.status as StudyStatus,
    currentModel: row.current_model,
    completedRounds: row.completed_rounds,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    reason: row.reason,
  };
}

function toRound(row: RoundRow): RoundRecord {
  return {
    studyId: row.study_id,
    round: row.round,
    attempt: row.attempt,
    status: row.status as RoundStatus,
    modelIn: row.model_in,
    modelOut: row.model_out,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    phases: JSON.parse(row.phases_json) as Record<string, PhaseTiming>,
    metrics: row.metrics_json == null ? null : (JSON.parse(row.metrics_json) as RoundMetrics),
    trainMetrics: row.train_metrics_json == null ? null : (JSON.parse(row.train_metrics_json) as RoundMetrics),
    reason: row.reason,
  };
}

function toModel(row: ModelRow): ModelVersionRecord {
  return {
    sha256: row.sha256,
    studyId: row.study_id,
    round: row.round,
    numParams: row.num_params,
    createdAt: row.created_at,
  };
}

/** {@link CoordinatorStore} on a SQLite file (WAL, synchronous=FULL) or `:memory:`. */
export class SqliteCoordinatorStore implements CoordinatorStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: SqliteDb) {}

  static async open(file: string): Promise<SqliteCoordinatorStore> {
    const db = await SqliteDb.open(file);
    await db.exec(SCHEMA);
    return new SqliteCoordinatorStore(db);
  }

  /** Serializes writes so a transaction never interleaves with another caller's statements. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  createStudy(spec: StudySpec, initialModel: ModelVersionRecord, now: number): Promise<StudyRecord> {
    return this.serial(async () => {
      const existing = await this.db.get<{ id: string }>('SELECT id FROM studies WHERE id = ?', [spec.id]);
      if (existing) throw new ConflictError('TESSERA_STUDY_CONFLICT', `study ${spec.id} already exists`, { studyId: spec.id });
      await this.db.transaction(async () => {
        await this.db.run(
          `INSERT INTO studies (id, spec_json, status, current_model, completed_rounds, created_at, updated_at)
           VALUES (?, ?, 'created', ?, 0, ?, ?)`,
          [spec.id, JSON.stringify(spec), initialModel.sha256, now, now],
        );
        await this.insertModel(initialModel);
      });
      const study = await this.getStudy(spec.id);
      if (!study) throw new Error(`study ${spec.id} vanished after insert`);
      return study;
    });
  }

  private async insertModel(m: ModelVersionRecord): Promise<void> {
    await this.db.run(
      `INSERT OR IGNORE INTO model_versions (sha256, study_id, round, num_params, created_at) VALUES (?, ?, ?, ?, ?)`,
      [m.sha256, m.studyId, m.round, m.numParams, m.createdAt],
    );
  }

  async getStudy(id: string): Promise<StudyRecord | undefined> {
    const row = await this.db.get<StudyRow>('SELECT * FROM studies WHERE id = ?', [id]);
    return row && toStudy(row);
  }

  async listStudies(): Promise<StudyRecord[]> {
    return (await this.db.all<StudyRow>('SELECT * FROM studies ORDER BY created_at')).map(toStudy);
  }

  setStudyStatus(id: string, status: StudyStatus, now: number, reason?: string): Promise<void> {
    return this.serial(async () => {
      const from = sourcesOf(ALLOWED_STUDY_TRANSITIONS, status);
      const { changes } = await this.db.run(`UPDATE studies SET status = ?, updated_at = ?, reason = ? WHERE id = ? AND status IN (${marks(from.length)})`, [
        status,
        now,
        reason ?? null,
        id,
        ...from,
      ]);
      if (changes !== 1) {
        const row = await this.db.get<{ status: string }>('SELECT status FROM studies WHERE id = ?', [id]);
        throw new IllegalStateError(row ? `study ${id} cannot go from ${row.status} to ${status}` : `no study ${id}`, { studyId: id, to: status });
      }
    });
  }

  setCurrentModel(studyId: string, sha256: string, now: number, reason: string): Promise<void> {
    return this.serial(() =>
      this.db.transaction(async () => {
        const study = await this.db.get<{ status: string; completed_rounds: number }>('SELECT status, completed_rounds FROM studies WHERE id = ?', [studyId]);
        if (!study || (study.status !== 'created' && study.status !== 'paused')) {
          throw new IllegalStateError(study ? `study ${studyId} is ${study.status}; only a created or paused study can change its model version` : `no study ${studyId}`, { studyId });
        }
        const version = await this.db.get<{ round: number }>('SELECT round FROM model_versions WHERE study_id = ? AND sha256 = ? AND round <= ?', [studyId, sha256, study.completed_rounds]);
        if (!version) throw new IllegalStateError(`model version ${sha256} is not one of study ${studyId}'s committed versions`, { studyId });
        await this.db.run(`UPDATE studies SET current_model = ?, updated_at = ?, reason = ? WHERE id = ? AND status IN ('created', 'paused')`, [sha256, now, reason, studyId]);
      }),
    );
  }

  startRound(studyId: string, round: number, modelIn: string, now: number): Promise<RoundRecord> {
    return this.serial(async () => {
      const prev = await this.db.get<{ n: number | null }>(
        'SELECT MAX(attempt) AS n FROM rounds WHERE study_id = ? AND round = ?',
        [studyId, round],
      );
      const attempt = (prev?.n ?? 0) + 1;
      await this.db.run(
        `INSERT INTO rounds (study_id, round, attempt, status, model_in, started_at, phases_json)
         VALUES (?, ?, ?, 'waiting', ?, ?, '{}')`,
        [studyId, round, attempt, modelIn, now],
      );
      const row = await this.db.get<RoundRow>('SELECT * FROM rounds WHERE study_id = ? AND round = ? AND attempt = ?', [
        studyId,
        round,
        attempt,
      ]);
      if (!row) throw new Error('round vanished after insert');
      return toRound(row);
    });
  }

  updateRound(
    studyId: string,
    round: number,
    attempt: number,
    status: RoundStatus,
    phases: Record<string, PhaseTiming>,
  ): Promise<void> {
    return this.serial(async () => {
      const from = sourcesOf(ALLOWED_ROUND_TRANSITIONS, status);
      const { changes } = await this.db.run(
        `UPDATE rounds SET status = ?, phases_json = ? WHERE study_id = ? AND round = ? AND attempt = ? AND status IN (${marks(from.length)})`,
        [status, JSON.stringify(phases), studyId, round, attempt, ...from],
      );
      if (changes !== 1) await this.refuseRound(studyId, round, attempt, status);
    });
  }

  private async refuseRound(studyId: string, round: number, attempt: number, to: string): Promise<never> {
    const row = await this.db.get<{ status: string }>('SELECT status FROM rounds WHERE study_id = ? AND round = ? AND attempt = ?', [studyId, round, attempt]);
    throw new IllegalStateError(
      row ? `round ${round} attempt ${attempt} of ${studyId} cannot go from ${row.status} to ${to}` : `no round ${round} attempt ${attempt} of ${studyId}`,
      { studyId, round, attempt, to },
    );
  }

  recordSiteOutcome(r: RoundSiteRecord): Promise<void> {
    return this.serial(async () => {
      await this.db.run(
        `INSERT OR REPLACE INTO round_sites (study_id, round, attempt, site_id, phase, outcome, num_examples, loss,
           accuracy, update_sha256, update_bytes, duration_ms, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          r.studyId,
          r.round,
          r.attempt,
          r.siteId,
          r.phase,
          r.outcome,
          r.numExamples,
          r.loss,
          r.accuracy,
          r.updateSha256,
          r.updateBytes,
          r.durationMs,
          r.reason,
        ],
      );
    });
  }

  commitRound(input: CommitRoundInput): Promise<void> {
    return this.serial(() =>
      this.db.transaction(async () => {
        const commitFrom = sourcesOf(ALLOWED_ROUND_TRANSITIONS, 'committed');
        await this.insertModel(input.model);
        const { changes } = await this.db.run(
          `UPDATE rounds SET status = 'committed', model_out = ?, ended_at = ?, phases_json = ?, metrics_json = ?,
             train_metrics_json = ? WHERE study_id = ? AND round = ? AND attempt = ? AND status IN (${marks(commitFrom.length)})`,
          [
            input.model.sha256,
            input.now,
            JSON.stringify(input.phases),
            input.metrics == null ? null : JSON.stringify(input.metrics),
            input.trainMetrics == null ? null : JSON.stringify(input.trainMetrics),
            input.studyId,
            input.round,
            input.attempt,
            ...commitFrom,
          ],
        );
        if (changes !== 1) await this.refuseRound(input.studyId, input.round, input.attempt, 'committed');
        const advanced = await this.db.run(
          `UPDATE studies SET current_model = ?, completed_rounds = ?, strategy_state = ?, updated_at = ?
             WHERE id = ? AND completed_rounds = ?`,
          [input.model.sha256, input.round, input.strategyState, input.now, input.studyId, input.round - 1],
        );
        if (advanced.changes !== 1) throw new Error(`study ${input.studyId} is not at round ${input.round - 1}`);
      }),
    );
  }

  failRound(studyId: string, round: number, attempt: number, reason: string, now: number): Promise<void> {
    return this.serial(async () => {
      // From an open status, or from `failed` when the workflow already moved the row there (without an end yet).
      const from = sourcesOf(ALLOWED_ROUND_TRANSITIONS, 'failed');
      const { changes } = await this.db.run(
        `UPDATE rounds SET status = 'failed', ended_at = ?, reason = ? WHERE study_id = ? AND round = ? AND attempt = ?
           AND (status IN (${marks(from.length)}) OR (status = 'failed' AND ended_at IS NULL))`,
        [now, reason, studyId, round, attempt, ...from],
      );
      if (changes !== 1) await this.refuseRound(studyId, round, attempt, 'failed');
    });
  }

  interruptOpenRounds(now: number): Promise<number> {
    return this.serial(async () => {
      const open: SqlValue[] = sourcesOf(ALLOWED_ROUND_TRANSITIONS, 'interrupted').filter((s) => !TERMINAL_ROUND_STATUSES.includes(s));
      const { changes } = await this.db.run(
        `UPDATE rounds SET status = 'interrupted', ended_at = ?, reason = 'coordinator stopped during the round'
           WHERE status IN (${marks(open.length)})`,
        [now, ...open],
      );
      return changes;
    });
  }

  async listRounds(studyId: string): Promise<RoundRecord[]> {
    const rows = await this.db.all<RoundRow>('SELECT * FROM rounds WHERE study_id = ? ORDER BY round, attempt', [
      studyId,
    ]);
    return rows.map(toRound);
  }

  async listRoundSites(studyId: string, round: number, attempt: number): Promise<RoundSiteRecord[]> {
    const rows = await this.db.all<RoundSiteRow>(
      'SELECT * FROM round_sites WHERE study_id = ? AND round = ? AND attempt = ? ORDER BY site_id, phase',
      [studyId, round, attempt],
    );
    return rows.map((r) => ({
      studyId: r.study_id,
      round: r.round,
      attempt: r.attempt,
      siteId: r.site_id,
      phase: r.phase as 'fit' | 'evaluate',
      outcome: r.outcome as RoundSiteRecord['outcome'],
      numExamples: r.num_examples,
      loss: r.loss,
      accuracy: r.accuracy,
      updateSha256: r.update_sha256,
      updateBytes: r.update_bytes,
      durationMs: r.duration_ms,
      reason: r.reason,
    }));
  }

  upsertSite(s: SiteRecord): Promise<void> {
    return this.serial(async () => {
      await this.db.run(
        `INSERT INTO sites (id, connected, first_seen, last_seen, backend, agent_version, cert_serial, cert_not_after)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET connected = excluded.connected, last_seen = excluded.last_seen,
           backend = excluded.backend, agent_version = excluded.agent_version, cert_serial = excluded.cert_serial,
           cert_not_after = excluded.cert_not_after`,
        [s.id, s.connected ? 1 : 0, s.firstSeen, s.lastSeen, s.backend, s.agentVersion, s.certSerial, s.certNotAfter],
      );
    });
  }

  setSiteConnected(id: string, connected: boolean, now: number): Promise<void> {
    return this.serial(async () => {
      await this.db.run('UPDATE sites SET connected = ?, last_seen = ? WHERE id = ?', [connected ? 1 : 0, now, id]);
    });
  }

  async listSites(): Promise<SiteRecord[]> {
    const rows = await this.db.all<SiteRow>('SELECT * FROM sites ORDER BY id');
    return rows.map((r) => ({
      id: r.id,
      connected: r.connected === 1,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      backend: r.backend,
      agentVersion: r.agent_version,
      certSerial: r.cert_serial,
      certNotAfter: r.cert_not_after,
    }));
  }

  async getModelVersion(sha256: string): Promise<ModelVersionRecord | undefined> {
    const row = await this.db.get<ModelRow>('SELECT * FROM model_versions WHERE sha256 = ?', [sha256]);
    return row && toModel(row);
  }

  async listModelVersions(studyId: string): Promise<ModelVersionRecord[]> {
    const rows = await this.db.all<ModelRow>('SELECT * FROM model_versions WHERE study_id = ? ORDER BY round', [
      studyId,
    ]);
    return rows.map(toModel);
  }

  async getStrategyState(studyId: string): Promise<Buffer | null> {
    const row = await this.db.get<{ strategy_state: Buffer | null }>(
      'SELECT strategy_state FROM studies WHERE id = ?',
      [studyId],
    );
    return row?.strategy_state ?? null;
  }

  close(): Promise<void> {
    return this.serial(() => this.db.close());
  }
}
