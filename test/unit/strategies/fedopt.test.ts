import { describe, expect, it } from 'vitest';
import { InputError } from '../../../shared/src/errors.js';
import { createRng } from '../../../shared/src/rng.js';
import { createStrategy, type ClientUpdate, type FedOptVariant } from '../../../coordinator/src/strategies/index.js';

const N = 64;

function vec(seed: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: N }, () => scale * rng.normal());
}

function round(seed: number, global: Float32Array): ClientUpdate[] {
  // Sites move the global model by small random amounts, with different example counts.
  return [12, 30, 7].map((numExamples, i) => {
    const d = vec(seed * 10 + i, 0.05);
    return { weights: global.map((g, j) => g + d[j]!), numExamples, siteId: `s${i}` };
  });
}

interface Hyper {
  eta: number;
  beta1: number;
  beta2: number;
  tau: number;
}

/** The paper's update, computed independently in float64 from the raw inputs. */
function byHand(
  variant: FedOptVariant,
  h: Hyper,
  global: Float32Array,
  updates: ClientUpdate[],
  m: number[],
  v: number[],
): { w: number[]; m: number[]; v: number[] } {
  const total = updates.reduce((s, u) => s + u.numExamples, 0);
  const out = { w: [] as number[], m: [] as number[], v: [] as number[] };
  for (let i = 0; i < N; i++) {
    const mean = Math.fround(updates.reduce((s, u) => s + u.numExamples * u.weights[i]!, 0) / total);
    const delta = mean - global[i]!;
    const mi = h.beta1 * m[i]! + (1 - h.beta1) * delta;
    const vi =
      variant === 'fedadagrad'
        ? v[i]! + delta ** 2
        : variant === 'fedadam'
          ? h.beta2 * v[i]! + (1 - h.beta2) * delta ** 2
          : v[i]! - (1 - h.beta2) * delta ** 2 * Math.sign(v[i]! - delta ** 2);
    out.m.push(mi);
    out.v.push(vi);
    out.w.push(global[i]! + (h.eta * mi) / (Math.sqrt(vi) + h.tau));
  }
  return out;
}

const DEFAULTS: Record<FedOptVariant, Hyper> = {
  fedadam: { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 },
  fedyogi: { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedadagrad: { eta: 0.1, beta1: 0, beta2: 0.99, tau: 1e-9 },
};

const close = (got: ArrayLike<number>, want: number[]): void => {
  want.forEach((w, i) => expect(Math.abs(got[i]! - w)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w))));
};

describe.each(['fedadam', 'fedyogi', 'fedadagrad'] as const)('%s', (variant) => {
  it('has Flower-matching defaults', () => {
    const s = createStrategy(variant);
    expect(s.name).toBe(variant);
    expect((s as unknown as { options: Hyper }).options).toEqual(DEFAULTS[variant]);
  });

  it('matches the formula computed by hand for two consecutive steps', () => {
    // Arrange
    const h = DEFAULTS[variant];
    const s = createStrategy(variant);
    const g0 = vec(1);
    const u1 = round(1, g0);
    // Act: step 1 from zero state
    const g1 = s.aggregate(g0, u1);
    // Assert
    const ref1 = byHand(variant, h, g0, u1, new Array<number>(N).fill(0), new Array<number>(N).fill(0));
    close(g1, ref1.w);
    close(s.state().m!, ref1.m);
    close(s.state().v!, ref1.v);
    expect(s.state().t).toBe(1);
    // Step 2 uses the stored moments (float32, as persisted).
    const u2 = round(2, g1);
    const g2 = s.aggregate(g1, u2);
    const ref2 = byHand(variant, h, g1, u2, [...Float32Array.from(ref1.m)], [...Float32Array.from(ref1.v)]);
    close(g2, ref2.w);
  });

  it('honours custom hyper-parameters', () => {
    const h = { eta: 0.5, beta1: 0.5, beta2: 0.9, tau: 0.01 };
    const g0 = vec(3);
    const u = round(3, g0);
    const out = createStrategy(variant, h).aggregate(g0, u);
    close(out, byHand(variant, h, g0, u, new Array<number>(N).fill(0), new Array<number>(N).fill(0)).w);
  });

  it('round-trips its state into a fresh instance (restart)', () => {
    const a = createStrategy(variant);
    const g0 = vec(5);
    const g1 = a.aggregate(g0, round(5, g0));
    const saved = a.state();
    saved.m![0] = saved.m![0]! + 0; // a copy: mutating it must not affect `a`
    const b = createStrategy(variant);
    b.restore(saved);
    saved.m!.fill(123);
    const u = round(6, g1);
    expect(b.aggregate(g1, u)).toEqual(a.aggregate(g1, u));
    expect(b.state()).toEqual(a.state());
  });

  it('rejects inconsistent state and leaves state alone on a bad update', () => {
    const s = createStrategy(variant);
    expect(() => s.restore({ m: new Float32Array(2), t: 1 })).toThrow(InputError);
    expect(() => s.restore({ t: -1 })).toThrow(InputError);
    const g0 = vec(7);
    s.aggregate(g0, round(7, g0));
    const before = s.state();
    expect(() => s.aggregate(g0, [{ weights: new Float32Array(N).fill(NaN), numExamples: 1, siteId: 'x' }])).toThrow(
      InputError,
    );
    expect(() => s.aggregate(new Float32Array(N + 1), [{ weights: new Float32Array(N + 1), numExamples: 1, siteId: 'x' }])).toThrow(
      InputError,
    );
    expect(s.state()).toEqual(before);
  });
});
