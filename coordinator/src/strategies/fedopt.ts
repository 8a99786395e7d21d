import { InputError } from '../../../shared/src/errors.js';
import { checkRoundCounter, weightedMean } from './fedavg.js';
import { assertFinite } from '../../../shared/src/ml/weights.js';
import type { ClientUpdate, Strategy, StrategyState } from './strategy.js';

/** The adaptive server optimisers of Reddi et al. 2021, "Adaptive Federated Optimization". */
export type FedOptVariant = 'fedadam' | 'fedyogi' | 'fedadagrad';

/**
 * Hyper-parameters of the adaptive strategies. Defaults follow Flower's `FedAdam`, `FedYogi` and
 * `FedAdagrad` per variant; `eta_l` (the client learning rate) belongs to the site training config.
 */
export interface FedOptOptions {
  /**
   * Server learning rate η.
   * @default 0.1 (fedadam, fedadagrad), 0.01 (fedyogi)
   */
  eta?: number;
  /**
   * Momentum β₁ of the pseudo-gradient.
   * @default 0.9 (fedadam, fedyogi), 0 (fedadagrad, as in Flower: no momentum)
   */
  beta1?: number;
  /**
   * Second-moment decay β₂ (unused by fedadagrad, which accumulates).
   * @default 0.99
   */
  beta2?: number;
  /**
   * Adaptivity τ: added to √v; larger means less adaptive.
   * @default 1e-9 (fedadam, fedadagrad), 1e-3 (fedyogi)
   */
  tau?: number;
}

/** The fully-defaulted, validated options. */
export type CompiledFedOptOptions = Readonly<Required<FedOptOptions>>;

const DEFAULTS: Readonly<Record<FedOptVariant, CompiledFedOptOptions>> = {
  fedadam: { eta: 1e-1, beta1: 0.9, beta2: 0.99, tau: 1e-9 },
  fedyogi: { eta: 1e-2, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedadagrad: { eta: 1e-1, beta1: 0, beta2: 0.99, tau: 1e-9 },
};

/**
 * Applies defaults and checks ranges.
 * @throws RangeError naming the option (η > 0, β in [0, 1), τ > 0).
 */
export function compileFedOptOptions(variant: FedOptVariant, options: FedOptOptions = {}): CompiledFedOptOptions {
  const o = { ...DEFAULTS[variant], ...stripUndefined(options) };
  const check = (ok: boolean, field: string, rule: string): void => {
    if (!ok) throw new RangeError(`'${variant}.${field}' must be ${rule}`);
  };
  check(Number.isFinite(o.eta) && o.eta > 0, 'eta', '> 0');
  check(o.beta1 >= 0 && o.beta1 < 1, 'beta1', 'in [0, 1)');
  check(o.beta2 >= 0 && o.beta2 < 1, 'beta2', 'in [0, 1)');
  check(Number.isFinite(o.tau) && o.tau > 0, 'tau', '> 0');
  return Object.freeze(o);
}

function stripUndefined(o: FedOptOptions): FedOptOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * FedAdam / FedYogi / FedAdagrad. Per round, with x̄ the example-weighted mean of the sites' weights:
 *
 * ```
 * Δ = x̄ − w
 * m = β₁·m + (1 − β₁)·Δ
 * v = v + Δ²                                (adagrad)
 *   = β₂·v + (1 − β₂)·Δ²                    (adam)
 *   = v − (1 − β₂)·Δ²·sign(v − Δ²)          (yogi)
 * w = w + η·m / (√v + τ)
 * ```
 *
 * `m` and `v` start at zero (as in Flower). No Adam bias correction: this is the paper's Algorithm 2;
 * Flower's FedAdam additionally scales η by √(1 − β₂ᵗ⁺¹)/(1 − β₁ᵗ⁺¹), which only changes early rounds.
 * Arithmetic is float64 per element; state is stored as float32.
 */
export class FedOpt implements Strategy {
  readonly name: FedOptVariant;
  readonly options: CompiledFedOptOptions;
  #m: Float32Array | undefined;
  #v: Float32Array | undefined;
  #t = 0;

  constructor(variant: FedOptVariant, options: FedOptOptions = {}) {
    this.name = variant;
    this.options = compileFedOptOptions(variant, options);
  }

  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): Float32Array {
    const mean = weightedMean(global, updates); // validates every update before state changes
    assertFinite(global, 'global weights');
    const n = global.length;
    if (this.#m !== undefined && this.#m.length !== n) {
      throw new InputError('TESSERA_INPUT_WEIGHTS_SHAPE', `global has ${n} values, optimiser state has ${this.#m.length}`, {
        values: n,
        expectedParams: this.#m.length,
      });
    }
    const m = this.#m ?? new Float32Array(n);
    const v = this.#v ?? new Float32Array(n);
    const out = new Float32Array(n);
    const { eta, beta1, beta2, tau } = this.options;
    for (let i = 0; i < n; i++) {
      const w = global[i] as number;
      const d = (mean[i] as number) - w;
      const d2 = d * d;
      const mi = beta1 * (m[i] as number) + (1 - beta1) * d;
      const vPrev = v[i] as number;
      let vi: number;
      switch (this.name) {
        case 'fedadagrad':
          vi = vPrev + d2;
          break;
        case 'fedadam':
          vi = beta2 * vPrev + (1 - beta2) * d2;
          break;
        case 'fedyogi':
          vi = vPrev - (1 - beta2) * d2 * Math.sign(vPrev - d2);
          break;
      }
      m[i] = mi;
      v[i] = vi;
      out[i] = w + (eta * mi) / (Math.sqrt(vi) + tau);
    }
    this.#m = m;
    this.#v = v;
    this.#t += 1;
    return out;
  }

  state(): StrategyState {
    const s: StrategyState = { t: this.#t };
    if (this.#m !== undefined) s.m = this.#m.slice();
    if (this.#v !== undefined) s.v = this.#v.slice();
    return s;
  }

  restore(state: StrategyState): void {
    checkRoundCounter(state.t);
    if ((state.m === undefined) !== (state.v === undefined) || (state.m && state.v && state.m.length !== state.v.length)) {
      throw new InputError('TESSERA_INPUT_STRATEGY_STATE', "strategy state 'm' and 'v' must both be present with equal length", {
        field: 'm',
      });
    }
    this.#m = state.m?.slice();
    this.#v = state.v?.slice();
    this.#t = state.t;
  }
}
