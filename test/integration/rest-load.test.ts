import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStudy } from '../helpers/federation-fixture.js';
import { type RestFederation, startRestFederation } from '../helpers/rest-fixture.js';

// A bounded load test of the REST API over real HTTP on loopback: a fixed number of requests from a fixed number
// of concurrent clients, stopped early at a deadline. It checks that every request succeeded and prints the
// latency distribution; speed is reported, never asserted (the machine is shared).
const REQUESTS = Number(process.env['TESSERA_LOAD_REQUESTS'] ?? 3000);
const CONCURRENCY = 16;
const DEADLINE_MS = 90_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('REST load on loopback', () => {
  let fed: RestFederation;
  let url = '';

  beforeAll(async () => {
    fed = await startRestFederation({ sites: 2, rest: { rateLimit: { max: 1_000_000, windowMs: 60_000 } } });
    await fed.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = fed.app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    await fed.startAgent(0);
    await fed.startAgent(1);
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    await fed.coordinator.createStudy(makeStudy({ inputDim, id: 'load-study', rounds: 2, secureAggregation: false /* two sites: below the secure minimum of three */ }));
    expect((await fed.coordinator.runStudy('load-study')).status).toBe('completed');
  });
  afterAll(async () => {
    await fed?.close();
  });

  it(`serves ${REQUESTS} mixed authenticated requests from ${CONCURRENCY} clients without an error`, async () => {
    const routes = [
      ['olga', '/api/v1/studies'],
      ['olga', '/api/v1/studies/load-study'],
      ['cora', '/api/v1/studies/load-study/rounds'],
      ['cora', '/api/v1/studies/load-study/metrics'],
      ['olga', '/api/v1/sites'],
      ['sam', '/api/v1/sites/site-1'],
      ['cora', '/api/v1/privacy-budgets'],
      ['cora', '/api/v1/audit?limit=50'],
    ] as const;
    const latencies: number[] = [];
    const failures: string[] = [];
    let next = 0;
    const started = performance.now();
    const deadline = started + DEADLINE_MS;
    const client = async (): Promise<void> => {
      while (next < REQUESTS && performance.now() < deadline) {
        const i = next++;
        const [who, path] = routes[i % routes.length]!;
        const t0 = performance.now();
        try {
          const res = await fetch(`${url}${path}`, { headers: fed.auth(who) });
          await res.arrayBuffer();
          if (res.status !== 200) failures.push(`${path}: HTTP ${res.status}`);
        } catch (err) {
          failures.push(`${path}: ${(err as Error).message}`);
        }
        latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    const elapsed = performance.now() - started;
    const sorted = [...latencies].sort((a, b) => a - b);
    const summary = {
      requests: latencies.length,
      concurrency: CONCURRENCY,
      seconds: Number((elapsed / 1000).toFixed(2)),
      perSecond: Math.round(latencies.length / (elapsed / 1000)),
      p50ms: Number(percentile(sorted, 50).toFixed(2)),
      p95ms: Number(percentile(sorted, 95).toFixed(2)),
      p99ms: Number(percentile(sorted, 99).toFixed(2)),
      maxMs: Number((sorted.at(-1) ?? Number.NaN).toFixed(2)),
      errors: failures.length,
    };
    console.log(`REST load: ${JSON.stringify(summary)}`);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(latencies.length).toBeGreaterThan(0);
    // Bounded by count or by the deadline, whichever came first; both are reported above.
    expect(latencies.length === REQUESTS || performance.now() >= deadline).toBe(true);
  });
});
