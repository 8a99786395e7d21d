import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SecAggParams__Output } from '../../../protos/gen/tessera/v1/SecAggParams.js';
import type { SecAggResult } from '../../../protos/gen/tessera/v1/SecAggResult.js';
import type { SecAggTask__Output } from '../../../protos/gen/tessera/v1/SecAggTask.js';
import type { AgentConfig } from '../../../shared/src/config/agent-config.js';
import { SecAggError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import {
  bucketWeight,
  quantize,
  SecAggSiteSession,
  sessionLabel,
  type SecAggConfig,
  type SessionContext,
  type SignedKeys,
} from '../../../shared/src/secagg/index.js';

/**
 * Optional integer noise step, run on the site after quantization and before masking (the hook for
 * distributed DP: e.g. discrete Gaussian or Skellam noise whose sum over the cohort gives central DP
 * without trusting the coordinator).
 *
 * `quantized` holds the site's encoded, weight-prescaled update (one int32 per parameter; the weight
 * element is not included) and MAY be modified in place. `scale` is the fixed-point scale (encoded units
 * per unit of weight-prescaled delta, see `quantizationScale`), so noise of standard deviation σ in model
 * units is σ·scale·weight/maxWeight in encoded units. Implementations MUST keep every value inside
 * ±⌊(2^31 − 1) / cohortSize⌋ − (their own noise headroom), or the secure sum could wrap, and MUST draw
 * randomness from node:crypto.
 */
export type IntegerNoiseHook = (quantized: Int32Array, scale: number) => void;

/** The site's certificate, key and the consortium CA, as PEM text from its kit. */
export interface SiteIdentityPems {
  certificatePem: string;
  keyPem: string;
  caCertPem: string;
}

export interface SecAggClientOptions {
  siteId: string;
  identity: SiteIdentityPems;
  policy: AgentConfig['policy']['secureAggregation'];
  logger: Logger;
  now?: () => Date;
  integerNoise?: IntegerNoiseHook;
  /**
   * Site-local audit folder (`TESSERA_SECAGG_AUDIT_DIR`): when set, each session's trained weights and
   * quantized, unmasked input are written here (mode 0600) so the site — and the integration tests — can
   * check the secure sum against what the site actually contributed. Nothing in it is ever sent.
   */
  auditDir?: string;
}

interface Active {
  label: string;
  session: SecAggSiteSession;
  /** Quantized, prescaled update + weight, masked in place at the masked-input stage and then dropped. */
  input: Uint32Array | null;
}

function graphSeed(ctx: SessionContext): Buffer {
  return createHash('sha256').update(`tessera/secagg/v1/graph\0${sessionLabel(ctx)}`).digest();
}

/**
 * The site's side of secure aggregation. It checks the session parameters against the site's own policy
 * (minimum threshold and cohort, recomputes the public graph seed and degree), keeps one session's secrets
 * in memory only, and refuses any stage that is not the next one, any task for another study/round/attempt
 * than the session in progress, and any second request for a stage it already answered.
 */
export class SecAggClient {
  private active: Active | undefined;

  constructor(private readonly o: SecAggClientOptions) {}

  /** Refuses plaintext fit tasks when the site's policy requires secure aggregation. */
  checkPlaintextAllowed(): void {
    if (this.o.policy.require) throw new SecAggError('TESSERA_SECAGG_POLICY', 'site policy requires secure aggregation; the round runs without it');
  }

  private policyCheck(p: SecAggParams__Output, ctx: SessionContext): SecAggConfig {
    const { policy } = this.o;
    const cohort = [...p.cohort];
    if (cohort.length < policy.minCohort) {
      throw new SecAggError('TESSERA_SECAGG_POLICY', `cohort of ${cohort.length} sites is below this site's minimum of ${policy.minCohort}`, { round: ctx.round });
    }
    if (p.threshold < policy.minThreshold) {
      throw new SecAggError('TESSERA_SECAGG_POLICY', `threshold ${p.threshold} is below this site's minimum of ${policy.minThreshold}`, { round: ctx.round });
    }
    const holders = Math.min(cohort.length, p.degree + 1);
    if (p.threshold <= holders / 2) {
      // A majority threshold stops a coordinator from collecting both secrets of one site from two disjoint groups.
      throw new SecAggError('TESSERA_SECAGG_POLICY', `threshold ${p.threshold} is not a majority of the ${holders} share holders`, { round: ctx.round });
    }
    const seed = Buffer.from(p.graphSeed);
    if (!seed.equals(graphSeed(ctx))) throw new SecAggError('TESSERA_SECAGG_PARAMS', 'graph seed is not the public seed of this round');
    // SecAgg+ security needs k = Ω(log n) neighbours; accept the complete graph or k ≥ 2·log2(n).
    if (p.degree !== cohort.length - 1 && p.degree < Math.ceil(2 * Math.log2(cohort.length))) {
      throw new SecAggError('TESSERA_SECAGG_POLICY', `neighbour degree ${p.degree} is too small for ${cohort.length} sites`, { round: ctx.round });
    }
    return { threshold: p.threshold, cohort, degree: p.degree, graphSeed: seed, clip: p.clip, maxWeight: p.maxWeight, weightBucket: Math.max(1, p.weightBucket) };
  }

  /**
   * Stage 1 (after local training): checks the parameters, quantizes `weights − global` prescaled by the
   * bucketed example count, runs the integer noise hook, and returns freshly generated signed keys.
   */
  advertise(ctx: SessionContext, params: SecAggParams__Output, global: Float32Array, weights: Float32Array, numExamples: number): SecAggResult {
    const config = this.policyCheck(params, ctx);
    if (!config.cohort.includes(this.o.siteId)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `site ${this.o.siteId} is not in the round's cohort`);
    const session = new SecAggSiteSession({ ctx, config, siteId: this.o.siteId, ...this.o.identity, now: this.o.now ?? (() => new Date()) });
    const d = global.length;
    const input = new Uint32Array(d + 1);
    const delta = new Float32Array(d);
    for (let i = 0; i < d; i++) delta[i] = (weights[i] as number) - (global[i] as number);
    const weight = bucketWeight(numExamples, config.weightBucket, config.maxWeight);
    const q = new Int32Array(input.buffer, 0, d);
    const scale = quantize(delta, weight, { clip: config.clip, cohortSize: config.cohort.length, maxWeight: config.maxWeight }, q);
    this.o.integerNoise?.(q, scale);
    input[d] = weight;
    if (this.o.auditDir !== undefined) {
      mkdirSync(this.o.auditDir, { recursive: true, mode: 0o700 });
      const base = path.join(this.o.auditDir, sessionLabel(ctx).replaceAll('/', '_'));
      writeFileSync(`${base}.quantized.u32`, Buffer.from(input.buffer, input.byteOffset, input.byteLength), { mode: 0o600 });
      writeFileSync(`${base}.weights.f32`, Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength), { mode: 0o600 });
    }
    const keys: SignedKeys = session.advertise();
    this.active = { label: sessionLabel(ctx), session, input };
    this.o.logger.info({ round: ctx.round, attempt: ctx.attempt, cohort: config.cohort.length, threshold: config.threshold, degree: config.degree }, 'secure aggregation: keys advertised');
    return { keys: { siteId: keys.siteId, cipherPublicKey: keys.cipherPublicKey, maskPublicKey: keys.maskPublicKey, signature: keys.signature, certificatePem: keys.certificatePem } };
  }

  private session(ctx: SessionContext): Active {
    const a = this.active;
    if (!a || a.label !== sessionLabel(ctx)) {
      throw new SecAggError('TESSERA_SECAGG_STAGE', `no secure-aggregation session for ${sessionLabel(ctx)} on this site (round, attempt or restart mismatch)`, { round: ctx.round });
    }
    return a;
  }

  /** Stages 2–4. For masked-input the masked vector is returned as bytes for upload. */
  stage(ctx: SessionContext, task: SecAggTask__Output): { result: SecAggResult; upload?: Buffer } {
    const a = this.session(ctx);
    if (task.shareKeys) {
      const peers: SignedKeys[] = task.shareKeys.keys.map((k) => ({ siteId: k.siteId, cipherPublicKey: Buffer.from(k.cipherPublicKey), maskPublicKey: Buffer.from(k.maskPublicKey), signature: Buffer.from(k.signature), certificatePem: k.certificatePem }));
      const shares = a.session.shareKeys(peers);
      return { result: { shares: { shares: shares.map((s) => ({ fromSite: s.from, toSite: s.to, ciphertext: s.ciphertext })) } } };
    }
    if (task.maskedInput) {
      const input = a.input;
      if (!input) throw new SecAggError('TESSERA_SECAGG_STAGE', 'masked input already sent for this session');
      const shares = task.maskedInput.shares.map((s) => ({ from: s.fromSite, to: s.toSite, ciphertext: Buffer.from(s.ciphertext) }));
      const masked = a.session.maskInput(shares, input);
      a.input = null;
      return { result: { masked: { length: masked.length } }, upload: Buffer.from(masked.buffer, masked.byteOffset, masked.byteLength) };
    }
    if (task.unmask) {
      const reveal = a.session.unmask(task.unmask.survivors, task.unmask.dropped);
      this.active = undefined; // one unmask per session, then the secrets are gone
      this.o.logger.info({ round: ctx.round, revealedSelfMask: reveal.selfMaskShares.length, revealedMaskKey: reveal.maskKeyShares.length }, 'secure aggregation: shares revealed');
      return {
        result: {
          reveal: {
            selfMaskShares: reveal.selfMaskShares.map((r) => ({ ownerSite: r.owner, share: r.share })),
            maskKeyShares: reveal.maskKeyShares.map((r) => ({ ownerSite: r.owner, share: r.share })),
          },
        },
      };
    }
    throw new SecAggError('TESSERA_SECAGG_STAGE', 'secure-aggregation task carries no stage');
  }
}
