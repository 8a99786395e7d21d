import { randomBytes, randomFillSync } from 'node:crypto';
import { graphSeedFor } from '../coordinator/src/rounds/secagg-workflow.js';
import { createStrategy } from '../coordinator/src/strategies/create-strategy.js';
import type { ClientUpdate } from '../coordinator/src/strategies/strategy.js';
import { decodeWeights, encodeWeights } from '../shared/src/ml/weights.js';
import { createConsortiumCa, issueCertificate, type IssuedCertificate } from '../coordinator/src/pki/index.js';
import {
  applyMasks,
  COMPLETE_GRAPH_UP_TO,
  defaultDegree,
  dequantizeMean,
  generateX25519,
  keystreamOnly,
  majorityThreshold,
  MaskWorkerPool,
  maskSign,
  pairwiseKey,
  privateKeyObject,
  publicKeyObject,
  SecAggAggregator,
  SecAggSiteSession,
  type EncryptedShare,
  type Reveal,
  type SecAggConfig,
  type SessionContext,
  type SignedKeys,
} from '../shared/src/secagg/index.js';
import { bestOf, round } from './report.js';

export interface SecAggCaseOptions {
  sites: number;
  params: number;
  /** Fraction of sites that drop after sharing keys, before their masked input (the costly case). */
  dropout: number;
  /** SecAgg+ neighbour degree (even) above the complete-graph size; default 3·log2 n, as in a study. */
  degree?: number;
}

/** One row of `npm run bench -- secagg`: the fields the secure-aggregation issue names, plus the degree used. */
export interface SecAggCase {
  sites: number;
  params: number;
  dropout: number;
  /** The neighbour degree k used (n − 1: the complete graph). */
  degree: number;
  /** Coordinator, plaintext FedAvg: take the received updates (decode + validate) and aggregate. Best of `runs`. */
  plainMs: number;
  /** Coordinator, SecAgg: take the received masked inputs, sum mod 2^32, reconstruct secrets, unmask (mask workers: min(4, cores) threads), decode, aggregate. */
  secureMs: number;
  /** secureMs / plainMs. */
  ratio: number;
  /** Bytes one site sends per parameter under SecAgg (masked input + keys + shares + reveal), averaged over sites. */
  bytesPerParam: number;
  /** One site's masking time (X25519 + HKDF per neighbour, expand and add the self and pairwise masks), best of 5. */
  clientMaskMs: number;
  /** Time to generate the same number of keystream bytes with AES-256-CTR in 64 KiB chunks (best of 5, interleaved with clientMaskMs). */
  keystreamMs: number;
}

const PROTO_FIELD = 4; // tag + length prefix, upper bound for these sizes

function ids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `site-${String(i + 1).padStart(4, '0')}`);
}

let certCache: { n: number; caPem: string; certs: IssuedCertificate[] } | undefined;
function certificates(n: number): { caPem: string; certs: IssuedCertificate[] } {
  if (certCache && certCache.n >= n) return { caPem: certCache.caPem, certs: certCache.certs.slice(0, n) };
  const now = new Date();
  const ca = createConsortiumCa({ name: 'bench', validityDays: 30, now });
  const certs = ids(n).map((id) => issueCertificate({ ca, role: 'site', id, validityDays: 7, now }));
  certCache = { n, caPem: ca.certPem, certs };
  return { caPem: ca.certPem, certs };
}

/**
 * Dropped sites, spread evenly over the SecAgg+ ring (every neighbourhood loses the same share): the bench
 * measures cost, so it uses a pattern every neighbourhood survives at the default threshold.
 */
function droppedSet(cohort: string[], dropout: number): Set<string> {
  const count = Math.round(cohort.length * dropout);
  const out = new Set<string>();
  for (let i = 0; i < count; i++) out.add(cohort[Math.floor((i * cohort.length) / count)] as string);
  return out;
}

let sink = 0;

/** Runs one case: a full in-memory SecAgg(+) session with real crypto, then times the coordinator's two paths. */
export async function runSecAggCase(o: SecAggCaseOptions, runs = 3): Promise<SecAggCase> {
  const { caPem, certs } = certificates(o.sites);
  const cohort = ids(o.sites);
  const ctx: SessionContext = { studyId: 'bench', round: 1, attempt: 1 };
  const degree = o.degree !== undefined && o.sites > COMPLETE_GRAPH_UP_TO ? Math.min(o.sites - 1, o.degree) : defaultDegree(o.sites);
  const config: SecAggConfig = {
    threshold: majorityThreshold(o.sites, degree),
    cohort,
    degree,
    graphSeed: graphSeedFor(ctx),
    clip: 8,
    maxWeight: 16_384,
    weightBucket: 8,
  };
  const length = o.params + 1;
  const now = new Date();
  const sessions = cohort.map((id, i) => new SecAggSiteSession({ ctx, config, siteId: id, certificatePem: (certs[i] as IssuedCertificate).certPem, keyPem: (certs[i] as IssuedCertificate).keyPem, caCertPem: caPem, now: () => now }));
  const agg = new SecAggAggregator(ctx, config, length);
  const sent = new Map<string, number>(cohort.map((id) => [id, 0]));
  const add = (id: string, bytes: number): void => {
    sent.set(id, (sent.get(id) ?? 0) + bytes);
  };
  for (const s of sessions) {
    const k = s.advertise();
    agg.keys.set(k.siteId, k);
    add(k.siteId, k.cipherPublicKey.byteLength + k.maskPublicKey.byteLength + k.signature.byteLength + k.certificatePem.length + k.siteId.length + 5 * PROTO_FIELD);
  }
  const boxes: EncryptedShare[] = [];
  sessions.forEach((s, i) => {
    const id = cohort[i] as string;
    const relayed = (agg.graph.get(id) ?? []).map((n) => agg.keys.get(n) as SignedKeys);
    const out = s.shareKeys(relayed);
    for (const b of out) add(id, b.ciphertext.byteLength + b.from.length + b.to.length + 4 * PROTO_FIELD);
    boxes.push(...out);
    agg.sharers.add(id);
  });
  const dropped = droppedSet(cohort, o.dropout);
  // Inputs: random quantized values in range, and the same-size float updates for the plaintext path.
  const maskedUploads = new Map<string, Buffer>();
  const plainUploads: Buffer[] = [];
  const keystreamWords: number[] = [];
  const limit = Math.floor((2 ** 31 - 1) / o.sites);
  for (let i = 0; i < cohort.length; i++) {
    const id = cohort[i] as string;
    const f = new Float32Array(o.params);
    randomFillSync(f);
    for (let j = 0; j < f.length; j++) f[j] = ((f[j] as number) % 1) || 0;
    if (!dropped.has(id)) plainUploads.push(encodeWeights(f));
    const input = new Uint32Array(length);
    for (let j = 0; j < o.params; j++) input[j] = ((Math.imul(j + 1, i + 7) % limit) >>> 0);
    input[o.params] = 128;
    const mine = boxes.filter((b) => b.to === id);
    (sessions[i] as SecAggSiteSession).maskInput(mine, input);
    keystreamWords.push((1 + (sessions[i] as SecAggSiteSession).maskedNeighbours.length) * length);
    if (!dropped.has(id)) {
      maskedUploads.set(id, Buffer.from(input.buffer));
      add(id, length * 4 + 3 * PROTO_FIELD);
    }
  }
  // Reveals (site-side, untimed).
  const survivors = cohort.filter((id) => !dropped.has(id));
  const droppedList = [...dropped].sort();
  const reveals = new Map<string, Reveal>();
  for (const [i, id] of cohort.entries()) {
    if (dropped.has(id)) continue;
    const r = (sessions[i] as SecAggSiteSession).unmask(survivors, droppedList);
    reveals.set(id, r);
    for (const x of [...r.selfMaskShares, ...r.maskKeyShares]) add(id, x.share.byteLength + x.owner.length + 3 * PROTO_FIELD);
  }

  const global = new Float32Array(o.params);
  const pool = MaskWorkerPool.create();
  const plainS = await bestOf(runs, () => {
    const updates: ClientUpdate[] = plainUploads.map((b, i) => ({ siteId: `s${i}`, weights: decodeWeights(b, o.params), numExamples: 100 + i }));
    sink += createStrategy('fedavg').aggregate(global, updates)[0] ?? 0;
  });
  const secureS = await bestOf(runs, async () => {
    const a = new SecAggAggregator(ctx, config, length);
    for (const [k, v] of agg.keys) a.keys.set(k, v);
    for (const s of agg.sharers) a.sharers.add(s);
    for (const [id, bytes] of maskedUploads) a.addMaskedInput(id, new Uint32Array(bytes.buffer, bytes.byteOffset, length));
    const sum = await a.unmaskParallel(reveals, pool);
    const ints = new Int32Array(sum.buffer, 0, length);
    const delta = dequantizeMean(ints.subarray(0, o.params), sum[o.params] as number, { clip: config.clip, cohortSize: o.sites, maxWeight: config.maxWeight });
    sink += createStrategy('fedavg').aggregate(global, [{ siteId: 'secure', weights: delta, numExamples: 1 }])[0] ?? 0;
  });
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const words = median(keystreamWords);
  // One site's masking, timed like the keystream (best of 3, warm): X25519 + HKDF per neighbour, then the
  // self mask and every pairwise mask expanded and added in place.
  const site = cohort[0] as string;
  const neighbours = agg.graph.get(site) ?? [];
  const own = generateX25519();
  const ownKey = privateKeyObject(own.privateKey);
  const peerKeys = neighbours.map((n) => ({ id: n, key: publicKeyObject((agg.keys.get(n) as SignedKeys).maskPublicKey) }));
  const target = new Uint32Array(length);
  const selfSeed = randomBytes(32);
  // Interleaved, best of 5 each, so both see the same machine load.
  const seed = Buffer.alloc(32, 1);
  let maskS = Number.POSITIVE_INFINITY;
  let keystreamS = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 5; r++) {
    maskS = Math.min(maskS, await bestOf(1, () => {
      const masks: { seed: Uint8Array; sign: 1 | -1 }[] = [{ seed: selfSeed, sign: 1 }];
      for (const p of peerKeys) masks.push({ seed: pairwiseKey(ctx, 'mask', { id: site, privateKey: ownKey }, { id: p.id, publicKey: p.key }), sign: maskSign(site, p.id) });
      applyMasks(target, masks);
      sink += target[0] ?? 0;
    }));
    keystreamS = Math.min(keystreamS, await bestOf(1, () => {
      sink += keystreamOnly(seed, words * 4);
    }));
  }
  await pool.close();
  const senders = survivors.map((id) => sent.get(id) ?? 0);
  const plainMs = plainS * 1000;
  const secureMs = secureS * 1000;
  if (Number.isNaN(sink)) console.error('unexpected NaN');
  return {
    sites: o.sites,
    params: o.params,
    dropout: o.dropout,
    degree,
    plainMs: round(plainMs),
    secureMs: round(secureMs),
    ratio: round(secureMs / plainMs, 3),
    bytesPerParam: round(senders.reduce((s, b) => s + b, 0) / senders.length / o.params, 5),
    clientMaskMs: round(maskS * 1000),
    keystreamMs: round(keystreamS * 1000),
  };
}

/** All cases in order (each builds its own session). */
export async function runSecAggSuite(cases: readonly SecAggCaseOptions[], runs = 3): Promise<SecAggCase[]> {
  const out: SecAggCase[] = [];
  for (const c of cases) out.push(await runSecAggCase(c, runs));
  return out;
}
