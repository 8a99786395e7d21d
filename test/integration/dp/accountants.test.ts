import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  calibrateNoiseMultiplier,
  composeSubsampledGaussian,
  DEFAULT_RDP_ORDERS,
  epsilonFor,
  gaussianEpsilon,
  rdpEpsilon,
  subsampledGaussianRdp,
  type AccountantName,
} from '../../../shared/src/dp/index.js';
import { sharedDataDir } from '../../../cli/src/public-data.js';

// Reference values from Google's dp_accounting (see ../shared/data/dp-reference/README.md).
const refDir = path.join(sharedDataDir(), 'dp-reference');
const present = existsSync(path.join(refDir, 'dp_reference.csv'));

interface RefRow {
  accountant: AccountantName;
  q: number;
  sigma: number;
  steps: number;
  delta: number;
  epsilon: number | 'skipped';
}

function readCsv(file: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(path.join(refDir, file), 'utf8').trim().split('\n');
  const keys = (header ?? '').split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i] ?? '', v])));
}

const rows: RefRow[] = present
  ? readCsv('dp_reference.csv').map((r) => ({
      accountant: r['accountant'] as AccountantName,
      q: Number(r['q']),
      sigma: Number(r['sigma']),
      steps: Number(r['steps']),
      delta: Number(r['delta']),
      epsilon: r['epsilon'] === 'skipped' ? 'skipped' : Number(r['epsilon']),
    }))
  : [];

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

/** log A_α by brute-force quadrature of E_{z~N(0,σ²)}[((1−q) + q·e^{(2z−1)/(2σ²)})^α]: the definition. */
function rdpByQuadrature(q: number, sigma: number, alpha: number): number {
  const lo = -40 * sigma - 5;
  const hi = 40 * sigma + 5;
  const n = 400_000;
  const h = (hi - lo) / n;
  const logs = new Float64Array(n + 1);
  let max = -Infinity;
  for (let k = 0; k <= n; k++) {
    const z = lo + k * h;
    const log0 = (-z * z) / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
    const r = (2 * z - 1) / (2 * sigma * sigma);
    const logMix = r > 0 ? r + Math.log(q + (1 - q) * Math.exp(-r)) : Math.log1p(q * Math.expm1(r));
    logs[k] = log0 + alpha * logMix;
    max = Math.max(max, logs[k] as number);
  }
  let sum = 0;
  for (const t of logs) sum += Math.exp(t - max);
  return (max + Math.log(sum * h)) / (alpha - 1);
}

describe('RDP of the subsampled Gaussian', () => {
  it.each([
    [0.1, 1.1, 1.5],
    [0.1, 0.5, 1.3],
    [0.01, 0.5, 1.5],
    [0.1, 0.8, 2.5],
    [0.1, 2, 3],
    [0.004, 1.1, 7],
  ])('q=%f σ=%f α=%f equals the quadrature of its definition (fractional and integer orders)', (q, sigma, alpha) => {
    expect(relErr(subsampledGaussianRdp(q, sigma, alpha), rdpByQuadrature(q, sigma, alpha))).toBeLessThan(1e-6);
  });

  it('is α/(2σ²) without subsampling and 0 with q = 0', () => {
    expect(subsampledGaussianRdp(1, 2, 3)).toBeCloseTo(3 / 8, 15);
    expect(subsampledGaussianRdp(0, 2, 3)).toBe(0);
  });
});

describe.skipIf(!present)('accountants agree with dp_accounting (dp-reference/dp_reference.csv)', () => {
  const rdpRows = rows.filter((r): r is RefRow & { epsilon: number } => r.accountant === 'rdp' && r.epsilon !== 'skipped');

  it(`RDP: every row within 1%, except where dp_accounting dropped fractional orders (${rdpRows.length} rows)`, () => {
    const exceptions: string[] = [];
    for (const r of rdpRows) {
      const ours = rdpEpsilon([{ q: r.q, sigma: r.sigma, steps: r.steps }], r.delta).epsilon;
      if (relErr(ours, r.epsilon) <= 0.01) continue;
      // Documented difference (README caveat "Fractional RDP orders can be dropped"): dp_accounting
      // stops a fractional order's series early and drops the order; we sum it to convergence (the
      // values match quadrature above), so our ε can only be smaller, and the reference's value is
      // then the ε of one of the orders it kept: some order of our own curve reproduces it.
      expect(ours, `q=${r.q} σ=${r.sigma} steps=${r.steps} δ=${r.delta}`).toBeLessThan(r.epsilon);
      // The integer orders' series is finite and exact in both, so the reference cannot exceed our
      // ε over the integer orders alone.
      const integerOnly = rdpEpsilon([{ q: r.q, sigma: r.sigma, steps: r.steps }], r.delta, DEFAULT_RDP_ORDERS.filter(Number.isInteger)).epsilon;
      expect(r.epsilon, `reference ε above our integer-order ε ${integerOnly}`).toBeLessThanOrEqual(integerOnly * 1.01);
      expect(r.q, 'only subsampled rows can differ').toBeLessThan(1);
      exceptions.push(`q=${r.q} σ=${r.sigma} steps=${r.steps}`);
    }
    // 16 rows differ: the README's 10 (q = 0.1; σ 0.5 at 100–10000 steps, σ 0.8 and 1.0 at 10000) and
    // 6 more of the same kind in this run of the library (q = 0.1 with σ 0.8 at 1000 and σ 1.1 at 10000
    // steps; q = 0.01 with σ 0.5 at 10000 steps), all at both deltas. The other 268 agree within 0.75%.
    expect(exceptions.length).toBeLessThanOrEqual(16);
    expect(rdpRows.length - exceptions.length).toBeGreaterThanOrEqual(268);
  });

  // One composition per event answers both deltas. The 12 events with 10000 steps and σ < 2 at
  // q ∈ {0.1, 0.01} take seconds each and are left out to keep the unit run short; run with
  // TESSERA_DP_FULL=1 to include them (all 268 rows then agree within 0.13%, the largest gap being
  // q = 0.1, σ = 0.5, 10000 steps, where ε ≈ 783 and the discretisation error adds up).
  const full = process.env['TESSERA_DP_FULL'] === '1';
  const pldEvents = new Map<string, (RefRow & { epsilon: number | 'skipped' })[]>();
  for (const r of rows.filter((x) => x.accountant === 'pld' && (full || x.q === 1 || x.q < 0.005 || x.steps < 10_000 || x.sigma >= 2))) {
    const key = `${r.q}/${r.sigma}/${r.steps}`;
    pldEvents.set(key, [...(pldEvents.get(key) ?? []), r]);
  }
  it.each([...pldEvents.entries()])('PLD %s (q/σ/steps) within 1% at every δ', (_key, group) => {
    const first = group[0] as RefRow;
    const composed = composeSubsampledGaussian({ q: first.q, sigma: first.sigma, steps: first.steps });
    for (const r of group) {
      const ours = composed.epsilon(r.delta);
      if (r.epsilon === 'skipped') {
        // The reference skipped these (q = 1, slow in dp_accounting); ours is the analytic Gaussian.
        expect(ours).toBe(gaussianEpsilon(r.sigma / Math.sqrt(r.steps), r.delta));
        continue;
      }
      expect(relErr(ours, r.epsilon), `δ=${r.delta}: ours ${ours}, reference ${r.epsilon}`).toBeLessThan(0.01);
    }
  }, 120_000);

  const calibration = present
    ? readCsv('dp_calibration.csv').map((r) => ({
        accountant: r['accountant'] as AccountantName,
        q: Number(r['q']),
        steps: Number(r['steps']),
        delta: Number(r['delta']),
        target: Number(r['target_epsilon']),
        sigma: Number(r['sigma']),
      }))
    : [];
  it.each(calibration)('calibration $accountant q=$q steps=$steps ε=$target: σ within 1% of $sigma', (c) => {
    // A looser tolerance than the reference's 1e-7 keeps the PLD runs short; 2e-3·σ is well inside 1%.
    const sigma = calibrateNoiseMultiplier({ epsilon: c.target, delta: c.delta, q: c.q, steps: c.steps, accountant: c.accountant, tolerance: 2e-3 * c.sigma });
    expect(relErr(sigma, c.sigma)).toBeLessThan(0.01);
    // On the safe side: the σ returned reaches the target.
    expect(epsilonFor(c.accountant, { q: c.q, sigma, steps: c.steps }, c.delta)).toBeLessThanOrEqual(c.target);
  }, 120_000);
});

describe('calibration', () => {
  it('rejects targets out of range with a message naming the field', () => {
    expect(() => calibrateNoiseMultiplier({ epsilon: 0, delta: 1e-5, q: 0.1, steps: 10, accountant: 'rdp' })).toThrow(/epsilon/);
    expect(() => calibrateNoiseMultiplier({ epsilon: 1, delta: 1, q: 0.1, steps: 10, accountant: 'rdp' })).toThrow(/delta/);
    expect(() => calibrateNoiseMultiplier({ epsilon: 1, delta: 1e-5, q: 0.1, steps: 0, accountant: 'rdp' })).toThrow(/steps/);
  });

  it('PLD needs less noise than RDP for the same target (it is the tighter accountant)', () => {
    const t = { epsilon: 1, delta: 1e-5, q: 0.05, steps: 500 } as const;
    const pld = calibrateNoiseMultiplier({ ...t, accountant: 'pld', tolerance: 1e-3 });
    const rdp = calibrateNoiseMultiplier({ ...t, accountant: 'rdp', tolerance: 1e-3 });
    expect(pld).toBeLessThan(rdp);
  });
});
