import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROBUST_STRATEGIES, STRATEGY_NAMES, type StrategyName } from '../../../shared/src/study/study-spec.js';
import { sharedDataDir } from '../public-data.js';
import { DEMO_DEFAULTS, DP_DEFAULTS } from './demo-study.js';

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

/** `tessera demo`'s options, checked and defaulted. */
export interface DemoArgs {
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

/** A command line the demo cannot run: printed with the usage, exit code Usage. */
export class UsageError extends Error {}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

/** Parses and checks the command line ('help' for --help); throws {@link UsageError}. */
export function parseDemoArgs(argv: string[]): DemoArgs | 'help' {
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

