import { IllegalStateError } from '../../../shared/src/errors.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import { ConflictError } from '../errors.js';
import type {
  CommitRoundInput,
  CoordinatorStore,
  ModelVersionRecord,
  PhaseTiming,
  RoundRecord,
  RoundSiteRecord,
  RoundStatus,
  SiteRecord,
  StudyRecord,
  StudyStatus,
} from './coordinator-store.js';
import { ALLOWED_ROUND_TRANSITIONS, ALLOWED_STUDY_TRANSITIONS, isAllowed, TERMINAL_ROUND_STATUSES } from './states.js';

/** A deep copy, so callers never hold the store's own objects. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * {@link CoordinatorStore} in memory: the twin of SqliteCoordinatorStore for unit tests of the round core,
 * held to the same contract suite (test/contract/coordinator-store.contract.test.ts). Nothing survives the
 * process; a coordinator restart is modelled by keeping the instance and calling `interruptOpenRounds`.
 */
export class MemoryCoordinatorStore implements CoordinatorStore {
  private readonly studies = new Map<string, StudyRecord & { strategyState: Buffer | null }>();
  private readonly rounds: RoundRecord[] = [];
  private readonly roundSites = new Map<string, RoundSiteRecord>();
  private readonly sites = new Map<string, SiteRecord>();
  /** By study, then sha256 (a version is a study's own, as the SQLite table's key says). */
  private readonly models = new Map<string, Map<string, ModelVersionRecord>>();
  private closed = false;

  private open(): void {
    if (this.closed) throw new Error('the memory store is closed');
  }

  createStudy(spec: StudySpec, initialModel: ModelVersionRecord, now: number): Promise<StudyRecord> {
    this.open();
    if (this.studies.has(spec.id)) return Promise.reject(new ConflictError('TESSERA_STUDY_CONFLICT', `study ${spec.id} already exists`, { studyId: spec.id }));
    const study = { id: spec.id, spec: copy(spec), status: 'created' as const, currentModel: initialModel.sha256, completedRounds: 0, createdAt: now, updatedAt: now, reason: null, strategyState: null };
    this.studies.set(spec.id, study);
    this.insertModel(initialModel);
    return this.getStudy(spec.id) as Promise<StudyRecord>;
  }

  private insertModel(m: ModelVersionRecord): void {
    const versions = this.models.get(m.studyId) ?? new Map<string, ModelVersionRecord>();
    if (!versions.has(m.sha256)) versions.set(m.sha256, copy(m));
    this.models.set(m.studyId, versions);
  }

  private view(s: StudyRecord & { strategyState: Buffer | null }): StudyRecord {
    const { strategyState: _state, ...study } = s;
    return copy(study);
  }

  getStudy(id: string): Promise<StudyRecord | undefined> {
    const s = this.studies.get(id);
    return Promise.resolve(s && this.view(s));
  }

  listStudies(): Promise<StudyRecord[]> {
    return Promise.resolve([...this.studies.values()].sort((a, b) => a.createdAt - b.createdAt).map((s) => this.view(s)));
  }

  setStudyStatus(id: string, status: StudyStatus, now: number, reason?: string): Promise<void> {
    this.open();
    const s = this.studies.get(id);
    if (!s) return Promise.reject(new IllegalStateError(`no study ${id}`, { studyId: id, to: status }));
    if (!isAllowed(ALLOWED_STUDY_TRANSITIONS, s.status, status)) {
      return Promise.reject(new IllegalStateError(`study ${id} cannot go from ${s.status} to ${status}`, { studyId: id, to: status }));
    }
    s.status = status;
    s.updatedAt = now;
    s.reason = reason ?? null;
    return Promise.resolve();
  }

  setCurrentModel(studyId: string, sha256: string, now: number, reason: string): Promise<void> {
    this.open();
    const s = this.studies.get(studyId);
    if (!s || (s.status !== 'created' && s.status !== 'paused')) {
      return Promise.reject(new IllegalStateError(s ? `study ${studyId} is ${s.status}; only a created or paused study can change its model version` : `no study ${studyId}`, { studyId }));
    }
    const version = this.models.get(studyId)?.get(sha256);
    if (!version || version.round > s.completedRounds) return Promise.reject(new IllegalStateError(`model version ${sha256} is not one of study ${studyId}'s committed versions`, { studyId }));
    Object.assign(s, { currentModel: sha256, updatedAt: now, reason });
    return Promise.resolve();
  }

  private findRound(studyId: string, round: number, attempt: number): RoundRecord | undefined {
    return this.rounds.find((r) => r.studyId === studyId && r.round === round && r.attempt === attempt);
  }

  private refuse(studyId: string, round: number, attempt: number, to: RoundStatus): Promise<never> {
    const r = this.findRound(studyId, round, attempt);
    return Promise.reject(
      new IllegalStateError(r ? `round ${round} attempt ${attempt} of ${studyId} cannot go from ${r.status} to ${to}` : `no round ${round} attempt ${attempt} of ${studyId}`, {
        studyId,
        round,
        attempt,
        to,
      }),
    );
  }

  startRound(studyId: string, round: number, modelIn: string, now: number): Promise<RoundRecord> {
    this.open();
    if (!this.studies.has(studyId)) return Promise.reject(new Error(`FOREIGN KEY constraint failed: no study ${studyId}`));
    const attempt = Math.max(0, ...this.rounds.filter((r) => r.studyId === studyId && r.round === round).map((r) => r.attempt)) + 1;
    const record: RoundRecord = { studyId, round, attempt, status: 'waiting', modelIn, modelOut: null, startedAt: now, endedAt: null, phases: {}, metrics: null, trainMetrics: null, reason: null };
    this.rounds.push(record);
    return Promise.resolve(copy(record));
  }

  updateRound(studyId: string, round: number, attempt: number, status: RoundStatus, phases: Record<string, PhaseTiming>): Promise<void> {
    this.open();
    const r = this.findRound(studyId, round, attempt);
    if (!r || !isAllowed(ALLOWED_ROUND_TRANSITIONS, r.status, status)) return this.refuse(studyId, round, attempt, status);
    r.status = status;
    r.phases = copy(phases);
    return Promise.resolve();
  }

  recordSiteOutcome(record: RoundSiteRecord): Promise<void> {
    this.open();
    this.roundSites.set(JSON.stringify([record.studyId, record.round, record.attempt, record.siteId, record.phase]), copy(record));
    return Promise.resolve();
  }

  commitRound(input: CommitRoundInput): Promise<void> {
    this.open();
    const r = this.findRound(input.studyId, input.round, input.attempt);
    if (!r || !isAllowed(ALLOWED_ROUND_TRANSITIONS, r.status, 'committed')) return this.refuse(input.studyId, input.round, input.attempt, 'committed');
    if (this.rounds.some((x) => x.studyId === input.studyId && x.round === input.round && x.status === 'committed')) {
      return Promise.reject(new Error(`UNIQUE constraint failed: round ${input.round} of ${input.studyId} is already committed`));
    }
    const study = this.studies.get(input.studyId);
    if (!study || study.completedRounds !== input.round - 1) return Promise.reject(new Error(`study ${input.studyId} is not at round ${input.round - 1}`));
    // All checks passed: apply everything (atomic, as nothing below can fail).
    this.insertModel(input.model);
    Object.assign(r, { status: 'committed', modelOut: input.model.sha256, endedAt: input.now, phases: copy(input.phases), metrics: copy(input.metrics), trainMetrics: copy(input.trainMetrics) });
    Object.assign(study, { currentModel: input.model.sha256, completedRounds: input.round, strategyState: input.strategyState && Buffer.from(input.strategyState), updatedAt: input.now });
    return Promise.resolve();
  }

  failRound(studyId: string, round: number, attempt: number, reason: string, now: number): Promise<void> {
    this.open();
    const r = this.findRound(studyId, round, attempt);
    const allowed = r && (isAllowed(ALLOWED_ROUND_TRANSITIONS, r.status, 'failed') || (r.status === 'failed' && r.endedAt === null));
    if (!r || !allowed) return this.refuse(studyId, round, attempt, 'failed');
    Object.assign(r, { status: 'failed', endedAt: now, reason });
    return Promise.resolve();
  }

  interruptOpenRounds(now: number): Promise<number> {
    this.open();
    let n = 0;
    for (const r of this.rounds) {
      if (TERMINAL_ROUND_STATUSES.includes(r.status)) continue;
      Object.assign(r, { status: 'interrupted', endedAt: now, reason: 'coordinator stopped during the round' });
      n++;
    }
    return Promise.resolve(n);
  }

  listRounds(studyId: string): Promise<RoundRecord[]> {
    return Promise.resolve(
      this.rounds
        .filter((r) => r.studyId === studyId)
        .sort((a, b) => a.round - b.round || a.attempt - b.attempt)
        .map(copy),
    );
  }

  listRoundSites(studyId: string, round: number, attempt: number): Promise<RoundSiteRecord[]> {
    return Promise.resolve(
      [...this.roundSites.values()]
        .filter((r) => r.studyId === studyId && r.round === round && r.attempt === attempt)
        .sort((a, b) => (a.siteId < b.siteId ? -1 : a.siteId > b.siteId ? 1 : a.phase < b.phase ? -1 : a.phase > b.phase ? 1 : 0))
        .map(copy),
    );
  }

  upsertSite(site: SiteRecord): Promise<void> {
    this.open();
    const previous = this.sites.get(site.id);
    this.sites.set(site.id, { ...copy(site), firstSeen: previous?.firstSeen ?? site.firstSeen });
    return Promise.resolve();
  }

  setSiteConnected(id: string, connected: boolean, now: number): Promise<void> {
    this.open();
    const s = this.sites.get(id);
    if (s) Object.assign(s, { connected, lastSeen: now });
    return Promise.resolve();
  }

  listSites(): Promise<SiteRecord[]> {
    return Promise.resolve([...this.sites.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(copy));
  }

  getModelVersion(sha256: string): Promise<ModelVersionRecord | undefined> {
    for (const versions of this.models.values()) {
      const m = versions.get(sha256);
      if (m) return Promise.resolve(copy(m));
    }
    return Promise.resolve(undefined);
  }

  listModelVersions(studyId: string): Promise<ModelVersionRecord[]> {
    return Promise.resolve([...(this.models.get(studyId)?.values() ?? [])].sort((a, b) => a.round - b.round).map(copy));
  }

  getStrategyState(studyId: string): Promise<Buffer | null> {
    const s = this.studies.get(studyId)?.strategyState;
    return Promise.resolve(s ? Buffer.from(s) : null);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
