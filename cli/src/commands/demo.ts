import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CoordinatorEvent } from '../../../coordinator/src/rounds/events.js';
import type { StudySummary } from '../../../coordinator/src/study-summary.js';
import { parseConsortiumConfig } from '../../../shared/src/config/consortium-config.js';
import { getBuiltinSchema, HEART_DISEASE_SITES, prepareSiteDataset, writeSyntheticCohort } from '../../../site-agent/src/hospital/datasets/index.js';
import { convertMedmnistToSites } from '../../../site-agent/src/hospital/datasets/medmnist-convert.js';
import { getModelSpec } from '../../../shared/src/ml/model-registry.js';
import { provisionConsortium } from '../../../coordinator/src/pki/index.js';
import { ROBUST_STRATEGIES, STRATEGY_NAMES, type StrategyName } from '../../../shared/src/study/study-spec.js';
import { ExitCode } from '../exit-codes.js';
import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS, COORDINATOR_NODE_FLAGS, tesseraBin } from '../bin-path.js';
import { loadImageCache } from '../../../site-agent/src/hospital/ingest/image-study.js';
import { DEMO_DEFAULTS, demoStudy, DP_DEFAULTS } from './demo-study.js';
import { sharedDataDir } from '../public-data.js';
import { ChestPlanError, chestModel, finishChestXray, prepareChestXray, printChestXray, stopChestPacs, type ChestPrepared, type ChestXrayReport } from '../demo/chest-xray/index.js';

export const DEMO_USAGE = `tessera demo [options]

Provisions a throwaway consortium, starts a coordinator and N site agents as separate processes on
loopback with mTLS, runs a study to completion and prints a summary.

  --dataset NAME      synthetic (default: generated, non-IID over the sites) | heart-disease |
                      breastmnist (DICOM + FHIR per site, ingested through the de-identification gate) |
                      chest-xray (PneumoniaMNIST as three hospitals: CR JPEG-LS, DX JPEG 2000, 8-bit JPEG
                      exports, diagnoses in SNOMED CT, ICD-10-CM + local codes, or only report text;
                      scored on the held-out official test split)
  --quick             chest-xray: a small stratified subset and 2 rounds (CI; its AUC means little)
  --pacs              chest-xray: one real Orthanc per hospital (Debian orthanc + orthanc-dicomweb), the
                      agents pull over DICOMweb instead of reading the export folders
  --data-dir DIR      heart-disease: folder of its files (default: ../shared/data/heart-disease);
                      breastmnist: folder of site-N/{dicom,fhir} (default: <workdir>/breastmnist); when it
                      holds no site folders yet, ../shared/data/medmnist/breastmnist.npz is converted into it;
                      chest-xray: the hospitals' holdings (default: <workdir>/chest-xray), generated from
                      ../shared/data/medmnist/pneumoniamnist_varun19424.npz when empty, reused when not
  --sites N           number of sites (synthetic: default 3; heart-disease: 1-4, default 4; breastmnist: 2-3, default 3;
                      chest-xray: 3)
  --rounds N          federated rounds (default: ${DEMO_DEFAULTS.synthetic.rounds} synthetic, ${DEMO_DEFAULTS['heart-disease'].rounds} heart-disease, ${DEMO_DEFAULTS.breastmnist.rounds} breastmnist)
  --strategy NAME     ${STRATEGY_NAMES.join(' | ')} (default: fedavg)
  --model NAME        model spec from the vetted registry (default: logreg synthetic, mlp-small heart-disease,
                      cnn-breastmnist-deep breastmnist)
  --local-epochs N    local epochs per round
  --learning-rate X   local learning rate
  --seed N            seed for data generation and the study (default 42)
  --dp-epsilon E      record-level DP-SGD at every site, noise calibrated so each site's records are
                      (E, D)-DP over the whole study (default rounds ${DP_DEFAULTS.rounds}, learning rate ${DP_DEFAULTS.learningRate}); each
                      site enforces its own privacy policy (written as privacy-policy-SITE.yaml)
  --dp-delta D        δ of the DP guarantee (default 1e-5; needs --dp-epsilon)
  --dp-accountant A   pld (default, tighter) | rdp
  --dp-mode M         record (default: DP-SGD, each record protected) | site (DP-FedAvg: clipped update
                      plus distributed discrete Gaussian noise, each site's whole data protected)
  --workdir DIR       where to provision and keep state and logs (default: a new temp folder)
  --no-secure-agg     plaintext FedAvg: turn secure aggregation (on by default, needs ≥ 3 sites) off
  --report FILE       write the JSON report here
  --json              print the report as JSON instead of the table
  --api-port N        also serve the REST API and dashboard on 127.0.0.1:N (0: any free port); prints the URL
                      and the operator token file to sign in with
  --keep-running      after the study, keep the coordinator, agents and dashboard running until Ctrl-C`;

interface DemoArgs {
  dataset: 'synthetic' | 'heart-disease' | 'breastmnist' | 'chest-xray';
  dataDir: string;
  /** chest-xray: the small CI form. */
  quick: boolean;
  /** chest-xray: serve each hospital's images from a real Orthanc. */
  pacs: boolean;
  sites: number;
  rounds: number;
  strategy: StrategyName;
  model: string | undefined;
  localEpochs: number | undefined;
  learningRate: number | undefined;
  seed: number;
  workdir: string;
  report: string | undefined;
  json: boolean;
  secureAggregation: boolean;
  dp: { epsilon: number; delta: number; accountant: 'pld' | 'rdp'; mode: 'record' | 'site' } | undefined;
  apiPort: number | undefined;
  keepRunning: boolean;
}

class UsageError extends Error {}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

function parseDemoArgs(argv: string[]): DemoArgs | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      dataset: { type: 'string', default: 'synthetic' },
      'data-dir': { type: 'string' },
      sites: { type: 'string' },
      rounds: { type: 'string' },
      strategy: { type: 'string', default: 'fedavg' },
      model: { type: 'string' },
      'local-epochs': { type: 'string' },
      'learning-rate': { type: 'string' },
      seed: { type: 'string' },
      workdir: { type: 'string' },
      report: { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-secure-agg': { type: 'boolean', default: false },
      'dp-epsilon': { type: 'string' },
      'dp-delta': { type: 'string' },
      'dp-accountant': { type: 'string' },
      'dp-mode': { type: 'string' },
      'api-port': { type: 'string' },
      'keep-running': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      pacs: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const apiPort = values['api-port'] === undefined ? undefined : Number(values['api-port']);
  if (apiPort !== undefined && !(Number.isInteger(apiPort) && apiPort >= 0 && apiPort <= 65535)) {
    throw new UsageError('--api-port must be an integer 0-65535');
  }
  if (values.help) return 'help';
  const dataset = values.dataset;
  if (dataset !== 'synthetic' && dataset !== 'heart-disease' && dataset !== 'breastmnist' && dataset !== 'chest-xray') {
    throw new UsageError(`--dataset must be synthetic, heart-disease, breastmnist or chest-xray, not '${dataset}'`);
  }
  if (dataset !== 'chest-xray' && (values.quick || values.pacs)) throw new UsageError('--quick and --pacs are for --dataset chest-xray');
  const strategy = values.strategy as StrategyName;
  if (!STRATEGY_NAMES.includes(strategy)) throw new UsageError(`--strategy must be one of ${STRATEGY_NAMES.join(', ')}`);
  const sites = positiveInt(values.sites, 'sites', dataset === 'heart-disease' ? 4 : 3);
  if (dataset === 'heart-disease' && sites > 4) throw new UsageError('--sites: heart-disease has 4 hospitals');
  if (dataset === 'synthetic' && sites < 2) throw new UsageError('--sites must be at least 2');
  if (dataset === 'breastmnist' && (sites < 2 || sites > 3)) throw new UsageError('--sites: breastmnist is split over 2 or 3 sites');
  if (dataset === 'chest-xray' && sites !== 3) throw new UsageError('--sites: chest-xray has three hospitals');
  const secureAggregation = !values['no-secure-agg'];
  if (secureAggregation && sites < 3) {
    throw new UsageError('secure aggregation needs at least 3 sites (with 2, each learns the other\'s update from the sum); add --no-secure-agg');
  }
  const robust = (ROBUST_STRATEGIES as readonly string[]).includes(strategy);
  if (robust && secureAggregation) {
    throw new UsageError(`--strategy ${strategy} needs every site's update (secure aggregation reveals only the sum); add --no-secure-agg`);
  }
  if (strategy === 'krum' && sites < 5) throw new UsageError('--strategy krum needs at least 5 sites (2f + 3 with f = 1 Byzantine site)');
  let dp: DemoArgs['dp'];
  if (values['dp-epsilon'] !== undefined) {
    const epsilon = Number(values['dp-epsilon']);
    if (!(epsilon > 0 && epsilon <= 100)) throw new UsageError('--dp-epsilon must be a number in (0, 100]');
    const delta = values['dp-delta'] === undefined ? 1e-5 : Number(values['dp-delta']);
    if (!(delta > 0 && delta <= 0.01)) throw new UsageError('--dp-delta must be a number in (0, 0.01]');
    const accountant = values['dp-accountant'] ?? 'pld';
    if (accountant !== 'pld' && accountant !== 'rdp') throw new UsageError('--dp-accountant must be pld or rdp');
    const mode = values['dp-mode'] ?? 'record';
    if (mode !== 'record' && mode !== 'site') throw new UsageError('--dp-mode must be record or site');
    dp = { epsilon, delta, accountant, mode };
  } else if (values['dp-delta'] !== undefined || values['dp-accountant'] !== undefined || values['dp-mode'] !== undefined) {
    throw new UsageError('--dp-delta, --dp-accountant and --dp-mode need --dp-epsilon');
  }
  const lr = values['learning-rate'] === undefined ? undefined : Number(values['learning-rate']);
  if (lr !== undefined && !(lr > 0)) throw new UsageError('--learning-rate must be a positive number');
  const workdir = path.resolve(values.workdir ?? mkdtempSync(path.join(os.tmpdir(), 'tessera-demo-')));
  const defaultDataDir = dataset === 'breastmnist' || dataset === 'chest-xray' ? path.join(workdir, dataset) : path.join(sharedDataDir(), 'heart-disease');
  return {
    dataset,
    dataDir: path.resolve(values['data-dir'] ?? defaultDataDir),
    sites,
    quick: values.quick,
    pacs: values.pacs,
    rounds: positiveInt(values.rounds, 'rounds', dp ? DP_DEFAULTS.rounds : dataset === 'chest-xray' && values.quick ? DEMO_DEFAULTS['chest-xray'].quickRounds : DEMO_DEFAULTS[dataset].rounds),
    strategy,
    model: values.model,
    localEpochs: values['local-epochs'] === undefined ? undefined : positiveInt(values['local-epochs'], 'local-epochs', 1),
    learningRate: lr,
    seed: positiveInt(values.seed, 'seed', 42),
    workdir,
    report: values.report === undefined ? undefined : path.resolve(values.report),
    json: values.json,
    secureAggregation,
    dp,
    apiPort,
    keepRunning: values['keep-running'],
  };
}

/** The report `--report` writes: the contract other tools read (field names are fixed). */
export interface DemoReport {
  dataset: string;
  strategy: string;
  model: string;
  secureAggregation: boolean;
  /**
   * Differential privacy: the study's target and calibrated σ, and each site's own ledger (ε its
   * accountant says the study spent on its records). `mode` is 'none' without DP.
   */
  privacy: {
    mode: string;
    epsilon: number | null;
    delta: number | null;
    noiseMultiplier: number | null;
    accountant: string | null;
    perSite: Record<string, { epsilon: number; delta: number; accountant: string; rounds: number }>;
  };
  workdir: string;
  sites: { id: string; trainExamples: number; testExamples: number }[];
  rounds: { round: number; durationMs: number; metrics: { loss: number; accuracy: number; auc?: number; valAuc?: number }; train: { loss: number; accuracy: number } | null }[];
  final: {
    /** Of the last round's global model. */
    meanClientAccuracy: number | null;
    /** Of the last round's global model. */
    weightedAccuracy: number | null;
    /**
     * Pooled test ROC AUC of the selected global model on every site's held-out split (null: not
     * reported): the round with the best pooled validation AUC when the sites report one, else the last.
     */
    auc: number | null;
    /** The round whose model `auc` and `modelVersion` describe (chosen on validation AUC only, never on test). */
    selectedRound: number | null;
    /** Pooled validation AUC of the selected round (null: the sites hold no validation split). */
    valAuc: number | null;
    /** Pooled test ROC AUC of the last round's model, for comparison. */
    lastRoundAuc: number | null;
    /** Of the last round's global model. */
    perSite: Record<string, { accuracy: number; loss: number; testExamples: number }>;
    /** The selected round's global model. */
    modelVersion: string;
  };
  status: string;
  durationMs: number;
  /** `--dataset chest-xray` only: held-out score against the anchor, per-site label counts, timings. */
  chestXray?: ChestXrayReport;
}

function yaml(obj: unknown): string {
  return JSON.stringify(obj, null, 2);
}

function progressLine(e: CoordinatorEvent, totalRounds: number): string | null {
  switch (e.type) {
    case 'study-started':
      return `study ${e.studyId}: ${e.rounds} rounds, starting at round ${e.fromRound}`;
    case 'round-phase':
      return `  round ${e.round}/${totalRounds}: ${e.phase} on ${e.sites} sites`;
    case 'site-finished':
      return e.outcome === 'ok' ? null : `  round ${e.round}: site ${e.siteId} ${e.phase} ${e.outcome}${e.reason ? ` (${e.reason})` : ''}`;
    case 'round-committed': {
      const m = e.metrics;
      const bar = '#'.repeat(Math.round((20 * e.round) / totalRounds)).padEnd(20, '.');
      return `[${bar}] round ${e.round}/${totalRounds}  ${(e.durationMs / 1000).toFixed(1)}s  ${m ? `eval loss ${m.loss.toFixed(4)}  accuracy ${m.accuracy.toFixed(3)}${m.auc !== undefined ? `  AUC ${m.auc.toFixed(3)}` : ''}${m.valAuc !== undefined ? `  val AUC ${m.valAuc.toFixed(3)}` : ''}` : 'no evaluation'}  (${e.sites} sites)`;
    }
    case 'round-failed':
      return `  round ${e.round} attempt ${e.attempt} failed: ${e.reason}`;
    case 'study-paused':
      return `study paused after ${e.completedRounds} rounds`;
    case 'study-finished':
      return `study ${e.status}${e.reason ? `: ${e.reason}` : ''}`;
    case 'round-started':
    case 'site-privacy':
      return null;
  }
}

/** `tessera demo`: the whole federation on one machine, as separate processes over mTLS. */
export async function demoCommand(argv: string[]): Promise<number> {
  let args: DemoArgs | 'help';
  try {
    args = parseDemoArgs(argv);
  } catch (err) {
    console.error(`tessera demo: ${err instanceof Error ? err.message : String(err)}\n\n${DEMO_USAGE}`);
    return ExitCode.Usage;
  }
  if (args === 'help') {
    console.log(DEMO_USAGE);
    return ExitCode.Ok;
  }
  const started = Date.now();
  const a = args;
  if (existsSync(a.workdir) && readdirSync(a.workdir).length > 0) {
    console.error(`tessera demo: --workdir ${a.workdir} is not empty`);
    return ExitCode.Usage;
  }
  if (a.dataset === 'heart-disease' && !existsSync(a.dataDir)) {
    console.error(`tessera demo: heart-disease data folder not found: ${a.dataDir} (set --data-dir)`);
    return ExitCode.InputMissing;
  }
  const say = (line: string): void => {
    if (!a.json) console.log(line);
  };
  mkdirSync(path.join(a.workdir, 'logs'), { recursive: true });

  // 1. Sites and their local data (each site's `datasets` entry in agent.yaml).
  const siteData: { id: string; dataset: Record<string, unknown>; sources?: Record<string, unknown> }[] = [];
  let inputDim: number;
  // Under secure aggregation the coordinator never learns a site's example count (only the sum of the
  // bucketed counts), so the demo, which plays every site, reads the sites' counts from their data.
  const localTrainExamples = new Map<string, number>();
  let chest: ChestPrepared | undefined;
  if (a.dataset === 'chest-xray') {
    try {
      chest = await prepareChestXray(a, say);
    } catch (err) {
      if (!(err instanceof ChestPlanError)) throw err;
      console.error(`tessera demo: ${err.message}`);
      return err.kind === 'usage' ? ExitCode.Usage : ExitCode.InputMissing;
    }
    siteData.push(...chest.sites);
    inputDim = chest.inputDim;
  } else if (a.dataset === 'breastmnist') {
    const prepared = await prepareBreastmnist(a, say);
    if (prepared === null) return ExitCode.InputMissing;
    siteData.push(...prepared);
    const shape = getModelSpec(a.model ?? DEMO_DEFAULTS.breastmnist.model).inputShape;
    if (shape === undefined) {
      console.error(`tessera demo: model '${a.model ?? ''}' takes no images; breastmnist needs an image model (e.g. cnn-breastmnist)`);
      return ExitCode.Usage;
    }
    inputDim = shape[0] * shape[1] * shape[2];
  } else {
    const csvSites: { id: string; csv: string; schema: string }[] = [];
    if (a.dataset === 'synthetic') {
      const files = await writeSyntheticCohort(path.join(a.workdir, 'data'), { sites: a.sites, seed: a.seed });
      files.forEach((csv, i) => csvSites.push({ id: `site-${i + 1}`, csv, schema: 'builtin:synthetic-cohort' }));
    } else {
      for (const s of HEART_DISEASE_SITES.slice(0, a.sites)) {
        csvSites.push({ id: s.id, csv: path.join(a.dataDir, s.file), schema: 'builtin:heart-disease' });
      }
    }
    const first = csvSites[0];
    if (!first) throw new Error('no sites');
    const probe = await prepareSiteDataset({ csvPath: first.csv, schema: getBuiltinSchema(first.schema.slice(8)) });
    inputDim = probe.train.d;
    for (const s of csvSites) siteData.push({ id: s.id, dataset: { csv: s.csv, schema: s.schema, seed: 42 } });
    if (a.secureAggregation) {
      for (const s of csvSites) {
        const ds = await prepareSiteDataset({ csvPath: s.csv, schema: getBuiltinSchema(s.schema.slice(8)), seed: 42 });
        localTrainExamples.set(s.id, ds.train.n);
      }
    }
  }

  // 2. PKI: a throwaway consortium CA, the coordinator's certificate and one kit per site.
  const consortiumYaml = path.join(a.workdir, 'consortium.yaml');
  const consortiumText = yaml({
    name: 'tessera-demo',
    coordinator: { host: '127.0.0.1', port: 0 },
    sites: siteData.map((s) => ({ id: s.id })),
    operators: [
      { id: 'operator', role: 'operator' },
      { id: 'compliance', role: 'compliance' },
    ],
  });
  writeFileSync(consortiumYaml, consortiumText);
  const pkiDir = path.join(a.workdir, 'pki');
  provisionConsortium(parseConsortiumConfig(consortiumText, consortiumYaml), pkiDir, new Date());
  say(`provisioned consortium CA and ${siteData.length} site kits in ${pkiDir}`);

  // 3. Coordinator process.
  const coordDir = path.join(pkiDir, 'coordinator');
  const coordinatorYaml = path.join(a.workdir, 'coordinator.yaml');
  writeFileSync(
    coordinatorYaml,
    yaml({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: path.join(a.workdir, 'coordinator-data'),
      tls: { ca: path.join(coordDir, 'ca.crt'), cert: path.join(coordDir, 'server.crt'), key: path.join(coordDir, 'server.key'), revocations: path.join(coordDir, 'revocations.json') },
      heartbeatIntervalMs: 2000,
    }),
  );
  const studyFile = path.join(a.workdir, 'study.json');
  // Imaging sites ingest through the gate first: wait for all of them so round 1 trains on every share.
  // Robust strategies compare every site's update: each round waits for all of them.
  const allSites = a.dataset === 'breastmnist' || a.dataset === 'chest-xray' || (ROBUST_STRATEGIES as readonly string[]).includes(a.strategy);
  const spec = demoStudy({
    ...a,
    model: a.dataset === 'chest-xray' ? chestModel(a) : a.model,
    inputDim,
    minSites: allSites ? siteData.length : Math.min(2, siteData.length),
    expectedSites: siteData.map((s) => s.id),
  });
  const federationStarted = Date.now();
  writeFileSync(studyFile, yaml(spec));
  const children: ChildProcess[] = [];
  const logFd = (name: string): number => openSync(path.join(a.workdir, 'logs', `${name}.log`), 'a');
  const cfd = logFd('coordinator');
  const coordinatorArgs = ['coordinator', '--config', coordinatorYaml, '--study', studyFile];
  if (!a.keepRunning) coordinatorArgs.push('--exit-when-done');
  if (a.apiPort !== undefined) coordinatorArgs.push('--api-port', String(a.apiPort));
  const coordinator = fork(tesseraBin(), coordinatorArgs, {
    stdio: ['ignore', cfd, cfd, 'ipc'],
    execArgv: [...COORDINATOR_NODE_FLAGS],
  });
  children.push(coordinator);
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  process.once('SIGINT', killAll);

  const sitePrivacy: DemoReport['privacy']['perSite'] = {};
  try {
    const summary = await new Promise<StudySummary>((resolve, reject) => {
      coordinator.on('exit', (code) => reject(new Error(`coordinator exited with code ${code ?? 'null'} before the study finished; see ${path.join(a.workdir, 'logs', 'coordinator.log')}`)));
      coordinator.on('message', (raw: unknown) => {
        const msg = raw as { kind: string; port?: number; url?: string; event?: CoordinatorEvent; summary?: StudySummary };
        if (msg.kind === 'api' && msg.url !== undefined) {
          // Printed even with --json (on stderr then), since the URL is what --api-port asks for.
          const line = `dashboard and REST API: ${msg.url}/  (sign in with the token in ${path.join(pkiDir, 'operators', 'operator', 'token')}; compliance: ${path.join(pkiDir, 'operators', 'compliance', 'token')})`;
          if (a.json) console.error(line);
          else say(line);
        }
        if (msg.kind === 'listening' && msg.port !== undefined) {
          say(`coordinator listening on 127.0.0.1:${msg.port} (mTLS); starting ${siteData.length} site agents`);
          for (const s of siteData) {
            const agentYaml = path.join(a.workdir, `agent-${s.id}.yaml`);
            let privacy: { policy: string; ledger: string } | undefined;
            if (a.dp) {
              // Each site's own limits: this study's target for one study, and room for ten in total.
              privacy = { policy: path.join(a.workdir, `privacy-policy-${s.id}.yaml`), ledger: path.join(a.workdir, `privacy-ledger-${s.id}.sqlite`) };
              writeFileSync(
                privacy.policy,
                yaml({
                  requireDp: true,
                  maxEpsilonPerStudy: a.dp.epsilon,
                  maxDeltaPerStudy: a.dp.delta,
                  maxEpsilonTotal: 10 * a.dp.epsilon,
                  maxDeltaTotal: 10 * a.dp.delta,
                  minNoiseMultiplier: 0.5,
                  maxRounds: 1000,
                  accountant: a.dp.accountant,
                }),
              );
            }
            writeFileSync(
              agentYaml,
              yaml({ kit: path.join(pkiDir, 'sites', s.id), coordinator: `127.0.0.1:${msg.port}`, ...(s.sources ? { sources: s.sources } : {}), datasets: { [spec.dataset]: s.dataset }, ...(privacy ? { privacy } : {}) }),
            );
            const fd = logFd(s.id);
            children.push(fork(tesseraBin(), ['agent', '--config', agentYaml], { stdio: ['ignore', fd, fd, 'ipc'], execArgv: [...AGENT_NODE_FLAGS], env: { ...process.env, ...AGENT_MALLOC_ENV } }));
          }
        } else if (msg.kind === 'event' && msg.event) {
          if (msg.event.type === 'site-privacy') {
            const e = msg.event;
            sitePrivacy[e.siteId] = { epsilon: e.epsilon, delta: e.delta, accountant: e.accountant, rounds: e.dpRounds };
          }
          const line = progressLine(msg.event, spec.rounds);
          if (line != null) say(line);
        } else if (msg.kind === 'summary' && msg.summary) {
          resolve(msg.summary);
        }
      });
    });
    if (a.dataset === 'breastmnist' && summary.secureAggregation) {
      // The coordinator never learned the sites' train counts; the demo reads each site's de-identified cache.
      const shape = getModelSpec(a.model ?? DEMO_DEFAULTS.breastmnist.model).inputShape ?? [28, 28, 1];
      for (const s of siteData) {
        const cache = s.dataset['cache'];
        if (typeof cache !== 'string') continue;
        const ds = await loadImageCache(cache, { shape, dataset: 'breastmnist' }).catch(() => undefined);
        if (ds) localTrainExamples.set(s.id, ds.train.n);
      }
    }
    const report: DemoReport = {
      dataset: a.dataset,
      strategy: summary.strategy,
      model: summary.model,
      secureAggregation: summary.secureAggregation,
      privacy: summary.privacy
        ? {
            mode: summary.privacy.mode,
            epsilon: summary.privacy.epsilon,
            delta: summary.privacy.delta,
            noiseMultiplier: summary.privacy.noiseMultiplier,
            accountant: summary.privacy.accountant,
            perSite: sitePrivacy,
          }
        : { mode: 'none', epsilon: null, delta: null, noiseMultiplier: null, accountant: null, perSite: {} },
      workdir: a.workdir,
      sites: summary.sites.map((s) => (summary.secureAggregation ? { ...s, trainExamples: localTrainExamples.get(s.id) ?? s.trainExamples } : s)),
      rounds: summary.rounds.map((r) => ({ round: r.round, durationMs: r.durationMs, metrics: r.metrics ?? { loss: Number.NaN, accuracy: Number.NaN }, train: r.train })),
      final: { meanClientAccuracy: summary.final.meanClientAccuracy, weightedAccuracy: summary.final.weightedAccuracy, ...selectModel(summary), perSite: summary.final.perSite },
      status: summary.status,
      durationMs: Date.now() - started,
    };
    if (chest !== undefined) {
      const federationMs = Date.now() - federationStarted;
      report.chestXray = await finishChestXray(a, chest, { studyId: spec.id, modelVersion: report.final.modelVersion || null, federationMs, labels: [] }, say);
      report.durationMs = Date.now() - started;
    }
    if (a.report !== undefined) writeFileSync(a.report, JSON.stringify(report, null, 2) + '\n');
    if (a.json) console.log(JSON.stringify(report, null, 2));
    else {
      printSummary(report);
      if (report.chestXray) printChestXray(report.chestXray, report.durationMs);
    }
    if (a.keepRunning) {
      console.error('tessera demo: coordinator, site agents and dashboard keep running; Ctrl-C to stop');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return summary.status === 'completed' ? ExitCode.Ok : ExitCode.StudyFailed;
  } finally {
    killAll();
    process.removeListener('SIGINT', killAll);
    if (chest !== undefined) await stopChestPacs(chest);
  }
}

/**
 * The breastmnist sites: converts the official `.npz` into `--data-dir` (DICOM + FHIR per site, with
 * synthetic identities) unless it already holds site folders, then points each agent at its folder,
 * a de-identified cache and a site secret in the workdir. Null (after saying why) when data is missing.
 */
async function prepareBreastmnist(a: DemoArgs, say: (line: string) => void): Promise<{ id: string; dataset: Record<string, unknown> }[] | null> {
  const ids = Array.from({ length: a.sites }, (_, i) => `site-${i + 1}`);
  const present = ids.every((id) => existsSync(path.join(a.dataDir, id, 'dicom')) && existsSync(path.join(a.dataDir, id, 'fhir')));
  if (!present) {
    const npz = path.join(sharedDataDir(), 'medmnist', 'breastmnist.npz');
    if (!existsSync(npz)) {
      console.error(`tessera demo: ${a.dataDir} holds no site folders and ${npz} is missing (set --data-dir or TESSERA_SHARED_DATA)`);
      return null;
    }
    const res = await convertMedmnistToSites({ npz, outDir: a.dataDir, sites: ids, seed: a.seed });
    for (const s of res.sites) {
      say(`  ${s.id}: ${s.images.train} train / ${s.images.val} val / ${s.images.test} test images as DICOM + FHIR (synthetic patients) in ${s.dir}`);
    }
  }
  const shape = getModelSpec(a.model ?? DEMO_DEFAULTS.breastmnist.model).inputShape ?? [28, 28, 1];
  return ids.map((id) => ({
    id,
    dataset: {
      kind: 'imaging-study',
      dicom: path.join(a.dataDir, id, 'dicom'),
      fhir: path.join(a.dataDir, id, 'fhir'),
      cache: path.join(a.workdir, 'site-cache', id),
      secret: path.join(a.workdir, 'site-secrets', id),
      deidOptions: ['retain-longitudinal-modified-dates'],
      inputShape: [...shape],
    },
  }));
}

/**
 * Model selection as MedMNIST does it: the committed round with the best pooled validation AUC (the
 * latest of equals); without validation AUCs, the last round. The test split never takes part.
 */
export function selectModel(summary: Pick<StudySummary, 'rounds' | 'final'>): Pick<DemoReport['final'], 'auc' | 'selectedRound' | 'valAuc' | 'lastRoundAuc' | 'modelVersion'> {
  let best: StudySummary['rounds'][number] | undefined;
  for (const r of summary.rounds) {
    const v = r.metrics?.valAuc;
    if (v !== undefined && r.modelVersion !== null && (best === undefined || v >= (best.metrics?.valAuc ?? -1))) best = r;
  }
  const last = summary.rounds.at(-1);
  if (best === undefined) {
    return { auc: summary.final.auc, selectedRound: last?.round ?? null, valAuc: null, lastRoundAuc: summary.final.auc, modelVersion: summary.final.modelVersion };
  }
  return { auc: best.metrics?.auc ?? null, selectedRound: best.round, valAuc: best.metrics?.valAuc ?? null, lastRoundAuc: summary.final.auc, modelVersion: best.modelVersion ?? summary.final.modelVersion };
}

function printSummary(r: DemoReport): void {
  console.log(`\n${r.dataset} · ${r.strategy} · ${r.model} · secure aggregation ${r.secureAggregation ? 'on' : 'off'} · ${r.status} in ${(r.durationMs / 1000).toFixed(1)}s`);
  console.log('site            train   test   accuracy   loss');
  for (const s of r.sites) {
    const p = r.final.perSite[s.id];
    console.log(`${s.id.padEnd(14)} ${String(s.trainExamples).padStart(6)} ${String(s.testExamples).padStart(6)}   ${p ? p.accuracy.toFixed(3).padStart(8) : '       -'}   ${p ? p.loss.toFixed(4) : '-'}`);
  }
  if (r.privacy.mode !== 'none') {
    const spent = Object.entries(r.privacy.perSite).map(([id, p]) => `${id} ${p.epsilon.toFixed(3)}`);
    console.log(`differential privacy: ${r.privacy.mode === 'site' ? 'site-level DP-FedAvg' : 'record-level DP-SGD'}, target ε ${r.privacy.epsilon} δ ${r.privacy.delta}, σ ${r.privacy.noiseMultiplier?.toFixed(3) ?? '-'} (${r.privacy.accountant}); ε spent per site: ${spent.join(', ') || '-'}`);
  }
  const m = r.final.meanClientAccuracy;
  console.log(`mean client accuracy ${m == null ? '-' : m.toFixed(3)} · weighted ${r.final.weightedAccuracy?.toFixed(3) ?? '-'} · AUC ${r.final.auc?.toFixed(3) ?? '-'}${r.final.valAuc !== null ? ` (round ${String(r.final.selectedRound)}, best validation AUC ${r.final.valAuc.toFixed(3)}; last round ${r.final.lastRoundAuc?.toFixed(3) ?? '-'})` : ''} · model ${r.final.modelVersion.slice(0, 12)}`);
  console.log(`state, certificates and logs: ${r.workdir}`);
}
