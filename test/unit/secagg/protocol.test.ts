import { createCipheriv, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createConsortiumCa, issueCertificate, type CaMaterial } from '../../../coordinator/src/pki/index.js';
import {
  addInto,
  applyMask,
  applyMasks,
  MaskWorkerPool,
  bucketWeight,
  defaultDegree,
  dequantizeMean,
  neighbourGraph,
  quantize,
  SecAggSiteSession,
} from '../../../shared/src/secagg/index.js';
import { config, ctx, inputsFor, now, plainSum, runSession, type Site } from '../../helpers/secagg-session.js';

describe('SecAgg protocol state machines (in memory, real crypto)', () => {
  let ca: CaMaterial;
  let sites: Site[];
  beforeAll(() => {
    ca = createConsortiumCa({ name: 'C', validityDays: 365, now });
    sites = ['h1', 'h2', 'h3', 'h4', 'h5'].map((id) => ({ id, cert: issueCertificate({ ca, role: 'site', id, validityDays: 30, now }) }));
  }, 120_000);

  type Drop = 'share-keys' | 'masked-input' | 'unmask';
  const cases: [string, Map<string, Drop>][] = [
    ['no dropout', new Map<string, Drop>()],
    ['one site drops before sharing keys', new Map<string, Drop>([['h2', 'share-keys']])],
    ['one site drops before its masked input', new Map<string, Drop>([['h3', 'masked-input']])],
    ['one site drops during unmasking', new Map<string, Drop>([['h4', 'unmask']])],
    ['a dropout at each stage at once', new Map<string, 'share-keys' | 'masked-input' | 'unmask'>([['h1', 'share-keys'], ['h3', 'masked-input']])],
  ];
  for (const [name, dropAt] of cases) {
    it(`the unmasked sum is bit-exact with the survivors' plaintext sum: ${name}`, () => {
      const len = 70_000; // spans two 64 KiB keystream chunks
      const inputs = inputsFor(sites.map((s) => s.id), len);
      const { survivors, result } = runSession(sites, ca, config(sites.map((s) => s.id), 3), inputs, dropAt);
      expect(Buffer.from(result().buffer).equals(Buffer.from(plainSum(inputs, survivors, len).buffer))).toBe(true);
    });
  }

  it('a masked input alone looks nothing like the input', () => {
    const len = 1000;
    const inputs = new Map(sites.map((s) => [s.id, new Uint32Array(len)]));
    const cfg = config(sites.map((s) => s.id), 3);
    const sessions = sites.map((s) => new SecAggSiteSession({ ctx, config: cfg, siteId: s.id, certificatePem: s.cert.certPem, keyPem: s.cert.keyPem, caCertPem: ca.certPem, now: () => now }));
    const keys = sessions.map((s) => s.advertise());
    const boxes = sessions.flatMap((s, i) => s.shareKeys(keys.filter((_, j) => j !== i)));
    const masked = sessions[0]?.maskInput(boxes.filter((b) => b.to === 'h1'), Uint32Array.from(inputs.get('h1') as Uint32Array)) as Uint32Array;
    expect(masked.filter((v) => v === 0).length).toBeLessThan(3);
  });

  it('aborts with a reason when fewer than t reveal, and sites refuse to unmask below t', () => {
    const ids = sites.map((s) => s.id);
    const inputs = inputsFor(ids, 10);
    const drops = new Map<string, 'unmask'>([['h1', 'unmask'], ['h2', 'unmask'], ['h3', 'unmask']]);
    const { result } = runSession(sites, ca, config(ids, 3), inputs, drops);
    expect(() => result()).toThrow(/shares revealed .*threshold is 3/);
    const dropped = new Map<string, 'masked-input'>([['h1', 'masked-input'], ['h2', 'masked-input'], ['h3', 'masked-input']]);
    expect(() => runSession(sites, ca, config(ids, 3), inputs, dropped)).toThrow(/below the threshold 3; refusing to unmask/);
  });

  it('enforces stage order and refuses a substituted key relayed by the coordinator', () => {
    const ids = sites.map((s) => s.id);
    const cfg = config(ids, 3);
    const mk = (i: number): SecAggSiteSession => new SecAggSiteSession({ ctx, config: cfg, siteId: ids[i] as string, certificatePem: (sites[i] as Site).cert.certPem, keyPem: (sites[i] as Site).cert.keyPem, caCertPem: ca.certPem, now: () => now });
    const s0 = mk(0);
    expect(() => s0.maskInput([], new Uint32Array(1))).toThrow(/out of order.*expected 'advertise'/);
    s0.advertise();
    expect(() => s0.advertise()).toThrow(/out of order/);
    const others = [1, 2, 3, 4].map((i) => mk(i).advertise());
    const tampered = others.map((k, i) => (i === 1 ? { ...k, maskPublicKey: randomBytes(32) } : k));
    expect(() => s0.shareKeys(tampered)).toThrow(/signature does not verify/);
    // a session cannot be asked to unmask twice or to reveal both secrets of one site
    const s1 = mk(0);
    const keys = [s1.advertise(), ...others];
    s1.shareKeys(keys.slice(1));
    expect(() => s1.unmask(ids, [])).toThrow(/out of order/);
  });

  it('SecAgg+ k-regular graph from a public seed: symmetric, regular, deterministic', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    const k = defaultDegree(100);
    expect(k).toBe(20);
    const g = neighbourGraph(ids, k, Buffer.alloc(32, 1));
    for (const [id, ns] of g) {
      expect(ns).toHaveLength(k);
      for (const n of ns) expect(g.get(n)).toContain(id);
    }
    expect(neighbourGraph(ids, k, Buffer.alloc(32, 1))).toEqual(g);
    expect(neighbourGraph(ids, k, Buffer.alloc(32, 2))).not.toEqual(g);
    expect(defaultDegree(10)).toBe(9);
  });

  it('the worker-pool unmask (self masks first, pairwise keys derived meanwhile) is bit-exact, and a refused one leaves the sum as it was', async () => {
    const ids = sites.map((s) => s.id);
    const len = 70_000;
    const inputs = inputsFor(ids, len);
    const pool = MaskWorkerPool.create(2);
    try {
      const ok = runSession(sites, ca, config(ids, 3), inputs, new Map([['h3', 'masked-input' as const]]));
      const sum = await ok.resultParallel(pool);
      expect(Buffer.from(sum.buffer).equals(Buffer.from(plainSum(inputs, ok.survivors, len).buffer))).toBe(true);
      // Only h4 and h5 reveal: every secret has 2 of the 3 shares it needs, and nothing is applied before the refusal.
      const refused = runSession(sites, ca, config(ids, 3), inputs, new Map<string, 'masked-input' | 'unmask'>([['h1', 'masked-input'], ['h2', 'unmask'], ['h3', 'unmask']]));
      const before = Buffer.from(refused.agg.sum.buffer).toString('hex');
      await expect(refused.resultParallel(pool)).rejects.toThrow(/2 shares revealed for site h\d's (self mask|mask key); threshold is 3/);
      expect(Buffer.from(refused.agg.sum.buffer).toString('hex')).toBe(before);
    } finally {
      await pool.close();
    }
  });

});

describe('quantization', () => {
  it('the sum of the full cohort at the clip bound never wraps, and decoding gives the weighted mean', () => {
    const p = { clip: 2, cohortSize: 7, maxWeight: 100 };
    const len = 5;
    const deltas = [Float32Array.from([2, -2, 0.5, 1e9, -1e9]), Float32Array.from([2, -2, -0.25, 3, -3])];
    const sum = new Int32Array(len);
    const weights = [100, 100];
    for (let r = 0; r < 7; r++) {
      const d = deltas[r % 2] as Float32Array;
      const q = new Int32Array(len);
      quantize(d, weights[r % 2] as number, p, q);
      for (let i = 0; i < len; i++) sum[i] = ((sum[i] as number) + (q[i] as number)) | 0;
    }
    const mean = dequantizeMean(sum, 700, p);
    expect(mean[0]).toBeCloseTo(2, 6);
    expect(mean[1]).toBeCloseTo(-2, 6);
    expect(mean[3]).toBeCloseTo(2, 6); // clipped
    expect(mean[2]).toBeCloseTo((4 * 0.5 + 3 * -0.25) / 7, 6);
  });

  it('stochastic rounding is unbiased', () => {
    const p = { clip: 1, cohortSize: 2 ** 20, maxWeight: 1 };
    const d = new Float32Array(200_000).fill(0.3 / (Math.floor((2 ** 31 - 1) / 2 ** 20) / 1)); // 0.3 quantization steps
    const q = new Int32Array(d.length);
    quantize(d, 1, p, q);
    const mean = q.reduce((s, v) => s + v, 0) / q.length;
    expect(mean).toBeGreaterThan(0.28);
    expect(mean).toBeLessThan(0.32);
  });

  it('buckets example counts', () => {
    expect(bucketWeight(197, 8, 1000)).toBe(200);
    expect(bucketWeight(2, 8, 1000)).toBe(8);
    expect(bucketWeight(5000, 8, 1000)).toBe(1000);
  });

  it('masks cancel exactly', () => {
    const v = new Uint32Array(randomBytes(4 * 33_000).buffer);
    const copy = Uint32Array.from(v);
    const seed = randomBytes(32);
    applyMask(v, seed, 1);
    expect(Buffer.from(v.buffer).equals(Buffer.from(copy.buffer))).toBe(false);
    applyMask(v, seed, -1);
    expect(Buffer.from(v.buffer).equals(Buffer.from(copy.buffer))).toBe(true);
    // the chunk-major variant gives the same result as one pass per seed
    const seeds = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const one = Uint32Array.from(copy);
    applyMask(one, seeds[0] as Buffer, 1);
    applyMask(one, seeds[1] as Buffer, -1);
    applyMask(one, seeds[2] as Buffer, 1);
    const many = Uint32Array.from(copy);
    applyMasks(many, [{ seed: seeds[0] as Buffer, sign: 1 }, { seed: seeds[1] as Buffer, sign: -1 }, { seed: seeds[2] as Buffer, sign: 1 }]);
    expect(Buffer.from(many.buffer).equals(Buffer.from(one.buffer))).toBe(true);
  });

  it('a mask is the AES-256-CTR keystream of the seed added (or subtracted) mod 2^32, word by word', () => {
    // Reference: the whole keystream in one call (zero IV), summed with plain unsigned arithmetic.
    const len = 40_001; // more than one 64 KiB chunk, not a multiple of it
    const seed = randomBytes(32);
    const ks = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(len * 4));
    const base = new Uint32Array(randomBytes(4 * len).buffer);
    const plus = Uint32Array.from(base);
    const minus = Uint32Array.from(base);
    applyMasks(plus, [{ seed, sign: 1 }]);
    applyMasks(minus, [{ seed, sign: -1 }]);
    for (let i = 0; i < len; i++) {
      const k = ks.readUInt32LE(i * 4);
      expect(plus[i]).toBe(((base[i] as number) + k) >>> 0);
      expect(minus[i]).toBe(((base[i] as number) - k) >>> 0);
    }
    const acc = Uint32Array.from(base);
    addInto(acc, plus);
    for (let i = 0; i < len; i++) expect(acc[i]).toBe(((base[i] as number) * 2 + ks.readUInt32LE(i * 4)) >>> 0);
  });

  it('the worker pool unmasks word for word like one thread, across range boundaries', async () => {
    const seeds = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const masks: { seed: Uint8Array; sign: 1 | -1 }[] = seeds.map((seed, i) => ({ seed, sign: i === 1 ? -1 : 1 }));
    const len = 50_003; // not a multiple of the 4-word ranges
    const one = new Uint32Array(len);
    applyMasks(one, masks);
    const shared = new Uint32Array(new SharedArrayBuffer(len * 4));
    const pool = MaskWorkerPool.create(3);
    try {
      await pool.applyMasks(shared, masks);
    } finally {
      await pool.close();
    }
    expect(Buffer.from(shared.buffer).equals(Buffer.from(one.buffer))).toBe(true);
  });

  it('the worker pool keeps overlapping calls apart: each target gets exactly its own masks', async () => {
    const len = 70_001;
    const batch = (): { seed: Uint8Array; sign: 1 | -1 }[] => [{ seed: randomBytes(32), sign: 1 }, { seed: randomBytes(32), sign: -1 }];
    const batches = [batch(), batch(), batch()];
    const pool = MaskWorkerPool.create(2);
    try {
      // Two targets at once (two studies), and two batches on the same target back to back.
      const a = new Uint32Array(new SharedArrayBuffer(len * 4));
      const b = new Uint32Array(new SharedArrayBuffer(len * 4));
      await Promise.all([pool.applyMasks(a, batches[0] ?? []), pool.applyMasks(b, batches[1] ?? []), pool.applyMasks(a, batches[2] ?? [])]);
      const wantA = new Uint32Array(len);
      applyMasks(wantA, [...(batches[0] ?? []), ...(batches[2] ?? [])]);
      const wantB = new Uint32Array(len);
      applyMasks(wantB, batches[1] ?? []);
      expect(Buffer.from(a.buffer).equals(Buffer.from(wantA.buffer))).toBe(true);
      expect(Buffer.from(b.buffer).equals(Buffer.from(wantB.buffer))).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
