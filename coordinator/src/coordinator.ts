import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CoordinatorConfig } from '../../shared/src/config/coordinator-config.js';
import { errorMessage, IdentityError } from '../../shared/src/errors.js';
import type { Logger } from '../../shared/src/logging.js';
import { getModelSpec } from '../../shared/src/ml/model-registry.js';
import { encodeWeights, initialWeights } from '../../shared/src/ml/weights.js';
import { RevocationStore, verifyPeerCertificate } from '../../shared/src/pki/index.js';
import type { StudySpec } from '../../shared/src/study/study-spec.js';
import type { AuditLedger } from './audit/audit-ledger.js';
import { CoordinatorAudit } from './audit/coordinator-audit.js';
import { createFederationHandlers, type PeerAuthenticator } from './grpc/federation-endpoint.js';
import { startGrpcServer, type RunningGrpcServer } from './grpc/server.js';
import type { CoordinatorEvent } from './rounds/events.js';
import { runStudy } from './rounds/study-runner.js';
import { SiteSessions } from './sessions/site-sessions.js';
import { ModelRepository, UploadStore } from './store/blob-store.js';
import type { CoordinatorStore, StudyRecord } from './store/coordinator-store.js';
import { SqliteCoordinatorStore } from './store/sqlite-store.js';

export interface CoordinatorOptions {
  config: CoordinatorConfig;
  /** Folder that relative paths in `config` are resolved against. */
  baseDir: string;
  logger: Logger;
  /** Clock (epoch ms); tests inject one. @default Date.now */
  now?: () => number;
  onEvent?: (event: CoordinatorEvent) => void;
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
    private readonly auditing: CoordinatorAudit,
  ) {}

  /** The signed audit ledger (list, head, export, verify); see coordinator/src/audit/audit-ledger.ts. */
  get audit(): AuditLedger {
    return this.auditing.ledger;
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
    const sessions = new SiteSessions(logger, now);
    const models = new ModelRepository(path.join(dataDir, 'models'));
    const uploads = new UploadStore(path.join(dataDir, 'uploads'));
    const expected = new Map<string, number>();
    const handlers = createFederationHandlers({
      sessions,
      uploads,
      models,
      store,
      auth: auditing.wrapAuthenticator(createSiteAuthenticator(caPem, revocations, now)),
      logger,
      coordinatorId: config.coordinatorId,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      expectedUpdateBytes: (taskId) => expected.get(taskId),
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
    });
    logger.info({ host: config.listen.host, port: server.port, dataDir }, 'coordinator listening (mTLS)');
    await auditing.recordStart(server.port);
    if (revocations) auditing.revocationsLoaded(revocations.list, true);
    return new Coordinator(store, sessions, models, uploads, server, revocations, expected, options, auditing);
  }

  /** Creates the study (idempotent for the same id and spec) with its initial model version. */
  async createStudy(spec: StudySpec): Promise<StudyRecord> {
    const existing = await this.store.getStudy(spec.id);
    if (existing) {
      if (JSON.stringify(existing.spec) !== JSON.stringify(spec)) {
        throw new Error(`study ${spec.id} already exists with a different spec`);
      }
      return existing;
    }
    const modelSpec = getModelSpec(spec.model);
    const weights = initialWeights(modelSpec, spec.inputDim, spec.seed);
    const sha = await this.models.put(encodeWeights(weights));
    const now = (this.options.now ?? Date.now)();
    return this.store.createStudy(spec, { sha256: sha, studyId: spec.id, round: 0, numParams: weights.length, createdAt: now }, now);
  }

  /** Runs (or resumes) a study to its end; resolves with its final record. */
  runStudy(studyId: string): Promise<StudyRecord> {
    const { logger } = this.options;
    return runStudy(
      {
        store: this.store,
        sessions: this.sessions,
        models: this.models,
        uploads: this.uploads,
        logger,
        emit: (e) => {
          try {
            this.options.onEvent?.(e);
          } catch (err) {
            logger.error({ err: errorMessage(err) }, 'event listener failed');
          }
        },
        now: this.options.now ?? Date.now,
        expectUpdate: (taskId, bytes) => {
          if (bytes === undefined) this.expectedUpdates.delete(taskId);
          else this.expectedUpdates.set(taskId, bytes);
        },
        signal: this.abort.signal,
      },
      studyId,
    );
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.sessions.cancelAll('coordinator shutting down');
    await this.server.close();
    await this.auditing.recordStop();
    await this.auditing.close();
    await this.store.close();
  }
}
