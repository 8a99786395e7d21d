import { createHash } from 'node:crypto';
import { SecAggError } from '../errors.js';

/**
 * The SecAgg+ communication graph (Bell et al. 2020). Up to `completeUpTo` sites it is the complete
 * graph (classic SecAgg, Bonawitz et al. 2017). Beyond, it is a random k-regular Harary graph: the
 * cohort is permuted by a public per-round seed and each site is joined to the k/2 sites on either
 * side of it in that ring, with k the even number ≥ 3·log2(n). Every site recomputes it from the seed
 * and the sorted cohort, so a coordinator cannot hand different sites different graphs unnoticed.
 */
export const COMPLETE_GRAPH_UP_TO = 32;

export function defaultDegree(n: number, completeUpTo = COMPLETE_GRAPH_UP_TO): number {
  if (n <= completeUpTo) return n - 1;
  const k = Math.ceil(3 * Math.log2(n));
  return Math.min(n - 1, k % 2 === 0 ? k : k + 1);
}

/** Deterministic Fisher–Yates from a 32-byte public seed (SHA-256 in counter mode; unbiased by rejection). */
function permute(ids: readonly string[], seed: Uint8Array): string[] {
  const out = [...ids];
  let counter = 0;
  let pool: Buffer = Buffer.alloc(0);
  let pos = 0;
  const next32 = (): number => {
    if (pos + 4 > pool.byteLength) {
      pool = createHash('sha256').update(seed).update(String(counter++)).digest();
      pos = 0;
    }
    const v = pool.readUInt32BE(pos);
    pos += 4;
    return v;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = Math.floor(2 ** 32 / bound) * bound;
    let r = next32();
    while (r >= limit) r = next32();
    const j = r % bound;
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out;
}

/**
 * Neighbours of every site, by id. `cohort` MUST be sorted and duplicate-free; `degree` is even or n − 1.
 * @throws SecAggError `TESSERA_SECAGG_PARAMS` for an invalid degree or cohort.
 */
export function neighbourGraph(cohort: readonly string[], degree: number, seed: Uint8Array): Map<string, string[]> {
  const n = cohort.length;
  for (let i = 1; i < n; i++) {
    if ((cohort[i - 1] as string) >= (cohort[i] as string)) throw new SecAggError('TESSERA_SECAGG_PARAMS', 'cohort must be sorted and without duplicates');
  }
  const graph = new Map<string, string[]>();
  if (degree === n - 1) {
    for (const id of cohort) graph.set(id, cohort.filter((o) => o !== id));
    return graph;
  }
  if (degree < 2 || degree % 2 !== 0 || degree >= n) throw new SecAggError('TESSERA_SECAGG_PARAMS', `degree ${degree} is not even and below the cohort size ${n}`);
  const ring = permute(cohort, seed);
  ring.forEach((id, i) => {
    const ns: string[] = [];
    for (let d = 1; d <= degree / 2; d++) ns.push(ring[(i + d) % n] as string, ring[(i - d + n) % n] as string);
    graph.set(id, ns.sort());
  });
  return graph;
}
