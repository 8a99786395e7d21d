/**
 * `npm run bench -- <suite> [--json FILE] [--quick]`: Tessera's throughput benchmarks.
 *
 * Suites: `transfer` (raw TCP / raw TLS / gRPC + mTLS upload and download on 127.0.0.1), `aggregation`
 * (FedAvg kernel and strategies against a plain typed-array loop), `dp` (DP-SGD training throughput
 * against non-DP training of the same model in the same run) and `all`.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runAggregationSuite } from './aggregation.js';
import { runDpSuite } from './dp.js';
import { formatTable, machineInfo, type BenchReport } from './report.js';
import { runTransferSuite } from './transfer.js';

const MiB = 1024 * 1024;
export const SUITES = ['transfer', 'aggregation', 'dp', 'all'] as const;
export type SuiteName = (typeof SUITES)[number];

function isSuite(name: string | undefined): name is SuiteName {
  return (SUITES as readonly string[]).includes(name ?? '');
}

type Row = Record<string, unknown> & { suite: 'transfer' | 'aggregation' | 'dp' };

async function runSuite(suite: SuiteName, quick: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  if (suite === 'transfer' || suite === 'all') {
    const transfer = await runTransferSuite(quick ? { sizes: [16 * MiB] } : {});
    console.log(`\ntransfer (best of 3, MB = 1e6 bytes; client and server in one process on 127.0.0.1)\n${formatTable(transfer)}`);
    rows.push(...transfer.map((r) => ({ suite: 'transfer' as const, ...r })));
  }
  if (suite === 'aggregation' || suite === 'all') {
    const aggregation = await runAggregationSuite(quick ? { sites: [4, 10] } : {});
    console.log(`\naggregation (best of 3, one thread)\n${formatTable(aggregation)}`);
    rows.push(...aggregation.map((r) => ({ suite: 'aggregation' as const, ...r })));
  }
  if (suite === 'dp' || suite === 'all') {
    const dp = await runDpSuite(quick ? { runs: 1 } : {});
    console.log(`\ndp (best of 3; examples/s of DP-SGD vs plain SGD, same model, backend and run)\n${formatTable(dp)}`);
    rows.push(...dp.map((r) => ({ suite: 'dp' as const, ...r })));
  }
  return rows;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'string' }, quick: { type: 'boolean', default: false } },
    });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const [suite, ...extra] = parsed.positionals;
  if (!isSuite(suite) || extra.length > 0) {
    console.error(`usage: npm run bench -- <suite> [--json FILE] [--quick]\nsuites: ${SUITES.join(', ')}`);
    return 2;
  }
  const report: BenchReport<Row> = { suite, machine: machineInfo(), startedAt: new Date().toISOString(), results: [] };
  console.log(`${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, ${report.machine.totalMemGiB} GiB`);
  report.results = await runSuite(suite, parsed.values.quick);
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
