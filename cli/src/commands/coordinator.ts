import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Coordinator } from '../../../coordinator/src/coordinator.js';
import type { CoordinatorEvent } from '../../../coordinator/src/rounds/events.js';
import { startCoordinatorApi } from '../../../coordinator/src/rest/start-api.js';
import type { RunningRestServer } from '../../../coordinator/src/rest/server.js';
import { buildStudySummary, type StudySummary } from '../../../coordinator/src/study-summary.js';
import { CoordinatorConfigSchema } from '../../../shared/src/config/coordinator-config.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { createLogger } from '../../../shared/src/logging.js';
import { resolveStudyPrivacy } from '../../../shared/src/dp/study-privacy.js';
import { checkStudyCrossFields } from '../../../shared/src/study/study-checks.js';
import { checkStudySpecData, StudySpecSchema } from '../../../shared/src/study/study-spec.js';
import { ExitCode } from '../exit-codes.js';
import { tightenStateDir } from '../private-files.js';
import type { CoordinatorIpcMessage } from '../local-federation/ipc.js';

export const COORDINATOR_USAGE = `tessera coordinator --config coordinator.yaml [--study study.yaml ...] [--exit-when-done] [--summary FILE] [--api-port N]

Runs the coordinator: gRPC with mTLS for site agents, state in SQLite. With --study, creates the study
(idempotent) and runs or resumes it; --study may be repeated to run several studies one after the other.
--exit-when-done exits once they are finished, --summary writes the JSON summary (an array with several studies).
The REST API and dashboard start when coordinator.yaml has an 'api' section, or with --api-port N (0: any free
port; tokens from operators.json beside tls.ca, loopback only); the URL is printed on stderr.`;

/** `tessera coordinator`: the long-running coordinator process. */
export async function coordinatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      study: { type: 'string', multiple: true },
      'exit-when-done': { type: 'boolean', default: false },
      summary: { type: 'string' },
      'api-port': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || values.config === undefined) {
    console.log(COORDINATOR_USAGE);
    return values.help ? ExitCode.Ok : ExitCode.Usage;
  }
  const configPath = path.resolve(values.config);
  const config = parseConfigText(CoordinatorConfigSchema, readFileSync(configPath, 'utf8'), configPath);
  const logger = createLogger({ name: 'coordinator' });
  const send = (msg: CoordinatorIpcMessage): void => {
    if (process.send) process.send(msg);
  };
  const coordinator = await Coordinator.create({
    config,
    baseDir: path.dirname(configPath),
    logger,
    onEvent: (e: CoordinatorEvent) => send({ kind: 'event', event: e }),
  });
  // State an earlier version created with the shell's umask (0644 database, 0755 folder) is tightened too.
  tightenStateDir(coordinator.dataDir);
  send({ kind: 'listening', port: coordinator.port });
  if (process.send) coordinator.sessions.onChange(() => send({ kind: 'sites', connected: coordinator.sessions.connectedSites() }));
  let api: RunningRestServer | undefined;
  // One shutdown, and every caller waits for it: a SIGTERM that arrives while --exit-when-done is already
  // closing must not exit before the store and the audit ledger are closed (`coordinator.stopped`).
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      logger.info('shutting down');
      await api?.close();
      await coordinator.close();
    })());
  const apiPort = values['api-port'] === undefined ? undefined : Number(values['api-port']);
  if (apiPort !== undefined && !(Number.isInteger(apiPort) && apiPort >= 0 && apiPort <= 65535)) {
    await stop();
    console.error('tessera coordinator: --api-port must be an integer 0-65535');
    return ExitCode.Usage;
  }
  if (config.api !== undefined || apiPort !== undefined) {
    try {
      api = await startCoordinatorApi({ coordinator, config, baseDir: path.dirname(configPath), logger, ...(apiPort !== undefined ? { port: apiPort } : {}) });
    } catch (err) {
      await stop();
      throw err;
    }
    logger.info({ url: api.url }, 'REST API and dashboard listening');
    console.error(`tessera coordinator: REST API and dashboard at ${api.url}/ (API reference ${api.url}/docs)`);
    send({ kind: 'api', url: api.url });
  }
  process.once('SIGTERM', () => void stop().then(() => process.exit(ExitCode.Ok)));
  process.once('SIGINT', () => void stop().then(() => process.exit(ExitCode.Interrupted)));

  if (values.study === undefined || values.study.length === 0) {
    await new Promise<never>(() => undefined);
    return ExitCode.Ok;
  }
  // Every file is validated before the first study starts: a typo in the second must not surface after the first ran.
  const specs = values.study.map((file) => {
    const studyPath = path.resolve(file);
    const spec = parseConfigText(StudySpecSchema, readFileSync(studyPath, 'utf8'), studyPath, checkStudySpecData);
    checkStudyCrossFields(spec);
    // A DP study without a noise multiplier gets one calibrated to its (ε, δ) target here, once.
    return resolveStudyPrivacy(spec);
  });
  const summaries: StudySummary[] = [];
  let allCompleted = true;
  for (const spec of specs) {
    if (spec.privacy) {
      logger.info({ studyId: spec.id, ...spec.privacy }, spec.privacy.mode === 'site' ? 'differential privacy: site-level DP-FedAvg (clipped updates, distributed discrete Gaussian)' : 'differential privacy: record-level DP-SGD at each site');
    }
    await coordinator.createStudy(structuredClone(spec));
    const result = await coordinator.runStudy(spec.id);
    const summary = await buildStudySummary(coordinator.store, spec.id);
    summaries.push(summary);
    if (result.status !== 'completed') {
      allCompleted = false;
      console.error(`tessera coordinator: study ${spec.id} is ${result.status}${result.reason != null ? `: ${result.reason}` : ''}`);
    }
    send({ kind: 'summary', summary });
  }
  if (values.summary !== undefined) writeFileSync(path.resolve(values.summary), JSON.stringify(summaries.length === 1 ? summaries[0] : summaries, null, 2));
  if (!values['exit-when-done']) {
    await new Promise<never>(() => undefined);
  }
  await stop();
  return allCompleted ? ExitCode.Ok : ExitCode.StudyFailed;
}
