import os from 'node:os';

/** Host description stored with every report so figures from different machines are not compared blindly. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  /** Node/V8 flags of the benchmark process (the transfer suite's coordinator side runs under them). */
  nodeFlags: string[];
  totalMemGiB: number;
}

export interface BenchReport<R> {
  suite: string;
  machine: MachineInfo;
  /** ISO-8601. */
  startedAt: string;
  results: R[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    node: process.version,
    nodeFlags: [...process.execArgv],
    totalMemGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
  };
}

/** Rounds to `digits` significant digits (keeps the JSON readable without losing what matters). */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** Runs `fn` `runs` times and returns the fastest wall time in seconds (best of N). */
export async function bestOf(runs: number, fn: () => Promise<void> | void): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < best) best = s;
  }
  return best;
}

/** A fixed-width text table of `rows` (the keys of the first row are the columns). */
export function formatTable<T extends object>(items: readonly T[]): string {
  const rows = items as readonly Record<string, unknown>[];
  const first = rows[0];
  if (first === undefined) return '(no results)';
  const cols = Object.keys(first);
  const cell = (v: unknown): string => (typeof v === 'number' && !Number.isInteger(v) ? String(round(v, 4)) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padStart(widths[i] ?? 0)).join('  ');
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}
