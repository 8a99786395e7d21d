import { checkStudyStrategy } from './strategies/create-strategy.js';
import { checkStudyDataContract } from './study-data-check.js';
import { checkStudySecureAggregation } from './rounds/secagg-workflow.js';
import { checkStudyCohort } from './rounds/cohort.js';
import { resolveStudyPrivacyOffThread } from '../../shared/src/dp/study-privacy-thread.js';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CoordinatorConfig } from '../../shared/src/config/coordinator-config.js';
import { errorMessage, IdentityError, IllegalStateError, TesseraError } from '../../shared/src/errors.js';
import type { Logger } from '../../shared/src/logging.js';
import { getModelSpec } from '../../shared/src/ml/model-registry.js';
import { encodeWeights, initialExchangedWeights } from '../../shared/src/ml/weights.js';
import { RevocationStore, verifyPeerCertificate } from '../../shared/src/pki/index.js';
import type { StudySpec } from '../../shared/src/study/study-spec.js';
import type { RoundDeps } from './rounds/round-workflow.js';
import { currentAuditActor, runAsAuditActor } from './audit/audit-actor.js';
import { AuditKind } from '../../shared/src/audit/index.js';
import type { AuditLedger } from './audit/audit-ledger.js';
import { CoordinatorAudit } from './audit/coordinator-audit.js';
import { createFederationHandlers, type PeerAuthenticator, studyParticipants } from './grpc/federation-endpoint.js';
import { GrpcSiteChannel } from './grpc/grpc-site-channel.js';
import { startGrpcServer, type RunningGrpcServer } from './grpc/server.js';
import { CoordinatorMetrics } from './observability/metrics.js';
import type { CoordinatorEvent, EventSink } from './rounds/events.js';
import { runStudy } from './rounds/study-runner.js';
import { rollBackStudy } from './rounds/model-recovery.js';
import { SiteSessions } from './sessions/site-sessions.js';
import { ModelRepository, UploadStore } from './store/blob-store.js';
import type { CoordinatorStore, StudyRecord } from './store/coordinator-store.js';
import { SqliteCoordinatorStore } from './store/sqlite-store.js';
import { isTerminalStudyStatus } from './store/states.js';
import { ConflictError } from './errors.js';

export interface CoordinatorOptions {
  config: CoordinatorConfig;
  /** Folder that relative paths in `config` are resolved against. */
  baseDir: string;
  logger: Logger;
  /** Clock (epoch ms); tests inject one. @default Date.now */
  now?: () => number;
  onEvent?: (event: CoordinatorEvent) => void;
  /** See {@link RoundDeps.onSecureSum}. */
  onSecureSum?: RoundDeps['onSecureSum'];
}

/** Why a study's run was stopped by an operator (the abort reason of its controller). */
type StopRequest = 'pause' | 'abort';

interface StudyRun {
  readonly controller: AbortController;
  readonly done: Promise<StudyRecord>;
}

/** Authenticates callers with the consortium CA, the live revocation list and the `site` role. */
export function createSiteAuthenticator(caPem: string, revocations: RevocationStore | undefined, now: () => number): PeerAuthenticator {
  return {
    authenticate(certDer, claimedSiteId) {
      if (certDer === undefined) {
        throw new IdentityError('TESSERA_IDENTITY_UNAUTHENTICATED', 'no client certificate was presented');
      }
      const who = verifyPeerCertificate({
        certDer,
        caCertPem: caPem,
        now: new Date(now()),
        expectedRole: 'site',
        ...(revocations ? { revocations } : {}),
        ...(claimedSiteId !== undefined ? { claimedId: claimedSiteId } : {}),
      });
      return { siteId: who.id, serial: who.serial, notAfter: who.notAfter.getTime() };
    },
  };
}

/**
 * The coordinator process: gRPC endpoint (mTLS), SQLite store, model repository and the study runner.
 * Start-up marks rounds left open by a crash as `interrupted`; `runStudy` then continues each study from
 * its last committed model version.
 */
export class Coordinator {
  private readonly abort = new AbortController();
  private readonly listeners = new Set<EventSink>();
  private readonly runs = new Map<string, StudyRun>();

  private constructor(
    readonly store: CoordinatorStore,
    readonly sessions: SiteSessions,
    readonly models: ModelRepository,
    private readonly uploads: UploadStore,
    private readonly server: RunningGrpcServer,
    private readonly revocations: RevocationStore | undefined,
    /** Expected update size per open fit task, shared with the upload endpoint's shape check. */
    private readonly expectedUpdates: Map<string, number>,
    private readonly options: CoordinatorOptions,
    readonly metrics: CoordinatorMetrics,
    /** Folder of the SQLite file, model versions and uploads. */
    readonly dataDir: string,
    /** The consortium CA certificate (PEM) the coordinator trusts. */
    readonly caPem: string,
    private readonly auditing: CoordinatorAudit,
    /** Store writes made when a stream ends (site disconnects); close() waits for them. */
    private readonly pendingWrites: Set<Promise<void>>,
  ) {}

  /** The signed audit ledger (list, head, export, verify); see coordinator/src/audit/audit-ledger.ts. */
  get audit(): AuditLedger {
    return this.auditing.ledger;
  }

  /** Records security events of the REST API (logins, refusals) in the ledger. */
  get auditTrail(): CoordinatorAudit {
    return this.auditing;
  }

  /** The revocation list in force, when one is configured (the REST API refuses tokens of revoked operators). */
  get revocationStore(): RevocationStore | undefined {
    return this.revocations;
  }

  /** Adds a listener for every coordinator event (dashboard stream, metrics); returns an unsubscribe function. */
  subscribe(listener: EventSink): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: CoordinatorEvent): void {
    const { logger } = this.options;
    this.metrics.observeEvent(e);
    if (e.type === 'round-committed' || e.type === 'round-failed') void this.observeRound(e.studyId, e.round, e.attempt);
    for (const fn of [...(this.options.onEvent ? [this.options.onEvent] : []), ...this.listeners]) {
      try {
        fn(e);
      } catch (err) {
        logger.error({ err: errorMessage(err) }, 'event listener failed');
      }
    }
  }

  private async observeRound(studyId: string, round: number, attempt: number): Promise<void> {
    try {
      const r = (await this.store.listRounds(studyId)).find((x) => x.round === round && x.attempt === attempt);
      if (r) this.metrics.observeRound(r.status, r.startedAt, r.endedAt, r.phases);
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'round metrics not recorded');
    }
  }

  /** gRPC port actually bound (useful with port 0). */
  get port(): number {
    return this.server.port;
  }

  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    const { config, baseDir, logger } = options;
    const now = options.now ?? Date.now;
    const resolve = (p: string): string => path.resolve(baseDir, p);
    const dataDir = resolve(config.dataDir);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const caPem = readFileSync(resolve(config.tls.ca), 'utf8');
    const auditing = await CoordinatorAudit.open({
      config,
      databaseFile: path.join(dataDir, 'coordinator.sqlite'),
      caPem,
      certPem: readFileSync(resolve(config.tls.cert), 'utf8'),
      keyPem: readFileSync(resolve(config.tls.key)),
      certPath: resolve(config.tls.cert),
      logger,
      now,
    });
    const store = auditing.wrapStore(await SqliteCoordinatorStore.open(path.join(dataDir, 'coordinator.sqlite')));
    const interrupted = await store.interruptOpenRounds(now());
    if (interrupted > 0) logger.warn({ rounds: interrupted }, 'found rounds left open by a previous run; marked interrupted');
    const revocations =
      config.tls.revocations === undefined
        ? undefined
        : RevocationStore.open({
            path: resolve(config.tls.revocations),
            caCertPem: caPem,
            onError: (err) => logger.error({ code: err.code, reason: err.message }, 'revocation list not reloaded'),
            onReload: (list) => auditing.revocationsLoaded(list, false),
          });
    // A site whose stream ends is dropped from its round unless it is back within the grace; one closed for missed
    // heartbeats (possibly only busy training) keeps its task's deadline.
    const heartbeatTimeoutMs = config.heartbeatTimeoutMs ?? config.heartbeatIntervalMs * 4;
    const sessions = new SiteSessions(logger, now, { reconnectGraceMs: Math.max(5_000, heartbeatTimeoutMs), silentAfterMs: heartbeatTimeoutMs });
    const metrics = new CoordinatorMetrics(() => sessions.connectedSites().length);
    const auditedAuth = auditing.wrapAuthenticator(createSiteAuthenticator(caPem, revocations, now));
    const models = new ModelRepository(path.join(dataDir, 'models'));
    const uploads = new UploadStore(path.join(dataDir, 'uploads'));
    const expected = new Map<string, number>();
    const pendingWrites = new Set<Promise<void>>();
    const handlers = createFederationHandlers({
      track: (write) => {
        pendingWrites.add(write);
        void write.finally(() => pendingWrites.delete(write));
      },
      sessions,
      uploads,
      models,
      store,
      auth: {
        authenticate(certDer, claimedSiteId) {
          try {
            return auditedAuth.authenticate(certDer, claimedSiteId);
          } catch (err) {
            metrics.refusals.inc({ source: 'grpc', reason: err instanceof TesseraError ? err.code : 'TESSERA_IDENTITY_UNKNOWN' });
            throw err;
          }
        },
      },
      onBytes: (direction, bytes) => metrics.bytes.inc({ direction }, bytes),
      logger,
      coordinatorId: config.coordinatorId,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      ...(config.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: config.heartbeatTimeoutMs } : {}),
      expectedUpdateBytes: (taskId) => expected.get(taskId),
      onRefusal: (r) => auditing.recordRefusal({ source: 'grpc', ...r }),
      mayFetchModel: studyParticipants(store, (siteId, version) => sessions.hasOpenTaskOnModel(siteId, version)),
      now,
    });
    const server = await startGrpcServer({
      handlers,
      caPem: Buffer.from(caPem),
      certPem: readFileSync(resolve(config.tls.cert)),
      keyPem: readFileSync(resolve(config.tls.key)),
      host: config.listen.host,
      port: config.listen.port,
      logger,
      onTlsRefusal: (r) => auditing.recordRefusal({ source: 'tls', ...r }),
    });
    logger.info({ host: config.listen.host, port: server.port, dataDir }, 'coordinator listening (mTLS)');
    await auditing.recordStart(server.port);
    if (revocations) auditing.revocationsLoaded(revocations.list, true);
    const coordinator = new Coordinator(store, sessions, models, uploads, server, revocations, expected, options, metrics, dataDir, caPem, auditing, pendingWrites);
    // Events carry what the store does not (a site's ε after a DP round).
    coordinator.subscribe((e) => auditing.observeEvent(e));
    await coordinator.resumeRunning();
    return coordinator;
  }

  /**
   * Creates the study (idempotent for the same id and contract) with its initial model version.
   * @throws ConflictError (`TESSERA_STUDY_CONFLICT`) when the id exists with a different contract.
   */
  async createStudy(input: StudySpec): Promise<StudyRecord> {
    // DP studies get their noise multiplier calibrated (and checked) here, whoever creates them.
    const spec = await resolveStudyPrivacyOffThread(input);
    checkStudyStrategy(spec);
    checkStudyDataContract(spec);
    checkStudySecureAggregation(spec);
    checkStudyCohort(spec);
    const existing = await this.store.getStudy(spec.id);
    if (existing) {
      // The one "study already exists" check (REST and CLI both come here): same contract is idempotent.
      if (JSON.stringify(existing.spec) !== JSON.stringify(spec)) {
        throw new ConflictError('TESSERA_STUDY_CONFLICT', `study ${spec.id} already exists with a different contract`, { studyId: spec.id });
      }
      return existing;
    }
    const modelSpec = getModelSpec(spec.model);
    // Under FedBN the published model leaves out the batch-normalisation weights each site keeps.
    const weights = initialExchangedWeights(modelSpec, spec.inputDim, spec.seed, spec.training.fedBn === true);
    const sha = await this.models.put(encodeWeights(weights));
    const now = (this.options.now ?? Date.now)();
    return this.store.createStudy(spec, { sha256: sha, studyId: spec.id, round: 0, numParams: weights.length, createdAt: now }, now);
  }

  /**
   * Runs (or resumes) a study to its end; resolves with its final record, or with its record at the moment an
   * operator paused or aborted it. Calling it while the study runs returns the same promise.
   */
  runStudy(studyId: string): Promise<StudyRecord> {
    const running = this.runs.get(studyId);
    if (running) return running.done;
    const { logger } = this.options;
    const controller = new AbortController();
    // The run belongs to the coordinator, not to whoever asked for it: without this, an operator's REST request
    // that started it would be named as the actor of every round entry the run appends.
    const done = runAsAuditActor(`coordinator:${this.options.config.coordinatorId}`, () => runStudy(
      {
        store: this.store,
        sites: new GrpcSiteChannel(this.sessions),
        models: this.models,
        uploads: this.uploads,
        logger,
        emit: (e) => this.emit(e),
        now: this.options.now ?? Date.now,
        expectUpdate: (taskId, bytes) => {
          if (bytes === undefined) this.expectedUpdates.delete(taskId);
          else this.expectedUpdates.set(taskId, bytes);
        },
        signal: this.abort.signal,
        stop: controller.signal,
        caCertPem: this.caPem,
        ...(this.options.onSecureSum ? { onSecureSum: this.options.onSecureSum } : {}),
      },
      studyId,
    ))
      .then((record) => this.afterRun(studyId, controller, record))
      .finally(() => this.runs.delete(studyId));
    this.runs.set(studyId, { controller, done });
    return done;
  }

  /** Applies an operator's pause or abort once the runner has stopped at a safe point. */
  private async afterRun(studyId: string, controller: AbortController, record: StudyRecord): Promise<StudyRecord> {
    const request = controller.signal.aborted ? (controller.signal.reason as StopRequest) : undefined;
    if (request === undefined || this.abort.signal.aborted) return record;
    const current = (await this.store.getStudy(studyId)) ?? record;
    if (isTerminalStudyStatus(current.status)) return current;
    const now = (this.options.now ?? Date.now)();
    if (request === 'pause') {
      await this.store.setStudyStatus(studyId, 'paused', now, 'paused by an operator');
      this.emit({ type: 'study-paused', studyId, completedRounds: current.completedRounds });
    } else {
      await this.store.setStudyStatus(studyId, 'aborted', now, 'aborted by an operator');
      this.emit({ type: 'study-finished', studyId, status: 'aborted', reason: 'aborted by an operator' });
    }
    return (await this.store.getStudy(studyId)) ?? current;
  }

  /**
   * Resumes, in the background, every study a previous process left `running`, whichever route started it
   * (REST, CLI): the runner continues from its last committed round. Called once by {@link create}.
   */
  private async resumeRunning(): Promise<void> {
    for (const study of await this.store.listStudies()) {
      if (study.status !== 'running' || this.runs.has(study.id)) continue;
      this.options.logger.info({ studyId: study.id, completedRounds: study.completedRounds }, 'resuming a study left running by the previous process');
      this.runStudy(study.id).catch((err: unknown) => {
        this.options.logger.error({ studyId: study.id, err: errorMessage(err) }, 'study run failed');
      });
    }
  }

  /**
   * Rolls a paused study whose current model version cannot be read back to its newest readable committed
   * version (coordinator/src/rounds/model-recovery.ts); resume it afterwards with {@link startStudy}.
   */
  async rollbackStudy(studyId: string): Promise<StudyRecord> {
    if (this.runs.has(studyId)) throw new IllegalStateError(`study ${studyId} is running; pause it first`, { studyId });
    const before = await this.requireStudy(studyId);
    const to = await rollBackStudy(this.store, this.models, studyId, (this.options.now ?? Date.now)(), this.options.logger);
    // The model lineage changed: the ledger says from which version to which, and by whom (the current actor).
    await this.audit.append({
      actor: currentAuditActor(`coordinator:${this.options.config.coordinatorId}`),
      kind: AuditKind.StudyStatus,
      studyId,
      details: { status: 'paused', rolledBackFrom: before.currentModel, rolledBackTo: to.sha256, toRound: to.round },
    });
    return this.requireStudy(studyId);
  }

  /** True while the study's runner is active in this process. */
  isRunning(studyId: string): boolean {
    return this.runs.has(studyId);
  }

  /**
   * Starts (or resumes) a study in the background. Throws IllegalStateError when it already finished or is
   * already running. Failures of the run itself end up in the study's status, not here.
   */
  async startStudy(studyId: string): Promise<StudyRecord> {
    const study = await this.requireStudy(studyId);
    if (isTerminalStudyStatus(study.status)) {
      throw new IllegalStateError(`study ${studyId} is ${study.status}; it cannot be started again`, { studyId, status: study.status });
    }
    if (this.runs.has(studyId)) {
      throw new IllegalStateError(`study ${studyId} is already running`, { studyId, status: study.status });
    }
    this.runStudy(studyId).catch((err: unknown) => {
      this.options.logger.error({ studyId, err: errorMessage(err) }, 'study run failed');
    });
    return study;
  }

  /**
   * Asks a running study to stop at the next safe point: immediately while it waits for sites (or backs off
   * between attempts), otherwise once the round in flight has committed or failed (a round is never cut in half). `pause` can be resumed with
   * {@link startStudy}; `abort` is final. Resolves when the request is registered, not when the run has stopped.
   */
  async stopStudy(studyId: string, request: StopRequest): Promise<StudyRecord> {
    const study = await this.requireStudy(studyId);
    const run = this.runs.get(studyId);
    if (run) {
      if (!run.controller.signal.aborted) run.controller.abort(request);
      return study;
    }
    if (request === 'abort' && !isTerminalStudyStatus(study.status)) {
      // Not running in this process (never started, paused, or left over from a previous run): abort directly.
      const now = (this.options.now ?? Date.now)();
      await this.store.setStudyStatus(studyId, 'aborted', now, 'aborted by an operator');
      this.emit({ type: 'study-finished', studyId, status: 'aborted', reason: 'aborted by an operator' });
      return (await this.store.getStudy(studyId)) ?? study;
    }
    throw new IllegalStateError(`study ${studyId} is ${study.status}, not running; nothing to ${request}`, {
      studyId,
      status: study.status,
    });
  }

  private async requireStudy(studyId: string): Promise<StudyRecord> {
    const study = await this.store.getStudy(studyId);
    if (!study) throw new IllegalStateError(`no study ${studyId}`, { studyId });
    return study;
  }

  /** Connected-session details of a site (live last-seen), when it is connected to this process. */
  liveSession(siteId: string): { lastSeen: number; connectedAt: number } | undefined {
    const s = this.sessions.get(siteId);
    return s ? { lastSeen: s.lastSeen, connectedAt: s.connectedAt } : undefined;
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.sessions.cancelAll('coordinator shutting down');
    await this.server.close();
    // Streams cut by the shutdown end on later ticks; their disconnect records must land before the store closes.
    for (let i = 0; i < 100 && this.sessions.connectedSites().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await Promise.allSettled([...this.pendingWrites]);
    await this.uploads.close();
    await this.auditing.recordStop();
    await this.auditing.close();
    await this.store.close();
  }
}
