import { randomBytes, type KeyObject } from 'node:crypto';
import { SecAggError } from '../errors.js';
import { generateX25519, pairwiseKey, privateKeyObject, publicKeyObject, encryptShare, decryptShare, signKeys, verifyKeys, KEY_BYTES, type SessionContext, type SignedKeys, type X25519KeyPair } from './keys.js';
import { addInto, applyMasks } from './mask.js';
import type { MaskWorkerPool } from './mask-pool.js';
import { neighbourGraph } from './neighbours.js';
import { combineShares, ELEMENT_BYTES, splitSecret, type Share } from './shamir.js';
import type { RevocationChecker } from '../pki/verify-peer.js';

/** Public parameters of one SecAgg session, chosen by the coordinator and checked by every site. */
export interface SecAggConfig {
  /** Shamir threshold: shares needed to reconstruct a site's secrets (counted among its neighbourhood incl. itself). */
  threshold: number;
  /** Site ids of the cohort, sorted; a site's share evaluation point is its index + 1. */
  cohort: string[];
  /** Neighbours per site: cohort size − 1 (complete graph) or an even k (SecAgg+). */
  degree: number;
  /** Public 32-byte seed of the neighbour graph. */
  graphSeed: Buffer;
  /** Per-coordinate clip of the update delta. */
  clip: number;
  /** Weights (bucketed example counts) are capped here; pre-scaling divides by it. */
  maxWeight: number;
  /** Example counts are rounded to a multiple of this before weighting. */
  weightBucket: number;
}

/** The order of stages (Bonawitz et al. 2017, rounds 0, 1, 2 and 4); a site accepts only the next one. */
export const SECAGG_STAGES = ['advertise', 'share-keys', 'masked-input', 'unmask'] as const;
export type SecAggStage = (typeof SECAGG_STAGES)[number];

/** A Shamir share pair encrypted for one neighbour: AES-256-GCM(selfMaskShare ‖ maskKeyShare). */
export interface EncryptedShare {
  from: string;
  to: string;
  ciphertext: Buffer;
}

/** A share a survivor reveals in the unmask stage: of `owner`'s self-mask seed (owner survived) or mask key (owner dropped). */
export interface RevealedShare {
  owner: string;
  share: Buffer;
}

export interface Reveal {
  selfMaskShares: RevealedShare[];
  maskKeyShares: RevealedShare[];
}

const SHARE_BYTES = 2 * ELEMENT_BYTES; // a 32-byte secret = two field elements

/** Pairwise mask sign: the smaller id adds, the larger subtracts, so the pair cancels in the sum. */
export function maskSign(self: string, peer: string): 1 | -1 {
  return self < peer ? 1 : -1;
}

/** Checks the public parameters every site recomputes; returns the neighbour graph. */
export function checkConfig(config: SecAggConfig): Map<string, string[]> {
  const n = config.cohort.length;
  if (config.graphSeed.byteLength !== 32) throw new SecAggError('TESSERA_SECAGG_PARAMS', 'graph seed must be 32 bytes');
  const graph = neighbourGraph(config.cohort, config.degree, config.graphSeed);
  const holders = Math.min(n, config.degree + 1);
  if (!Number.isInteger(config.threshold) || config.threshold < 1 || config.threshold > holders) {
    throw new SecAggError('TESSERA_SECAGG_PARAMS', `threshold ${config.threshold} must be between 1 and the ${holders} share holders per site`);
  }
  return graph;
}

export interface SiteSessionOptions {
  ctx: SessionContext;
  config: SecAggConfig;
  siteId: string;
  /** PEMs of the site's own certificate and key (the site kit) and of the consortium CA. */
  certificatePem: string;
  keyPem: string;
  caCertPem: string;
  now: () => Date;
  revocations?: RevocationChecker;
}

/**
 * One site's side of one SecAgg session, a strict state machine over {@link SECAGG_STAGES}. Secrets (the
 * X25519 private keys and the self-mask seed) live only in this object's memory: they are never written
 * to disk, so a crashed agent cannot be made to unmask an old input.
 */
export class SecAggSiteSession {
  private next: SecAggStage = 'advertise';
  private readonly graph: Map<string, string[]>;
  private readonly cipherKeys: X25519KeyPair = generateX25519();
  private readonly maskKeys: X25519KeyPair = generateX25519();
  private readonly cipherPrivate = privateKeyObject(this.cipherKeys.privateKey);
  private readonly maskPrivate = privateKeyObject(this.maskKeys.privateKey);
  private readonly selfSeed = randomBytes(KEY_BYTES);
  private peers = new Map<string, SignedKeys>();
  /** The verified peers' public keys, parsed once. */
  private readonly peerKeys = new Map<string, { cipher: KeyObject; mask: KeyObject }>();
  /** Decrypted shares held for each neighbour (and self) that completed share-keys: [selfMaskShare, maskKeyShare]. */
  private readonly held = new Map<string, [Buffer, Buffer]>();
  /** Neighbours this site masked with (those whose shares reached it). */
  private maskedWith: string[] = [];

  constructor(private readonly o: SiteSessionOptions) {
    this.graph = checkConfig(o.config);
    if (!o.config.cohort.includes(o.siteId)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `site ${o.siteId} is not in the session's cohort`);
  }

  get stage(): SecAggStage {
    return this.next;
  }

  private enter(stage: SecAggStage): void {
    if (stage !== this.next) {
      throw new SecAggError('TESSERA_SECAGG_STAGE', `stage '${stage}' out of order for round ${this.o.ctx.round}: expected '${this.next}'`, { round: this.o.ctx.round, stage });
    }
    const i = SECAGG_STAGES.indexOf(stage);
    this.next = SECAGG_STAGES[i + 1] ?? ('done' as SecAggStage);
  }

  private get neighbours(): string[] {
    return this.graph.get(this.o.siteId) ?? [];
  }

  /** Stage 0: fresh key pairs, signed with the site certificate's key. */
  advertise(): SignedKeys {
    this.enter('advertise');
    return signKeys(this.o.ctx, this.o.siteId, { cipherPublicKey: this.cipherKeys.publicKey, maskPublicKey: this.maskKeys.publicKey }, this.o.keyPem, this.o.certificatePem);
  }

  /**
   * Stage 1: verifies every neighbour's signed keys (a substituted or altered key fails here), then shares
   * the self-mask seed and the mask private key t-of-(neighbours + self) and encrypts each neighbour's pair.
   */
  shareKeys(advertised: readonly SignedKeys[]): EncryptedShare[] {
    this.enter('share-keys');
    const mine = advertised.find((k) => k.siteId === this.o.siteId);
    if (mine && (!mine.cipherPublicKey.equals(this.cipherKeys.publicKey) || !mine.maskPublicKey.equals(this.maskKeys.publicKey))) {
      throw new SecAggError('TESSERA_SECAGG_BAD_KEY', `the coordinator relayed keys for site ${this.o.siteId} that this site did not advertise`);
    }
    const neighbours = new Set(this.neighbours);
    for (const k of advertised) {
      if (k.siteId === this.o.siteId) continue;
      if (!neighbours.has(k.siteId)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `keys of site ${k.siteId}, which is not a neighbour of ${this.o.siteId}`, { siteId: k.siteId });
      if (this.peers.has(k.siteId)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `keys of site ${k.siteId} relayed twice`, { siteId: k.siteId });
      verifyKeys(this.o.ctx, k, this.o.caCertPem, this.o.now(), this.o.revocations);
      this.peers.set(k.siteId, k);
      this.peerKeys.set(k.siteId, { cipher: publicKeyObject(k.cipherPublicKey), mask: publicKeyObject(k.maskPublicKey) });
    }
    const t = this.o.config.threshold;
    if (this.peers.size + 1 < t) {
      throw new SecAggError('TESSERA_SECAGG_TOO_FEW', `only ${this.peers.size} neighbours advertised keys; threshold ${t} needs ${t - 1}`, { round: this.o.ctx.round });
    }
    const cohort = this.o.config.cohort;
    // Shares go to every neighbour (whether it advertised or not: absent ones just never receive theirs) and to self.
    const holders = [...this.neighbours, this.o.siteId].sort();
    const sb = splitSecret(this.selfSeed, t, cohort.length);
    const ss = splitSecret(this.maskKeys.privateKey, t, cohort.length);
    const out: EncryptedShare[] = [];
    for (const h of holders) {
      const x = cohort.indexOf(h);
      const pair: [Buffer, Buffer] = [(sb[x] as Share).y, (ss[x] as Share).y];
      if (h === this.o.siteId) {
        this.held.set(h, pair);
        continue;
      }
      const peer = this.peerKeys.get(h);
      if (!peer) continue;
      const key = pairwiseKey(this.o.ctx, 'share-encryption', { id: this.o.siteId, privateKey: this.cipherPrivate }, { id: h, publicKey: peer.cipher });
      out.push({ from: this.o.siteId, to: h, ciphertext: encryptShare(this.o.ctx, key, this.o.siteId, h, Buffer.concat(pair)) });
    }
    return out;
  }

  /**
   * Stage 2: decrypts the shares addressed to this site (their senders form U2 ∩ neighbours) and masks
   * `input` in place: + self mask + Σ ± pairwise masks with those senders. Returns the same array.
   */
  maskInput(shares: readonly EncryptedShare[], input: Uint32Array): Uint32Array {
    this.enter('masked-input');
    const senders: string[] = [];
    for (const s of shares) {
      if (s.to !== this.o.siteId) throw new SecAggError('TESSERA_SECAGG_BAD_SHARE', `share addressed to ${s.to} delivered to ${this.o.siteId}`);
      const peer = this.peerKeys.get(s.from);
      if (!peer) throw new SecAggError('TESSERA_SECAGG_BAD_SHARE', `share from site ${s.from}, whose keys this site never verified`, { siteId: s.from });
      if (this.held.has(s.from)) throw new SecAggError('TESSERA_SECAGG_BAD_SHARE', `two shares from site ${s.from}`, { siteId: s.from });
      const key = pairwiseKey(this.o.ctx, 'share-encryption', { id: this.o.siteId, privateKey: this.cipherPrivate }, { id: s.from, publicKey: peer.cipher });
      const plain = decryptShare(this.o.ctx, key, s.from, this.o.siteId, s.ciphertext);
      if (plain.byteLength !== 2 * SHARE_BYTES) throw new SecAggError('TESSERA_SECAGG_BAD_SHARE', `share from site ${s.from} has the wrong size`, { siteId: s.from });
      this.held.set(s.from, [plain.subarray(0, SHARE_BYTES), plain.subarray(SHARE_BYTES)]);
      senders.push(s.from);
    }
    if (senders.length + 1 < this.o.config.threshold) {
      throw new SecAggError('TESSERA_SECAGG_TOO_FEW', `only ${senders.length} neighbours shared keys; threshold ${this.o.config.threshold} needs ${this.o.config.threshold - 1}`);
    }
    const masks: { seed: Uint8Array; sign: 1 | -1 }[] = [{ seed: this.selfSeed, sign: 1 }];
    for (const v of senders.sort()) {
      const peer = this.peerKeys.get(v) as { mask: KeyObject };
      masks.push({ seed: pairwiseKey(this.o.ctx, 'mask', { id: this.o.siteId, privateKey: this.maskPrivate }, { id: v, publicKey: peer.mask }), sign: maskSign(this.o.siteId, v) });
    }
    applyMasks(input, masks);
    this.maskedWith = senders;
    return input;
  }

  /**
   * Stage 4: reveals, for each neighbour whose shares this site holds, the self-mask share if it survived or
   * the mask-key share if it dropped; never both for one site, and only if at least t sites survived.
   */
  unmask(survivors: readonly string[], dropped: readonly string[]): Reveal {
    this.enter('unmask');
    const alive = new Set(survivors);
    const gone = new Set(dropped);
    if (alive.size !== survivors.length || gone.size !== dropped.length) throw new SecAggError('TESSERA_SECAGG_PARAMS', 'survivor or dropout list has duplicates');
    for (const d of gone) if (alive.has(d)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `site ${d} is listed both as survivor and as dropped`, { siteId: d });
    if (!alive.has(this.o.siteId)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `site ${this.o.siteId} is not in the survivor list it was sent`);
    if (alive.size < this.o.config.threshold) {
      throw new SecAggError('TESSERA_SECAGG_TOO_FEW', `${alive.size} survivors is below the threshold ${this.o.config.threshold}; refusing to unmask`, { round: this.o.ctx.round });
    }
    const reveal: Reveal = { selfMaskShares: [], maskKeyShares: [] };
    for (const [owner, [b, s]] of this.held) {
      if (alive.has(owner)) reveal.selfMaskShares.push({ owner, share: b });
      else if (gone.has(owner)) reveal.maskKeyShares.push({ owner, share: s });
    }
    return reveal;
  }

  /** Neighbours whose pairwise masks are in this site's masked input (for tests and audit). */
  get maskedNeighbours(): readonly string[] {
    return this.maskedWith;
  }
}

/**
 * The coordinator's side: keeps the relayed public keys, the share routing (who shared with whom) and the
 * running mod-2^32 sum of masked inputs, and finally removes the masks from the reveals. It never holds a
 * private key or an unmasked individual input.
 */
export class SecAggAggregator {
  readonly graph: Map<string, string[]>;
  readonly keys = new Map<string, SignedKeys>();
  /** U2: sites whose encrypted shares were accepted. */
  readonly sharers = new Set<string>();
  /** U3: sites whose masked input was added to the sum. */
  readonly contributors = new Set<string>();
  readonly sum: Uint32Array;

  constructor(
    readonly ctx: SessionContext,
    readonly config: SecAggConfig,
    readonly length: number,
  ) {
    this.graph = checkConfig(config);
    // Shared memory so a MaskWorkerPool can unmask it in place on several threads.
    this.sum = new Uint32Array(new SharedArrayBuffer(length * 4));
  }

  /** Adds a masked input to the running sum (mod 2^32). */
  addMaskedInput(siteId: string, masked: Uint32Array): void {
    if (!this.sharers.has(siteId)) throw new SecAggError('TESSERA_SECAGG_STAGE', `masked input from site ${siteId}, which did not complete share-keys`, { siteId });
    if (this.contributors.has(siteId)) throw new SecAggError('TESSERA_SECAGG_STAGE', `second masked input from site ${siteId}`, { siteId });
    if (masked.length !== this.length) throw new SecAggError('TESSERA_SECAGG_PARAMS', `masked input of site ${siteId} has ${masked.length} values, expected ${this.length}`, { siteId });
    addInto(this.sum, masked);
    this.contributors.add(siteId);
  }

  /** U2 \ U3: sites that shared keys but whose masked input never arrived. */
  get dropped(): string[] {
    return [...this.sharers].filter((s) => !this.contributors.has(s)).sort();
  }

  /**
   * Removes every mask: reconstructs each survivor's self-mask seed and each dropout's mask key from the
   * reveals (≥ t shares each) and subtracts the corresponding keystreams. Returns the plain sum (mod 2^32).
   * @throws SecAggError `TESSERA_SECAGG_TOO_FEW` when some secret has fewer than t revealed shares.
   */
  unmask(reveals: ReadonlyMap<string, Reveal>): Uint32Array {
    const shares = this.collectShares(reveals);
    applyMasks(this.sum, [...this.selfMasks(shares.self), ...this.pairwiseMasks(shares.keys)]);
    return this.sum;
  }

  /**
   * {@link unmask} with the keystream work spread over a worker pool (same result, word for word). The
   * survivors' self masks go to the workers first; the dropouts' pairwise keys (an X25519 agreement per
   * surviving neighbour) are derived while the workers expand them. Every share count is checked before
   * anything is applied, so a refused unmask leaves the sum as it was.
   */
  async unmaskParallel(reveals: ReadonlyMap<string, Reveal>, pool: MaskWorkerPool): Promise<Uint32Array> {
    const shares = this.collectShares(reveals);
    const self = pool.applyMasks(this.sum, this.selfMasks(shares.self));
    let pairwise: Promise<void>;
    try {
      pairwise = pool.applyMasks(this.sum, this.pairwiseMasks(shares.keys));
    } catch (err) {
      await self.catch(() => undefined);
      throw err;
    }
    await Promise.all([self, pairwise]);
    return this.sum;
  }

  /**
   * The revealed shares of every secret to rebuild: each contributor's self-mask seed and each dropout's
   * mask key, from its share holders only.
   * @throws SecAggError `TESSERA_SECAGG_TOO_FEW` when some secret has fewer than t revealed shares.
   */
  private collectShares(reveals: ReadonlyMap<string, Reveal>): { self: Map<string, Share[]>; keys: Map<string, Share[]> } {
    const { cohort, threshold } = this.config;
    const collect = (kind: 'selfMaskShares' | 'maskKeyShares', owner: string): Share[] => {
      const shares: Share[] = [];
      const allowed = new Set([...(this.graph.get(owner) ?? []), owner]);
      for (const [holder, r] of reveals) {
        if (!allowed.has(holder)) continue;
        const s = r[kind].find((x) => x.owner === owner);
        if (s) shares.push({ x: cohort.indexOf(holder) + 1, y: s.share });
      }
      if (shares.length < threshold) {
        throw new SecAggError('TESSERA_SECAGG_TOO_FEW', `${shares.length} shares revealed for site ${owner}'s ${kind === 'selfMaskShares' ? 'self mask' : 'mask key'}; threshold is ${threshold}`, { siteId: owner });
      }
      return shares;
    };
    const self = new Map<string, Share[]>();
    for (const u of [...this.contributors].sort()) self.set(u, collect('selfMaskShares', u));
    const keys = new Map<string, Share[]>();
    for (const v of this.dropped) keys.set(v, collect('maskKeyShares', v));
    return { self, keys };
  }

  /** Each contributor's self mask, to subtract. */
  private selfMasks(self: ReadonlyMap<string, Share[]>): { seed: Uint8Array; sign: 1 | -1 }[] {
    return [...self].map(([, shares]) => ({ seed: combineShares(shares, this.config.threshold, KEY_BYTES), sign: -1 }));
  }

  /** Each dropout's pairwise masks with its contributing neighbours, to take back out. */
  private pairwiseMasks(keys: ReadonlyMap<string, Share[]>): { seed: Uint8Array; sign: 1 | -1 }[] {
    const masks: { seed: Uint8Array; sign: 1 | -1 }[] = [];
    const publics = new Map<string, ReturnType<typeof publicKeyObject>>();
    for (const [v, shares] of keys) {
      const sk = privateKeyObject(combineShares(shares, this.config.threshold, KEY_BYTES));
      for (const u of this.graph.get(v) ?? []) {
        if (!this.contributors.has(u)) continue;
        const raw = this.keys.get(u)?.maskPublicKey;
        if (!raw) continue;
        const pk = publics.get(u) ?? publicKeyObject(raw);
        publics.set(u, pk);
        const seed = pairwiseKey(this.ctx, 'mask', { id: v, privateKey: sk }, { id: u, publicKey: pk });
        // u added maskSign(u, v)·PRG(seed); take it back out.
        masks.push({ seed, sign: maskSign(u, v) === 1 ? -1 : 1 });
      }
    }
    return masks;
  }
}
