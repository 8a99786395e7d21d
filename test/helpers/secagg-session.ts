/**
 * A whole SecAgg session run in memory with real crypto (sites, aggregator, dropouts at any stage), for the
 * protocol's unit tests and the larger SecAgg+ cohort in test/integration.
 */
import { randomBytes } from 'node:crypto';
import type { CaMaterial, IssuedCertificate } from '../../coordinator/src/pki/index.js';
import {
  type MaskWorkerPool,
  SecAggAggregator,
  SecAggSiteSession,
  type EncryptedShare,
  type Reveal,
  type SecAggConfig,
  type SessionContext,
  type SignedKeys,
} from '../../shared/src/secagg/index.js';

export const now = new Date('2026-03-01T12:00:00Z');
export const ctx: SessionContext = { studyId: 'study', round: 1, attempt: 1 };

export interface Site {
  id: string;
  cert: IssuedCertificate;
}

export function config(cohort: string[], threshold: number, degree = cohort.length - 1): SecAggConfig {
  return { threshold, cohort: [...cohort].sort(), degree, graphSeed: Buffer.alloc(32, 5), clip: 8, maxWeight: 1024, weightBucket: 1 };
}

/** Runs a whole session in memory; `dropAt` says at which stage a site stops answering. */
export function runSession(sites: Site[], ca: CaMaterial, cfg: SecAggConfig, inputs: Map<string, Uint32Array>, dropAt: Map<string, 'share-keys' | 'masked-input' | 'unmask'>) {
  const length = (inputs.values().next().value as Uint32Array).length;
  const sessions = new Map(sites.map((s) => [s.id, new SecAggSiteSession({ ctx, config: cfg, siteId: s.id, certificatePem: s.cert.certPem, keyPem: s.cert.keyPem, caCertPem: ca.certPem, now: () => now })]));
  const agg = new SecAggAggregator(ctx, cfg, length);
  // advertise
  for (const [id, s] of sessions) agg.keys.set(id, s.advertise());
  // share keys
  const boxes: EncryptedShare[] = [];
  for (const [id, s] of sessions) {
    if (dropAt.get(id) === 'share-keys') continue;
    const neighbours = agg.graph.get(id) ?? [];
    const relayed = neighbours.map((n) => agg.keys.get(n)).filter((k): k is SignedKeys => k !== undefined);
    boxes.push(...s.shareKeys(relayed));
    agg.sharers.add(id);
  }
  // masked input
  for (const [id, s] of sessions) {
    if (!agg.sharers.has(id) || dropAt.get(id) === 'masked-input') continue;
    const mine = boxes.filter((b) => b.to === id && agg.sharers.has(b.from));
    agg.addMaskedInput(id, s.maskInput(mine, Uint32Array.from(inputs.get(id) as Uint32Array)));
  }
  // unmask
  const survivors = [...agg.contributors].sort();
  const reveals = new Map<string, Reveal>();
  for (const id of survivors) {
    if (dropAt.get(id) === 'unmask') continue;
    reveals.set(id, (sessions.get(id) as SecAggSiteSession).unmask(survivors, agg.dropped));
  }
  return { agg, sessions, survivors, result: () => agg.unmask(reveals), resultParallel: (pool: MaskWorkerPool) => agg.unmaskParallel(reveals, pool) };
}

export const inputsFor = (ids: string[], len: number): Map<string, Uint32Array> => new Map(ids.map((id) => [id, new Uint32Array(randomBytes(len * 4).buffer)]));
export const plainSum = (inputs: Map<string, Uint32Array>, ids: string[], len: number): Uint32Array => {
  const s = new Uint32Array(len);
  for (const id of ids) {
    const v = inputs.get(id) as Uint32Array;
    for (let i = 0; i < len; i++) s[i] = (s[i] as number) + (v[i] as number);
  }
  return s;
};
