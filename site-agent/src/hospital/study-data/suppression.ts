/**
 * Cell suppression for the feasibility counts: primary suppression of every count below the site's
 * minimum, and complementary (secondary) suppression so that no suppressed count can be worked out from
 * the published ones.
 *
 * The published counts are linked by sums (a total and the cells that add up to it: patients by exclusion
 * reason, labelled patients by class and by split, skipped images by reason). A suppressed cell alone in a
 * sum is its total minus the others; two suppressed cells whose sum is 0 are both 0. So after the primary
 * pass the cells are checked against every sum at once, and while one suppressed cell is pinned to a single
 * value a published cell sharing a sum with it is suppressed as well: the next-smallest cell of the group
 * (a part before a total), unless another of them leaves fewer counts suppressed once everything is settled
 * (in a funnel, hiding a stage total can spare every count below it).
 *
 * The check is interval (bounds) propagation over the sums, with each suppressed cell bounded as the
 * published form says: a primary one (`"<10"`) in [0, min − 1], a complementary one (`"suppressed"`) in
 * [min, ∞). The feasibility report's sums form an acyclic hypergraph (two sums share at most one cell and
 * no chain of sums comes back on itself), for which bounds propagation to a fixed point is exact: a cell
 * whose interval stays wider than one value can take at least two values consistent with everything shown.
 */

/** A published count, or its suppressed form: `<min` (below the site minimum) or `suppressed` (complementary). */
export type ReportedCount = number | `<${number}` | 'suppressed';

/** A sum the published cells obey: `total = Σ parts`. Cell names are the caller's. */
export interface CountSum {
  readonly total: string;
  readonly parts: readonly string[];
}

/** One count as reported on its own: below `min` (0 included) it is `<min`. */
export function suppress(n: number, min: number): ReportedCount {
  return n < min ? `<${min}` : n;
}

interface Interval {
  lo: number;
  hi: number;
}

/**
 * The interval each cell can take given what is published (`shown`: cell → its reported form). Cells not in
 * `shown` are taken as published 0 (absent keys). Exact for acyclic sums (see the module note).
 */
export function feasibleIntervals(shown: ReadonlyMap<string, ReportedCount>, sums: readonly CountSum[], min: number): Map<string, Interval> {
  const iv = new Map<string, Interval>();
  const get = (c: string): Interval => {
    let v = iv.get(c);
    if (v === undefined) {
      const s = shown.get(c) ?? 0;
      v = typeof s === 'number' ? { lo: s, hi: s } : s === 'suppressed' ? { lo: min, hi: Infinity } : { lo: 0, hi: min - 1 };
      iv.set(c, v);
    }
    return v;
  };
  for (const s of sums) [s.total, ...s.parts].forEach(get);
  for (const c of shown.keys()) get(c);
  // Each pass only narrows an integer interval, so this ends; the bound keeps a bug from spinning.
  for (let pass = 0, changed = true; changed && pass < 10_000; pass++) {
    changed = false;
    for (const s of sums) {
      const total = get(s.total);
      const parts = s.parts.map(get);
      const loSum = parts.reduce((a, p) => a + p.lo, 0);
      // Complementary cells have no upper bound of their own: keep ∞ out of the arithmetic (∞ − ∞).
      const unbounded = parts.filter((p) => p.hi === Infinity).length;
      const finiteHi = parts.reduce((a, p) => (p.hi === Infinity ? a : a + p.hi), 0);
      const hiSum = unbounded > 0 ? Infinity : finiteHi;
      const hiOthers = (p: Interval): number => (unbounded - (p.hi === Infinity ? 1 : 0) > 0 ? Infinity : finiteHi - (p.hi === Infinity ? 0 : p.hi));
      const narrow = (v: Interval, lo: number, hi: number): void => {
        if (lo > v.lo) {
          v.lo = lo;
          changed = true;
        }
        if (hi < v.hi) {
          v.hi = hi;
          changed = true;
        }
      };
      narrow(total, loSum, hiSum);
      for (const p of parts) narrow(p, total.lo - hiOthers(p), total.hi - (loSum - p.lo));
    }
  }
  return iv;
}

/** How many complementary choices ahead the suppression looks, and among how many candidates each time. */
const LOOKAHEAD_DEPTH = 4;
const LOOKAHEAD_WIDTH = 3;

/**
 * Suppresses `counts` for publication: primary below `min`, then complementary until no suppressed cell
 * is pinned to one value by `sums`. Returns each cell's reported form.
 */
export function suppressLinked(counts: ReadonlyMap<string, number>, sums: readonly CountSum[], min: number): Map<string, ReportedCount> {
  const shown = new Map<string, ReportedCount>([...counts].map(([c, n]) => [c, suppress(n, min)]));
  return settle(counts, sums, min, shown, LOOKAHEAD_DEPTH);
}

/**
 * Adds complementary cells until nothing is pinned. Each pinned cell takes one of the shown cells sharing a
 * sum with it: the smallest part, else the smallest total — or, `depth` choices deep, whichever of the
 * {@link LOOKAHEAD_WIDTH} first leaves the fewest counts suppressed in the end (hiding a stage total can spare
 * the whole funnel below it). The tables are small (tens of cells), so the search stays cheap.
 */
function settle(counts: ReadonlyMap<string, number>, sums: readonly CountSum[], min: number, shown: Map<string, ReportedCount>, depth: number): Map<string, ReportedCount> {
  for (let guard = 0; guard <= counts.size; guard++) {
    const iv = feasibleIntervals(shown, sums, min);
    const pinned = [...shown].find(([c, s]) => typeof s !== 'number' && iv.get(c)?.lo === iv.get(c)?.hi)?.[0];
    if (pinned === undefined) return shown;
    const candidates = complements(pinned, counts, shown, sums);
    // No published cell is linked to it at all: nothing shown can pin it, so the propagation cannot either.
    let pick = candidates[0];
    if (pick === undefined) return shown;
    if (depth > 0 && candidates.length > 1) {
      let fewest = Infinity;
      for (const c of candidates.slice(0, LOOKAHEAD_WIDTH)) {
        const trial = settle(counts, sums, min, new Map(shown).set(c, 'suppressed'), depth - 1);
        const hidden = [...trial.values()].filter((v) => typeof v !== 'number').length;
        if (hidden < fewest) [fewest, pick] = [hidden, c];
      }
    }
    shown.set(pick, 'suppressed');
  }
  return shown;
}

/**
 * The published cells sharing a sum with `cell`, parts (smallest first) before totals (smallest first); when
 * every cell of its sums is suppressed already, the same one ring further out (the pin came through those cells).
 */
function complements(cell: string, counts: ReadonlyMap<string, number>, shown: ReadonlyMap<string, ReportedCount>, sums: readonly CountSum[]): string[] {
  const published = (cells: readonly string[]): string[] => cells.filter((c) => typeof shown.get(c) === 'number');
  const bySize = (cells: string[]): string[] => [...new Set(cells)].sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0) || (a < b ? -1 : 1));
  const seen = new Set<string>([cell]);
  let ring = [cell];
  while (ring.length > 0) {
    const related = sums.filter((s) => ring.some((c) => s.total === c || s.parts.includes(c)));
    const parts = bySize(related.flatMap((s) => published(s.parts)));
    const found = [...parts, ...bySize(related.flatMap((s) => published([s.total]))).filter((c) => !parts.includes(c))];
    if (found.length > 0) return found;
    ring = related.flatMap((s) => [s.total, ...s.parts]).filter((c) => !seen.has(c));
    ring.forEach((c) => seen.add(c));
  }
  return [];
}
