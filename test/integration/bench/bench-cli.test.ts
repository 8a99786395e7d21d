import { describe, expect, it } from 'vitest';
import { runAggregationSuite } from '../../../bench/aggregation.js';
import { formatTable, machineInfo, type BenchReport } from '../../../bench/report.js';

// Smoke test of the benchmark harness: shapes only. No timing is asserted (CI machines vary).
describe('bench aggregation suite', () => {
  it('produces one row per implementation and site count with the documented fields', async () => {
    const results = await runAggregationSuite({ sites: [2, 5], params: 1000, runs: 1 });
    expect(results.map((r) => [r.impl, r.sites])).toEqual([
      ['WeightedAccumulator', 2],
      ['fedavg', 2],
      ['fedyogi', 2],
      ['WeightedAccumulator', 5],
      ['fedavg', 5],
      ['fedyogi', 5],
    ]);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual(
        ['baselineParamsPerSecond', 'impl', 'msPerAggregate', 'params', 'paramsPerSecond', 'ratio', 'sites'].sort(),
      );
      expect(r.params).toBe(1000);
      for (const v of [r.msPerAggregate, r.paramsPerSecond, r.baselineParamsPerSecond, r.ratio]) {
        expect(Number.isFinite(v) && v > 0).toBe(true);
      }
    }
    const report: BenchReport<(typeof results)[number]> = {
      suite: 'aggregation',
      machine: machineInfo(),
      startedAt: new Date().toISOString(),
      results,
    };
    const json = JSON.parse(JSON.stringify(report)) as typeof report;
    expect(json.machine.cpus).toBeGreaterThan(0);
    expect(typeof json.machine.cpuModel).toBe('string');
    expect(json.machine.node).toMatch(/^v\d+/);
    expect(json.results).toHaveLength(6);
    expect(formatTable(results).split('\n')).toHaveLength(2 + results.length);
  });
});

describe('bench transfer suite', () => {
  it('moves a payload on every path with the site side on both placements (shapes only)', async () => {
    const { runTransferSuite } = await import('../../../bench/transfer.js');
    const results = await runTransferSuite({ sizes: [1024 * 1024 + 7], runs: 1 });
    expect(results.map((r) => [r.client, r.path])).toEqual(
      (['same-thread', 'worker-thread'] as const).flatMap((c) =>
        (['raw-tcp', 'raw-tls', 'grpc-mtls-upload', 'grpc-mtls-download'] as const).map((p) => [c, p]),
      ),
    );
    for (const r of results) {
      expect(r.bytes).toBe(1024 * 1024 + 7);
      expect(Number.isFinite(r.MBps) && r.MBps > 0).toBe(true);
    }
  }, 60_000);
});
