/**
 * How large the SecAgg+ neighbour degree k must be (Bell et al. 2020): the per-round probabilities that a
 * colluding coalition learns some site's secrets, and that dropouts leave some neighbourhood below the
 * threshold, from binomial tails with a union bound over the n sites. Computed, not measured; the ring
 * structure of the Harary graph is ignored (as in docs/explanation/secure-aggregation.md).
 */

/** Statistical security targeted when a study names the colluding fraction it must resist: 2^-40 per round. */
export const SECURITY_BITS = 40;

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** P[Bin(n, p) ≥ m], summed in log space (exact for the sizes used here). */
export function binomialTail(n: number, p: number, m: number): number {
  if (m <= 0) return 1;
  if (m > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let total = 0;
  for (let i = m; i <= n; i++) total += Math.exp(logChoose(n, i) + i * Math.log(p) + (n - i) * Math.log1p(-p));
  return Math.min(1, total);
}

/** The default Shamir threshold: a strict majority of a site's share holders (its k neighbours and itself). */
export function majorityThreshold(n: number, k: number): number {
  return Math.floor(Math.min(n, k + 1) / 2) + 1;
}

/**
 * Per round, an upper bound on the probability that a coalition of the coordinator and a random fraction
 * `gamma` of the sites holds at least `t` of some site's shares (its k neighbours hold them; the site's
 * own share never leaves it): n · P[Bin(k, γ) ≥ t].
 */
export function exposureBound(o: { n: number; k: number; t: number; gamma: number }): number {
  return Math.min(1, o.n * binomialTail(o.k, o.gamma, o.t));
}

/**
 * Per round, an upper bound on the probability that a random fraction `delta` of dropouts leaves some
 * site with fewer than t surviving neighbours (a dropout's mask key is rebuilt from its neighbours'
 * shares alone; a survivor also holds one share of its own, so this is conservative for it), after
 * which the round aborts: n · P[Bin(k, δ) ≥ k − t + 1].
 */
export function dropoutFailureBound(o: { n: number; k: number; t: number; delta: number }): number {
  return Math.min(1, o.n * binomialTail(o.k, o.delta, o.k - o.t + 1));
}

/**
 * The smallest even degree k whose {@link exposureBound} with the majority threshold is at most
 * 2^-`bits` against a colluding fraction `gamma`, or n − 1 (the complete graph) when no smaller k does.
 */
export function degreeForCollusion(n: number, gamma: number, bits = SECURITY_BITS): number {
  if (!(gamma > 0 && gamma < 0.5)) throw new RangeError(`colluding fraction must be in (0, 0.5), got ${gamma}`);
  const target = 2 ** -bits;
  for (let k = 2; k < n - 1; k += 2) {
    if (exposureBound({ n, k, t: majorityThreshold(n, k), gamma }) <= target) return k;
  }
  return n - 1;
}
