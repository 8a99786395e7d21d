import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import type { CoordinatorEvent } from '../../coordinator/src/rounds/events.js';
import { SiteAgent } from '../../site-agent/src/agent.js';
import type { TaskRunnerDeps } from '../../site-agent/src/task-runner.js';
import { AgentConfigSchema } from '../../shared/src/config/agent-config.js';
import { CoordinatorConfigSchema } from '../../shared/src/config/coordinator-config.js';
import { validateConfig } from '../../shared/src/config/validate.js';
import { writeSyntheticCohort } from '../../site-agent/src/hospital/datasets/index.js';
import { createLogger, type Logger } from '../../shared/src/logging.js';
import { coordinatorTlsFiles, provisionLocalConsortium } from '../../cli/src/local-federation/index.js';
import type { StudySpec } from '../../shared/src/study/study-spec.js';
import { StudySpecSchema } from '../../shared/src/study/study-spec.js';

export interface Federation {
  dir: string;
  pkiDir: string;
  coordinator: Coordinator;
  agents: SiteAgent[];
  events: CoordinatorEvent[];
  logger: Logger;
  siteCsv: string[];
  /** Starts the agent of `site-<index+1>`; `logger` replaces its quiet default (e.g. to capture its log). */
  startAgent(index: number, onFitDone?: TaskRunnerDeps['onFitDone'], logger?: Logger): Promise<SiteAgent>;
  close(): Promise<void>;
}

export function quietLogger(name: string): Logger {
  return createLogger({ name, level: process.env['TESSERA_LOG_LEVEL'] ?? 'warn' });
}

/** A real federation in one process: provisioned PKI, a coordinator on 127.0.0.1:0 (mTLS, SQLite file) and N agents. */
export async function startFederation(opts: {
  sites: number;
  seed?: number;
  heartbeatIntervalMs?: number;
  /** The coordinator's logger; pass a captured one to assert on its log lines. @default quietLogger */
  logger?: Logger;
  /** @default 200 */
  examplesPerSite?: number;
  /** REST operators to provision (tokens land in `pki/operators/<id>/token`). @default none */
  operators?: { id: string; role: 'operator' | 'compliance' | 'site-admin'; site?: string }[];
  /** Per-site additions: agent config keys (e.g. `privacy`) and a secure-aggregation audit folder. */
  agent?: (siteId: string, dir: string) => { config?: Record<string, unknown>; secaggAuditDir?: string };
}): Promise<Federation> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-it-'));
  const siteIds = Array.from({ length: opts.sites }, (_, i) => `site-${i + 1}`);
  const pkiDir = provisionLocalConsortium(dir, { name: 'it', siteIds, ...(opts.operators ? { operators: opts.operators } : {}) });
  const siteCsv = await writeSyntheticCohort(path.join(dir, 'data'), { sites: opts.sites, seed: opts.seed ?? 7, examplesPerSite: opts.examplesPerSite ?? 200 });
  const events: CoordinatorEvent[] = [];
  const logger = opts.logger ?? quietLogger('coordinator');
  const coordinator = await Coordinator.create({
    config: validateConfig(
      CoordinatorConfigSchema,
      {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: path.join(dir, 'coordinator-data'),
        tls: coordinatorTlsFiles(pkiDir),
        heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 1000,
      },
      'test',
    ),
    baseDir: dir,
    logger,
    onEvent: (e) => events.push(e),
  });
  const agents: SiteAgent[] = [];
  const runs: Promise<void>[] = [];
  const fed: Federation = {
    dir,
    pkiDir,
    coordinator,
    agents,
    events,
    logger,
    siteCsv,
    async startAgent(index, onFitDone, agentLogger) {
      const id = siteIds[index] ?? `site-${index + 1}`;
      const extra = opts.agent?.(id, dir) ?? {};
      const config = validateConfig(
        AgentConfigSchema,
        {
          kit: path.join(pkiDir, 'sites', id),
          coordinator: `127.0.0.1:${coordinator.port}`,
          datasets: { 'synthetic-cohort': { csv: siteCsv[index] ?? '', schema: 'builtin:synthetic-cohort' } },
          reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
          ...extra.config,
        },
        'test',
      );
      const agent = await SiteAgent.create({
        config,
        baseDir: dir,
        logger: agentLogger ?? quietLogger(id),
        ...(onFitDone ? { onFitDone } : {}),
        ...(extra.secaggAuditDir !== undefined ? { secaggAuditDir: extra.secaggAuditDir } : {}),
      });
      agents.push(agent);
      runs.push(agent.run());
      return agent;
    },
    async close() {
      for (const a of agents) a.stop();
      await Promise.allSettled(runs);
      await coordinator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fed;
}

export function makeStudy(overrides: Partial<StudySpec> & { inputDim: number }): StudySpec {
  return validateConfig(
    StudySpecSchema,
    {
      id: 'it-study',
      name: 'integration',
      dataset: 'synthetic-cohort',
      model: 'logreg',
      rounds: 2,
      strategy: 'fedavg',
      minSites: 2,
      training: { localEpochs: 1, batchSize: 16, learningRate: 0.1 },
      timeouts: { waitForSitesMs: 20_000, fitMs: 30_000, evaluateMs: 30_000 },
      ...overrides,
    },
    'test',
  );
}
