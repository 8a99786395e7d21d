import type * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CoordinatorMessage__Output } from '../../protos/gen/tessera/v1/CoordinatorMessage.js';
import type { FederationClient } from '../../protos/gen/tessera/v1/Federation.js';
import type { SiteMessage } from '../../protos/gen/tessera/v1/SiteMessage.js';
import { SiteKitSchema, type AgentConfig, type SiteKit } from '../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../shared/src/config/validate.js';
import type { SiteDataset } from './hospital/datasets/index.js';
import { errorMessage, TesseraError } from '../../shared/src/errors.js';
import type { Logger } from '../../shared/src/logging.js';
import { selectBackend, type BackendName } from '../../shared/src/ml/index.js';
import { isRetryable } from '../../shared/src/transport/grpc-errors.js';
import { PROTOCOL_VERSION } from '../../shared/src/transport/proto.js';
import { SiteLedger } from './audit/site-ledger.js';
import { createFederationClient } from './coordinator-client.js';
import { loadLocalDataset } from './hospital/local-data.js';
import { openEmrSource, openImagingSource, type StudyDataSource } from './hospital/study-data/study-source.js';
import { NamedLexiconLabeler } from './hospital/reports/index.js';
import { PrivacyPolicySchema } from '../../shared/src/config/privacy-policy.js';
import { PrivacyGuard } from './privacy/privacy-guard.js';
import { PrivacyLedger } from './privacy/privacy-ledger.js';
import { TaskRunner, toPrivacySpend, type TaskRunnerDeps } from './task-runner.js';

export const AGENT_VERSION = '0.1.0';

export interface SiteAgentOptions {
  config: AgentConfig;
  /** Folder that relative paths in `config` are resolved against. */
  baseDir: string;
  logger: Logger;
  /** See {@link TaskRunnerDeps.onFitDone}. */
  onFitDone?: TaskRunnerDeps['onFitDone'];
  /** See {@link TaskRunnerDeps.secaggAuditDir}. */
  secaggAuditDir?: string;
}

/** Exponential backoff with full jitter, capped. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/**
 * The site agent: loads local data, dials out to the coordinator over mTLS, keeps the control stream
 * alive with heartbeats, runs tasks one at a time, and reconnects with backoff whenever the stream drops.
 */
export class SiteAgent {
  private client: FederationClient | undefined;
  private stopped = false;
  private stream: grpc.ClientDuplexStream<SiteMessage, CoordinatorMessage__Output> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private runner!: TaskRunner;
  backend: BackendName = 'cpu';

  private constructor(
    private readonly options: SiteAgentOptions,
    readonly kit: SiteKit,
    private readonly kitDir: string,
    readonly datasets: ReadonlyMap<string, SiteDataset>,
    /** Records that studies with a `data:` contract are evaluated on, by dataset name. */
    readonly studySources: ReadonlyMap<string, StudyDataSource>,
    /** The site's signed audit ledger of what it received and sent. */
    readonly ledger: SiteLedger,
    /** The site's privacy policy and ε ledger; undefined without a `privacy` section. */
    readonly privacy: PrivacyGuard | undefined,
  ) {}

  get siteId(): string {
    return this.kit.siteId;
  }

  /** Loads the kit and every configured dataset (bad rows are reported and skipped) and picks the TF.js backend. */
  static async create(options: SiteAgentOptions): Promise<SiteAgent> {
    const { config, baseDir, logger } = options;
    const kitDir = path.resolve(baseDir, config.kit);
    const kitFile = path.join(kitDir, 'kit.json');
    const kit = parseConfigText(SiteKitSchema, readFileSync(kitFile, 'utf8'), kitFile);
    const datasets = new Map<string, SiteDataset>();
    const studySources = new Map<string, StudyDataSource>();
    // EMR datasets first: an imaging dataset may take its cohort and labels from one (`emr:`).
    const ordered = Object.entries(config.datasets).sort(([, a], [, b]) => Number(!('kind' in a && a.kind === 'emr')) - Number(!('kind' in b && b.kind === 'emr')));
    for (const [name, cfg] of ordered) {
      if ('kind' in cfg && cfg.kind === 'emr') {
        try {
          const source = await openEmrSource(name, cfg, baseDir, logger);
          studySources.set(name, source);
        } catch (err) {
          // A bad mapping file or an unreadable export stops this dataset, not the agent.
          logger.error({ dataset: name, code: err instanceof TesseraError ? err.code : undefined, reason: errorMessage(err) }, 'EMR dataset not loaded');
        }
        continue;
      }
      try {
        const ds = await loadLocalDataset(name, cfg, baseDir, logger, config.sources);
        const r = ds.report;
        logger.info(
          { dataset: name, rowsRead: r.rowsRead, rowsAccepted: r.rowsAccepted, rowsRejected: r.rowsRejected, train: ds.train.n, test: ds.test.n, features: ds.train.d },
          'dataset loaded',
        );
        for (const p of r.problems.slice(0, 20)) logger.warn({ dataset: name, line: p.line, column: p.column, reason: p.reason }, 'row skipped');
        datasets.set(name, ds);
      } catch (err) {
        const code = err instanceof TesseraError ? err.code : undefined;
        if ('kind' in cfg && cfg.kind === 'imaging-study' && code === 'TESSERA_INPUT_NO_ROWS') {
          // No image carries a label of its own: the study's `data:` contract gives cohort and labels.
          logger.info({ dataset: name }, 'imaging dataset has no labelled images of its own; it serves studies that declare data:');
        } else {
          // One bad dataset does not stop the agent: studies on it are refused with the reason.
          logger.error({ dataset: name, code, reason: errorMessage(err) }, 'dataset not loaded');
        }
      }
      if ('kind' in cfg && cfg.kind === 'imaging-study') {
        // The same cache serves studies whose labels and cohort come from a `data:` contract.
        try {
          const linked = cfg.emr !== undefined ? config.datasets[cfg.emr] : undefined;
          const emrInput = linked !== undefined && 'kind' in linked && linked.kind === 'emr' ? linked.input : undefined;
          // `pull: study`: each study's cohort drives the PACS pull (only its patients' studies are fetched).
          const pull = { sources: config.sources, logger, ...(emrInput !== undefined ? { emrInput } : {}) };
          studySources.set(name, await openImagingSource(name, cfg, baseDir, cfg.emr !== undefined ? studySources.get(cfg.emr) : undefined, pull));
        } catch (err) {
          logger.error({ dataset: name, code: err instanceof TesseraError ? err.code : undefined, reason: errorMessage(err) }, 'imaging dataset not usable for study contracts');
        }
      }
    }
    let privacy: PrivacyGuard | undefined;
    if (config.privacy) {
      // The site's own privacy policy: a bad file stops the agent (it must not train without its limits).
      const policyFile = path.resolve(baseDir, config.privacy.policy);
      const policy = parseConfigText(PrivacyPolicySchema, readFileSync(policyFile, 'utf8'), policyFile);
      const privacyLedger = await PrivacyLedger.open(path.resolve(baseDir, config.privacy.ledger ?? 'privacy-ledger.sqlite'));
      privacy = await PrivacyGuard.create(policy, privacyLedger);
      const spent = privacy.snapshot();
      logger.info(
        { policy: policyFile, maxEpsilonPerStudy: policy.maxEpsilonPerStudy, maxEpsilonTotal: policy.maxEpsilonTotal, studies: spent.length, epsilonSpent: spent.reduce((a, e) => a + e.epsilon, 0) },
        'privacy policy loaded',
      );
    }
    const ledger = SiteLedger.open({
      kit,
      kitDir,
      logger,
      ...(config.auditLedger !== undefined ? { file: path.resolve(baseDir, config.auditLedger) } : {}),
    });
    const agent = new SiteAgent(options, kit, kitDir, datasets, studySources, ledger, privacy);
    const selection = await selectBackend({ ...(config.backend ? { prefer: config.backend } : {}), logger });
    agent.backend = selection.backend;
    ledger.started({ agentVersion: AGENT_VERSION, backend: agent.backend, coordinator: config.coordinator ?? kit.coordinator, datasets: [...datasets.keys()] });
    return agent;
  }

  /** Connects and serves until {@link stop}. Never throws for network trouble: it reconnects. */
  async run(): Promise<void> {
    const { config, logger } = this.options;
    const address = config.coordinator ?? this.kit.coordinator;
    const read = (p: string): Buffer => readFileSync(path.resolve(this.kitDir, p));
    this.client = createFederationClient(address, { ca: read(this.kit.ca), key: read(this.kit.key), cert: read(this.kit.certificate) }, config.reconnect);
    this.runner = new TaskRunner({
      client: this.client,
      siteId: this.siteId,
      datasets: this.datasets,
      studySources: this.studySources,
      // Study contracts whose label or cohort reads report text label it here, with the shipped lexicons.
      reportLabeler: await NamedLexiconLabeler.create(),
      policy: config.policy,
      backend: this.backend,
      logger,
      ...(this.privacy ? { privacy: this.privacy } : {}),
      send: (m) => this.send(m),
      identity: { certificatePem: read(this.kit.certificate).toString('utf8'), keyPem: read(this.kit.key).toString('utf8'), caCertPem: read(this.kit.ca).toString('utf8') },
      ...(this.options.onFitDone ? { onFitDone: this.options.onFitDone } : {}),
      ...(this.options.secaggAuditDir !== undefined ? { secaggAuditDir: this.options.secaggAuditDir } : {}),
      fedBnStateDir: config.fedBnState !== undefined ? path.resolve(this.options.baseDir, config.fedBnState) : path.join(this.kitDir, 'fedbn'),
    });
    let attempt = 0;
    while (!this.stopped) {
      const connectedAt = Date.now();
      const code = await this.session();
      if (this.stopped) break;
      if (Date.now() - connectedAt > 10_000) attempt = 0;
      const delay = backoffDelay(attempt++, config.reconnect.initialDelayMs, config.reconnect.maxDelayMs);
      logger.info({ code, delayMs: delay }, 'control stream closed; reconnecting after backoff');
      if (code !== undefined && !isRetryable(code)) logger.warn({ code }, 'coordinator refused the stream; will keep retrying');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private send(message: SiteMessage): boolean {
    const s = this.stream;
    if (!s || s.writableEnded || s.destroyed) return false;
    s.write(message);
    this.ledger.sent(message);
    return true;
  }

  /** One connection of the control stream; resolves with the status code when it ends. */
  private session(): Promise<grpc.status | undefined> {
    const { logger } = this.options;
    const client = this.client;
    if (!client) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const stream = client.Connect();
      this.stream = stream;
      let settled = false;
      const finish = (code: grpc.status | undefined): void => {
        if (settled) return;
        settled = true;
        clearInterval(this.heartbeat);
        if (this.stream === stream) this.stream = undefined;
        resolve(code);
      };
      const datasets: Record<string, number> = {};
      for (const [name, ds] of this.datasets) datasets[name] = ds.train.n + ds.test.n;
      // EMR records: how many rows a study gets is known only once its contract is evaluated.
      for (const name of this.studySources.keys()) datasets[name] ??= 0;
      stream.write({
        hello: {
          siteId: this.siteId,
          agentVersion: AGENT_VERSION,
          backend: this.backend,
          protocolVersion: PROTOCOL_VERSION,
          datasets,
          privacyLedger: (this.privacy?.snapshot() ?? []).map(toPrivacySpend),
        },
      });
      stream.on('data', (msg: CoordinatorMessage__Output) => {
        if (msg.welcome) {
          logger.info({ coordinator: msg.welcome.coordinatorId }, 'connected to coordinator');
          const every = Math.max(100, msg.welcome.heartbeatIntervalMs);
          clearInterval(this.heartbeat);
          this.heartbeat = setInterval(() => this.send({ heartbeat: { sentAtMs: Date.now() } }), every);
        } else if (msg.task) {
          this.ledger.taskReceived(msg.task);
          this.runner.submit(msg.task);
        } else if (msg.goodbye) {
          logger.info({ reason: msg.goodbye.reason }, 'coordinator said goodbye');
        }
      });
      stream.on('error', (err: grpc.ServiceError) => {
        if (this.stopped) return finish(err.code);
        logger.warn({ code: err.code, reason: err.details }, 'control stream error');
        finish(err.code);
      });
      stream.on('end', () => finish(undefined));
      stream.on('close', () => finish(undefined));
    });
  }

  /** Closes the stream and stops reconnecting. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.stream?.cancel();
    this.wake?.();
    this.client?.close();
  }
}
