import { InputError } from '../../../shared/src/errors.js';
import { checkRoundCounter } from './fedavg.js';
import type { ClientUpdate, Strategy, StrategyState } from './strategy.js';
import { validateUpdates } from './validate-updates.js';
import { WeightedAccumulator } from './weighted-accumulator.js';

/**
 * Byzantine-robust aggregation for plaintext studies (they need every site's update, so they cannot run
 * under secure aggregation, which reveals only the sum):
 *
 * - `fedmedian`: coordinate-wise median of the sites' weights (Yin et al. 2018);
 * - `fedtrimmedavg`: coordinate-wise mean after dropping the ⌊β·n⌋ largest and smallest values
 *   (Yin et al. 2018; β = `trimFraction`);
 * - `krum`: Multi-Krum (Blanchard et al. 2017): each update is scored by the summed squared distances to
 *   its n − f − 2 nearest others (f = `byzantineSites`); the `krumSelect` best-scored updates are
 *   averaged, weighted by their example counts (`krumSelect` 1 is Krum).
 *
 * Every update is validated in full (shape, count and finiteness, naming the site) before any arithmetic:
 * a median does not propagate a NaN the way a mean does.
 */
export type RobustName = 'fedmedian' | 'fedtrimmedavg' | 'krum';

export interface RobustOptions {
  /** β of the trimmed mean: the fraction cut from each end. @default 0.2 */
  trimFraction?: number;
  /** f of Krum: how many sites may be Byzantine; Krum needs n ≥ 2f + 3 updates. @default 1 */
  byzantineSites?: number;
  /** m of Multi-Krum: how many best-scored updates are averaged. @default 1 */
  krumSelect?: number;
}

export const DEFAULT_TRIM_FRACTION = 0.2;

/** Smallest number of updates a robust strategy accepts with these options (Krum: 2f + 3; others: 1). */
export function robustMinUpdates(name: RobustName, o: RobustOptions = {}): number {
  if (name !== 'krum') return 1;
  const f = o.byzantineSites ?? 1;
  return Math.max(2 * f + 3, o.krumSelect ?? 1);
}

export class RobustAggregate implements Strategy {
  #t = 0;
  private readonly trim: number;
  private readonly f: number;
  private readonly m: number;

  /** @throws RangeError on an option out of range (the caller names the field). */
  constructor(
    readonly name: RobustName,
    options: RobustOptions = {},
  ) {
    this.trim = options.trimFraction ?? DEFAULT_TRIM_FRACTION;
    this.f = options.byzantineSites ?? 1;
    this.m = options.krumSelect ?? 1;
    if (!(this.trim >= 0 && this.trim < 0.5)) throw new RangeError(`trimFraction must be in [0, 0.5), got ${this.trim}`);
    if (!Number.isInteger(this.f) || this.f < 0) throw new RangeError(`byzantineSites must be an integer ≥ 0, got ${this.f}`);
    if (!Number.isInteger(this.m) || this.m < 1) throw new RangeError(`krumSelect must be an integer ≥ 1, got ${this.m}`);
  }

  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): Float32Array {
    validateUpdates(global, updates);
    const need = robustMinUpdates(this.name, { byzantineSites: this.f, krumSelect: this.m });
    if (updates.length < need) {
      throw new InputError('TESSERA_INPUT_TOO_FEW_UPDATES', `${this.name} needs at least ${need} updates, got ${updates.length}`, { field: 'updates' });
    }
    const next = this.name === 'krum' ? this.krum(global.length, updates) : this.coordinatewise(global.length, updates);
    this.#t += 1;
    return next;
  }

  /** Median (β = ½ in effect) or β-trimmed mean of each coordinate, over a column buffer per coordinate. */
  private coordinatewise(d: number, updates: readonly ClientUpdate[]): Float32Array {
    const n = updates.length;
    const out = new Float32Array(d);
    const col = new Float64Array(n);
    const vectors = updates.map((u) => u.weights);
    const k = this.name === 'fedtrimmedavg' ? Math.floor(this.trim * n) : 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < n; j++) {
        // Insertion sort: n is a handful of sites.
        const v = (vectors[j] as Float32Array)[i] as number;
        let p = j - 1;
        while (p >= 0 && (col[p] as number) > v) {
          col[p + 1] = col[p] as number;
          p--;
        }
        col[p + 1] = v;
      }
      if (this.name === 'fedmedian') {
        out[i] = n % 2 === 1 ? (col[(n - 1) / 2] as number) : ((col[n / 2 - 1] as number) + (col[n / 2] as number)) / 2;
      } else {
        let s = 0;
        for (let j = k; j < n - k; j++) s += col[j] as number;
        out[i] = s / (n - 2 * k);
      }
    }
    return out;
  }

  /** Multi-Krum over the updates' weight vectors. */
  private krum(d: number, updates: readonly ClientUpdate[]): Float32Array {
    const n = updates.length;
    const dist = Array.from({ length: n }, () => new Float64Array(n));
    for (let a = 0; a < n; a++) {
      const x = (updates[a] as ClientUpdate).weights;
      for (let b = a + 1; b < n; b++) {
        const y = (updates[b] as ClientUpdate).weights;
        let s = 0;
        for (let i = 0; i < d; i++) {
          const t = (x[i] as number) - (y[i] as number);
          s += t * t;
        }
        (dist[a] as Float64Array)[b] = s;
        (dist[b] as Float64Array)[a] = s;
      }
    }
    const closest = n - this.f - 2;
    const scores = dist.map((row, a) => {
      const others = Array.from(row).filter((_, b) => b !== a).sort((p, q) => p - q);
      return { a, score: others.slice(0, closest).reduce((s, v) => s + v, 0) };
    });
    scores.sort((p, q) => p.score - q.score || p.a - q.a);
    const acc = new WeightedAccumulator(d);
    for (const { a } of scores.slice(0, this.m)) {
      const u = updates[a] as ClientUpdate;
      acc.add(u.weights, u.numExamples);
    }
    return acc.mean();
  }

  state(): StrategyState {
    return { t: this.#t };
  }

  restore(state: StrategyState): void {
    checkRoundCounter(state.t);
    this.#t = state.t;
  }
}
