/**
 * `npm run bench -- <suite> [--json FILE] [--quick]`: Tessera's throughput benchmarks.
 *
 * Suites: `transfer` (raw TCP / raw TLS / gRPC + mTLS upload and download on 127.0.0.1), `aggregation`
 * (FedAvg kernel and strategies against a plain typed-array loop), `imaging` (PACS ingest from a real Orthanc over DICOMweb through the gate
 * and preprocessing against Orthanc's own WADO-RS download; see bench/imaging.ts for its cases), `secagg` (coordinator cost of secure
 * aggregation against plaintext FedAvg, site masking against raw keystream; `--sites N --params D
 * [--dropout F] [--degree K]`, each a number or a comma-separated list; K is the SecAgg+ neighbour
 * degree above 32 sites, default 3·log2 n), `deid-text` (free-text PHI scrubber
 * recall and precision on the PhysioNet deid gold standard), `ingest` (DICOM parse + de-identify + write
 * against a plain dicom-parser parse of the same files), `cnn` (CNN training images/s per TF.js backend,
 * wasm against cpu), `dp` (DP-SGD training throughput against non-DP training of the same model in
 * the same run), `secagg-e2e` (whole rounds of a real federation — a coordinator and N agent processes on
 * loopback — with and without secure aggregation; `--sites N --params D --rounds R [--no-secure-agg]`) and
 * `report-labels` (the radiology report labeler's per-finding and macro F1 on IU chest X-ray reports uid ≤ 2000
 * against their `Problems` column, beside a keyword-and-negation baseline scored in the same run), `chaos`
 * (issue 16's chaos run: a coordinator and N agent processes under secure aggregation, agents killed or cut
 * every round, the coordinator killed every 10th, one agent late, against a clean run in the same bench;
 * `--sites N --rounds R --seed S --clean-rounds C --coordinator-every K --no-expected-sites --heartbeat-ms H --keep`; never part of `all`) and
 * `all` (which runs secagg-e2e at 10 sites only: 100 agent processes need `secagg-e2e --sites 100`).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runAggregationSuite } from './aggregation.js';
import { runSecAggSuite, type SecAggCaseOptions } from './secagg.js';
import { runSecAggE2eSuite, type SecAggE2eOptions } from './secagg-e2e.js';
import { runDpSuite } from './dp.js';
import { runDeidTextSuite } from './deid-text.js';
import { runReportLabelsSuite } from './report-labels.js';
import { runIngestSuite } from './ingest.js';
import { runCnnSuite } from './cnn.js';
import { runChaosSuite } from './chaos.js';
import { runImagingSuite } from './imaging.js';
import { formatTable, machineInfo, type BenchReport } from './report.js';
import { runTransferSuite } from './transfer.js';
import { sharedDataDir } from '../cli/src/public-data.js';
import { randomSeed } from '../shared/src/rng.js';

const MiB = 1024 * 1024;
export const SUITES = ['transfer', 'aggregation', 'secagg', 'secagg-e2e', 'deid-text', 'report-labels', 'ingest', 'cnn', 'dp', 'imaging', 'chaos', 'all'] as const;
export type SuiteName = (typeof SUITES)[number];

function isSuite(name: string | undefined): name is SuiteName {
  return (SUITES as readonly string[]).includes(name ?? '');
}

type Row = Record<string, unknown> & { suite: Exclude<SuiteName, 'all'> };

function numbers(value: string | undefined, name: string, fallback: number[], check: (n: number) => boolean): number[] {
  if (value === undefined) return fallback;
  const list = value.split(',').map(Number);
  if (list.length === 0 || !list.every(check)) throw new Error(`--${name} must be a number or a comma-separated list of numbers in range, got '${value}'`);
  return list;
}

/** The cases of the secagg suite: the goals (100 sites × 1e6 parameters, 0 and 30% dropout) unless flags say otherwise. */
function secaggCases(flags: Flags, quick: boolean): SecAggCaseOptions[] {
  const sites = numbers(flags.sites, 'sites', quick ? [10] : [100], (n) => Number.isInteger(n) && n >= 3);
  const params = numbers(flags.params, 'params', quick ? [100_000] : [1_000_000], (n) => Number.isInteger(n) && n >= 1);
  const dropout = numbers(flags.dropout, 'dropout', flags.sites === undefined && flags.params === undefined ? [0, 0.3] : [0], (n) => n >= 0 && n < 0.5);
  const degrees = flags.degree === undefined ? [undefined] : numbers(flags.degree, 'degree', [], (n) => Number.isInteger(n) && n >= 4 && n % 2 === 0);
  return sites.flatMap((s) => params.flatMap((p) => dropout.flatMap((d) => degrees.map((k) => ({ sites: s, params: p, dropout: d, ...(k !== undefined ? { degree: k } : {}) })))));
}

interface Flags {
  sites?: string;
  degree?: string;
  params?: string;
  dropout?: string;
  rounds?: string;
  noSecureAgg?: boolean;
  keep?: boolean;
  seed?: string;
  cleanRounds?: string;
  coordinatorEvery?: string;
  noExpectedSites?: boolean;
  heartbeatMs?: string;
  /** Imaging: run only this case (pipeline, training, pacs-ingest). */
  case?: string;
}

/**
 * The cases of the secagg-e2e suite: the 10 agent processes × 1,000,000 parameters unless flags say
 * otherwise (`all` never goes beyond that; 100 processes only when asked for with --sites).
 */
function secaggE2eCases(flags: Flags, quick: boolean, all: boolean): SecAggE2eOptions[] {
  const sites = all ? [quick ? 4 : 10] : numbers(flags.sites, 'sites', quick ? [4] : [10], (n) => Number.isInteger(n) && n >= 3 && n <= 1000);
  const params = all ? [quick ? 100_000 : 1_000_000] : numbers(flags.params, 'params', quick ? [100_000] : [1_000_000], (n) => Number.isInteger(n) && n >= 1);
  const [rounds] = numbers(flags.rounds, 'rounds', [quick ? 2 : 3], (n) => Number.isInteger(n) && n >= 1 && n <= 100);
  return sites.flatMap((s) => params.map((p) => ({ sites: s, params: p, rounds: rounds ?? 3, secure: flags.noSecureAgg !== true, keep: flags.keep === true })));
}

async function runSuite(suite: SuiteName, quick: boolean, flags: Flags = {}): Promise<Row[]> {
  const rows: Row[] = [];
  if (suite === 'transfer' || suite === 'all') {
    const transfer = await runTransferSuite(quick ? { sizes: [16 * MiB] } : {});
    console.log(`\ntransfer (best of 3, MB = 1e6 bytes; 127.0.0.1; the site side on the coordinator's thread or on its own worker thread)\n${formatTable(transfer)}`);
    rows.push(...transfer.map((r) => ({ suite: 'transfer' as const, ...r })));
  }
  if (suite === 'aggregation' || suite === 'all') {
    const aggregation = await runAggregationSuite(quick ? { sites: [4, 10] } : {});
    console.log(`\naggregation (best of 3, one thread)\n${formatTable(aggregation)}`);
    rows.push(...aggregation.map((r) => ({ suite: 'aggregation' as const, ...r })));
  }
  if (suite === 'secagg' || suite === 'all') {
    const cases = await runSecAggSuite(secaggCases(flags, quick));
    console.log(`\nsecagg (coordinator ms best of 3, mask worker pool, updates already received in memory; client = one site)\n${formatTable(cases)}`);
    rows.push(...cases.map((r) => ({ suite: 'secagg' as const, ...r })));
  }
  if (suite === 'secagg-e2e' || suite === 'all') {
    const e2e = await runSecAggE2eSuite(secaggE2eCases(flags, quick, suite === 'all'));
    const table = e2e.map(({ roundsMs: _roundsMs, stages, failure, ...rest }) => ({ ...rest, trainAdvertiseMs: stages?.trainAdvertiseMs ?? '-', shareKeysMs: stages?.shareKeysMs ?? '-', maskedInputMs: stages?.maskedInputMs ?? '-', unmaskMs: stages?.unmaskMs ?? '-', evaluateMs: stages?.evaluateMs ?? '-', failure: failure ?? '-' }));
    console.log(`\nsecagg-e2e (real coordinator + agent processes on 127.0.0.1 over mTLS; median round, dispatch → committed; RSS = VmHWM)\n${formatTable(table)}`);
    rows.push(...e2e.map((r) => ({ suite: 'secagg-e2e' as const, ...r })));
  }
  if (suite === 'deid-text' || suite === 'all') {
    const deid = runDeidTextSuite(path.join(sharedDataDir(), 'deid-text', 'physionet-deid-1.1'));
    const table = deid.map(({ recallByType, ...rest }) => ({ ...rest, worstType: worstType(recallByType) }));
    console.log(`\ndeid-text (PhysioNet deid 1.1 gold standard; dev = patients 1-80, held-out = 81-163, unseen = 122-163 whose errors no tuning round read)\n${formatTable(table)}`);
    rows.push(...deid.map((r) => ({ suite: 'deid-text' as const, ...r })));
  }
  if (suite === 'report-labels' || suite === 'all') {
    const labels = runReportLabelsSuite(sharedDataDir());
    console.log(`\nreport-labels (IU chest X-ray reports, uid ≤ 2000 only; findings + impression vs Problems; tuning = uid < 1601, held-out = 1601-2000; present = positive, normal = no abnormal finding positive or uncertain)\n${formatTable(labels)}`);
    rows.push(...labels.map((r) => ({ suite: 'report-labels' as const, ...r })));
  }
  if (suite === 'ingest' || suite === 'all') {
    const ingest = await runIngestSuite(quick ? { runs: 4, warmup: 4 } : {});
    console.log(
      `\ningest (shared DICOM corpus, files the gate writes; ${quick ? 4 : 20} untimed passes per case, then ${quick ? 4 : 40} interleaved in alternating order: best and median; one thread, MB = 1e6 bytes)\n${formatTable(ingest)}`,
    );
    rows.push(...ingest.map((r) => ({ suite: 'ingest' as const, ...r })));
  }
  if (suite === 'cnn' || suite === 'all') {
    const cnn = await runCnnSuite(quick ? { images: { cpu: 32, wasm: 128 }, runs: 1 } : {});
    console.log(`\ncnn training (best of ${quick ? 1 : 2}, one process, synthetic 28×28×1 images, Adam)\n${formatTable(cnn)}`);
    rows.push(...cnn.map((r) => ({ suite: 'cnn' as const, ...r })));
  }
  if (suite === 'dp' || suite === 'all') {
    const dp = await runDpSuite(quick ? { runs: 1 } : {});
    console.log(`\ndp (best of 3; examples/s of DP-SGD vs plain SGD, same model, backend and run)\n${formatTable(dp)}`);
    rows.push(...dp.map((r) => ({ suite: 'dp' as const, ...r })));
  }
  if (suite === 'imaging' || suite === 'all') {
    const imaging = await runImagingSuite(quick, (title, caseRows) => console.log(`\nimaging: ${title}\n${formatTable(caseRows)}`), flags.case);
    rows.push(...imaging.map((r) => ({ suite: 'imaging' as const, ...r })));
  }
  if (suite === 'chaos') {
    const [sites] = numbers(flags.sites, 'sites', [quick ? 4 : 10], (n) => Number.isInteger(n) && n >= 4 && n <= 100);
    const [rounds] = numbers(flags.rounds, 'rounds', [quick ? 8 : 50], (n) => Number.isInteger(n) && n >= 1 && n <= 1000);
    const [seed] = numbers(flags.seed, 'seed', [randomSeed()], (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32);
    const [cleanRounds] = numbers(flags.cleanRounds, 'clean-rounds', [Math.min(rounds ?? 50, 10)], (n) => Number.isInteger(n) && n >= 2 && n <= 1000);
    const [coordinatorEvery] = numbers(flags.coordinatorEvery, 'coordinator-every', [quick ? 4 : 10], (n) => Number.isInteger(n) && n >= 0 && n <= 1000);
    const [heartbeatIntervalMs] = numbers(flags.heartbeatMs, 'heartbeat-ms', [1000], (n) => Number.isInteger(n) && n >= 100 && n <= 600_000);
    const row = await runChaosSuite({ heartbeatIntervalMs: heartbeatIntervalMs ?? 1000, sites: sites ?? 10, rounds: rounds ?? 50, seed: seed ?? 1, cleanRounds: cleanRounds ?? 10, coordinatorEvery: coordinatorEvery ?? 10, expectAllSites: flags.noExpectedSites !== true, keep: flags.keep === true });
    const { perRound: _perRound, contributedRounds: _contributed, crossChecks, lostAttemptReasons: _reasons, siteDropReasons: _drops, siteDrops: _siteDrops, coordinatorKills: _kills, ledger, timeLostPerFaultMs: lost, faults, loadAverage, ...rest } = row;
    const table = [{ ...rest, ...faults, ledgerOk: ledger.ok, crossChecked: `${crossChecks.filter((c) => c.ok).length}/${crossChecks.length}`, lostPerAgentKillMs: lost.agentKill, lostPerProxyCutMs: lost.proxyCut, lostPerCoordinatorKillMs: lost.coordinatorKill, lostPerFaultMs: lost.overall, load: loadAverage.end.join(' ') }];
    console.log(`\nchaos (seed ${row.seed}; real coordinator + agent processes over mTLS on 127.0.0.1, each agent behind a TCP proxy; spans from the store's commit times)\n${formatTable(table)}`);
    console.log(`lost attempts: ${JSON.stringify(row.lostAttemptReasons)}\nsite drops: ${JSON.stringify(row.siteDropReasons)}`);
    rows.push({ suite: 'chaos' as const, ...row });
  }
  return rows;
}

function worstType(recall: Record<string, number>): string {
  const [type, value] = Object.entries(recall).sort((a, b) => a[1] - b[1])[0] ?? ['-', 1];
  return `${type} ${value}`;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'string' },
        quick: { type: 'boolean', default: false },
        sites: { type: 'string' },
        params: { type: 'string' },
        dropout: { type: 'string' },
        degree: { type: 'string' },
        rounds: { type: 'string' },
        'no-secure-agg': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        seed: { type: 'string' },
        'clean-rounds': { type: 'string' },
        'coordinator-every': { type: 'string' },
        'no-expected-sites': { type: 'boolean', default: false },
        'heartbeat-ms': { type: 'string' },
        case: { type: 'string' },
      },
    });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const [suite, ...extra] = parsed.positionals;
  if (!isSuite(suite) || extra.length > 0) {
    console.error(`usage: npm run bench -- <suite> [--json FILE] [--quick] [--case NAME (imaging)] [--sites N --params D --dropout F --degree K (secagg)] [--sites N --params D --rounds R --no-secure-agg --keep (secagg-e2e)] [--sites N --rounds R --seed S --clean-rounds C --coordinator-every K --no-expected-sites --heartbeat-ms H --keep (chaos)]\nsuites: ${SUITES.join(', ')}`);
    return 2;
  }
  const report: BenchReport<Row> = { suite, machine: machineInfo(), startedAt: new Date().toISOString(), results: [] };
  console.log(`${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, ${report.machine.totalMemGiB} GiB`);
  const { sites, params, dropout, degree, rounds, seed } = parsed.values;
  const cleanRounds = parsed.values['clean-rounds'];
  const coordinatorEvery = parsed.values['coordinator-every'];
  report.results = await runSuite(suite, parsed.values.quick, {
    ...(sites !== undefined ? { sites } : {}),
    ...(params !== undefined ? { params } : {}),
    ...(dropout !== undefined ? { dropout } : {}),
    ...(degree !== undefined ? { degree } : {}),
    ...(rounds !== undefined ? { rounds } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(cleanRounds !== undefined ? { cleanRounds } : {}),
    ...(coordinatorEvery !== undefined ? { coordinatorEvery } : {}),
    noExpectedSites: parsed.values['no-expected-sites'],
    ...(parsed.values['heartbeat-ms'] !== undefined ? { heartbeatMs: parsed.values['heartbeat-ms'] } : {}),
    noSecureAgg: parsed.values['no-secure-agg'],
    keep: parsed.values.keep,
    ...(parsed.values.case !== undefined ? { case: parsed.values.case } : {}),
  });
  if (parsed.values.json !== undefined) {
    writeFileSync(parsed.values.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${parsed.values.json}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
