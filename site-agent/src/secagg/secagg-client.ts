import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SecAggParams__Output } from '../../../protos/gen/tessera/v1/SecAggParams.js';
import type { SecAggResult } from '../../../protos/gen/tessera/v1/SecAggResult.js';
import type { SecAggTask__Output } from '../../../protos/gen/tessera/v1/SecAggTask.js';
import type { PrivacySpend } from '../../../protos/gen/tessera/v1/PrivacySpend.js';
import type { AgentConfig } from '../../../shared/src/config/agent-config.js';
import { encodeSiteLevelInput, siteLevelScale, updatePartNoiseMultiplier } from '../../../shared/src/dp/site-level.js';
import { createSecureRandom } from '../../../shared/src/dp/noise.js';
import { errorMessage, SecAggError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { signedKeysFromProto, signedKeysToProto } from '../../../shared/src/transport/secagg-wire.js';
import {
  bucketWeight,
  graphSeedFor,
  quantize,
  SecAggSiteSession,
  sessionLabel,
  type SecAggConfig,
  type SessionContext,
  type SignedKeys,
} from '../../../shared/src/secagg/index.js';

/**
 * Site-level DP-FedAvg under secure aggregation (from the task's `DpConfig`): the site's input is its
 * clipped, quantised update plus its share of the distributed discrete Gaussian, built in the integer
 * domain by `encodeSiteLevelInput`, with weight 1 (unweighted mean).
 */
export interface SiteLevelSecAgg {
  clip: number;
  /** Noise multiplier of the decoded sum (update and count together). */
  noiseMultiplier: number;
  /** Sites whose noise shares the sum must hold: the site refuses to unmask with fewer survivors. */
  noiseShares: number;
  /** Integer units per unit of update, as the coordinator chose it (checked against the wrap bound). */
  scale: number;
  /** σ_b of the adaptive-clipping count; absent with fixed clipping. */
  countNoise?: number;
}

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
  /** Site-level DP: the fewest survivors whose sum carries enough noise shares to be revealed. */
  minSurvivors: number;
  /** DP: records this round's ε in the site's ledger; run before the masked input leaves the site. */
  charge: (() => Promise<PrivacySpend>) | undefined;
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
    if (!seed.equals(graphSeedFor(ctx))) throw new SecAggError('TESSERA_SECAGG_PARAMS', 'graph seed is not the public seed of this round');
    // SecAgg+ security needs k = Ω(log n) neighbours; accept the complete graph or k ≥ 2·log2(n).
    if (p.degree !== cohort.length - 1 && p.degree < Math.ceil(2 * Math.log2(cohort.length))) {
      throw new SecAggError('TESSERA_SECAGG_POLICY', `neighbour degree ${p.degree} is too small for ${cohort.length} sites`, { round: ctx.round });
    }
    if (p.degree !== cohort.length - 1 && p.degree < policy.minDegree) {
      throw new SecAggError('TESSERA_SECAGG_POLICY', `neighbour degree ${p.degree} is below this site's minimum of ${policy.minDegree}`, { round: ctx.round });
    }
    return { threshold: p.threshold, cohort, degree: p.degree, graphSeed: seed, clip: p.clip, maxWeight: p.maxWeight, weightBucket: Math.max(1, p.weightBucket) };
  }

  /**
   * Checks a round's secure-aggregation parameters against the site's policy before it trains or
   * charges its privacy budget (the same checks {@link advertise} repeats), so a refused round costs nothing.
   */
  precheck(ctx: SessionContext, params: SecAggParams__Output): SecAggConfig {
    const config = this.policyCheck(params, ctx);
    if (!config.cohort.includes(this.o.siteId)) throw new SecAggError('TESSERA_SECAGG_PARAMS', `site ${this.o.siteId} is not in the round's cohort`);
    return config;
  }

  /**
   * Stage 1 (after local training): checks the parameters, quantizes `weights − global` prescaled by the
   * bucketed example count, runs the integer noise hook, and returns freshly generated signed keys.
   */
  advertise(
    ctx: SessionContext,
    params: SecAggParams__Output,
    global: Float32Array,
    weights: Float32Array,
    numExamples: number,
    siteLevel?: SiteLevelSecAgg,
    charge?: () => Promise<PrivacySpend>,
  ): SecAggResult {
    const config = this.precheck(ctx, params);
    const session = new SecAggSiteSession({ ctx, config, siteId: this.o.siteId, ...this.o.identity, now: this.o.now ?? (() => new Date()) });
    const d = global.length;
    const delta = new Float32Array(d);
    for (let i = 0; i < d; i++) delta[i] = (weights[i] as number) - (global[i] as number);
    let input: Uint32Array;
    if (siteLevel) {
      input = this.encodeSiteLevel(ctx, delta, siteLevel, config.cohort.length);
    } else {
      input = new Uint32Array(d + 1);
      const weight = bucketWeight(numExamples, config.weightBucket, config.maxWeight);
      quantize(delta, weight, { clip: config.clip, cohortSize: config.cohort.length, maxWeight: config.maxWeight }, new Int32Array(input.buffer, 0, d));
      input[d] = weight;
    }
    if (this.o.auditDir !== undefined) {
      mkdirSync(this.o.auditDir, { recursive: true, mode: 0o700 });
      const base = path.join(this.o.auditDir, sessionLabel(ctx).replaceAll('/', '_'));
      writeFileSync(`${base}.quantized.u32`, Buffer.from(input.buffer, input.byteOffset, input.byteLength), { mode: 0o600 });
      writeFileSync(`${base}.weights.f32`, Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength), { mode: 0o600 });
    }
    const keys: SignedKeys = session.advertise();
    this.active = { label: sessionLabel(ctx), session, input, minSurvivors: siteLevel?.noiseShares ?? 0, charge };
    this.o.logger.info({ round: ctx.round, attempt: ctx.attempt, cohort: config.cohort.length, threshold: config.threshold, degree: config.degree }, 'secure aggregation: keys advertised');
    return { keys: signedKeysToProto(keys) };
  }

  /**
   * The site-level DP input: checks that the coordinator's scale cannot make the cohort's sum wrap (the
   * site recomputes the bound itself), then clips, quantises and noises Δ in the integer domain; the
   * weight (last element) is 1.
   */
  private encodeSiteLevel(ctx: SessionContext, delta: Float32Array, s: SiteLevelSecAgg, cohortSize: number): Uint32Array {
    const count = s.countNoise !== undefined ? { countNoise: s.countNoise } : undefined;
    let bound: number;
    try {
      bound = siteLevelScale({ clip: s.clip, noiseMultiplier: updatePartNoiseMultiplier(s.noiseMultiplier, count), noiseShares: s.noiseShares, cohortSize, dim: delta.length });
    } catch (err) {
      throw new SecAggError('TESSERA_SECAGG_PARAMS', `site-level DP: ${errorMessage(err)}`, { round: ctx.round });
    }
    if (!(s.scale > 0) || s.scale > bound * (1 + 1e-9)) {
      throw new SecAggError('TESSERA_SECAGG_PARAMS', `site-level DP quantisation scale ${s.scale} exceeds the ${bound} this site allows for a ${cohortSize}-site sum`, { round: ctx.round });
    }
    if (s.noiseShares > cohortSize) {
      throw new SecAggError('TESSERA_SECAGG_PARAMS', `noise is split over ${s.noiseShares} sites but the cohort has ${cohortSize}`, { round: ctx.round });
    }
    const d = delta.length;
    const input = new Uint32Array(d + (count ? 2 : 1));
    const random = createSecureRandom();
    let enc;
    try {
      enc = encodeSiteLevelInput(delta, { clip: s.clip, noiseMultiplier: s.noiseMultiplier, noiseShares: s.noiseShares, scale: s.scale, cohortSize, ...(count ? { count } : {}) }, new Int32Array(input.buffer, 0, input.length - 1), () => random.uniform());
    } catch (err) {
      // A 12σ noise tail (p < 1e-32): drop out of the round rather than clamp the noise or risk a wrap.
      throw new SecAggError('TESSERA_SECAGG_PARAMS', `site-level DP: ${errorMessage(err)}`, { round: ctx.round });
    }
    input[input.length - 1] = 1;
    this.o.logger.info(
      { round: ctx.round, clipNorm: s.clip, sigmaPerSite: Number(enc.sigmaPerSite.toPrecision(4)), updateNoiseMultiplier: Number(enc.updateNoiseMultiplier.toPrecision(4)), adaptiveClipping: count !== undefined },
      'site-level DP: update clipped, quantised and noised in the integer domain before masking',
    );
    return input;
  }

  private session(ctx: SessionContext): Active {
    const a = this.active;
    if (!a || a.label !== sessionLabel(ctx)) {
      throw new SecAggError('TESSERA_SECAGG_STAGE', `no secure-aggregation session for ${sessionLabel(ctx)} on this site (round, attempt or restart mismatch)`, { round: ctx.round });
    }
    return a;
  }

  /**
   * Stages 2–4. For masked-input the masked vector is returned as bytes for upload, after a DP site has
   * charged its ledger (the spend rides on that result).
   */
  async stage(ctx: SessionContext, task: SecAggTask__Output): Promise<{ result: SecAggResult; upload?: Buffer; privacy?: PrivacySpend }> {
    const a = this.session(ctx);
    if (task.shareKeys) {
      const peers: SignedKeys[] = task.shareKeys.keys.map(signedKeysFromProto);
      const shares = a.session.shareKeys(peers);
      return { result: { shares: { shares: shares.map((s) => ({ fromSite: s.from, toSite: s.to, ciphertext: s.ciphertext })) } } };
    }
    if (task.maskedInput) {
      const input = a.input;
      if (!input) throw new SecAggError('TESSERA_SECAGG_STAGE', 'masked input already sent for this session');
      const shares = task.maskedInput.shares.map((s) => ({ from: s.fromSite, to: s.toSite, ciphertext: Buffer.from(s.ciphertext) }));
      a.input = null;
      const privacy = a.charge ? await a.charge() : undefined;
      const masked = a.session.maskInput(shares, input);
      return { result: { masked: { length: masked.length } }, upload: Buffer.from(masked.buffer, masked.byteOffset, masked.byteLength), ...(privacy ? { privacy } : {}) };
    }
    if (task.unmask) {
      if (task.unmask.survivors.length < a.minSurvivors) {
        // Fewer noise shares than the site accounted for: the sum would be less private than promised.
        throw new SecAggError('TESSERA_SECAGG_TOO_FEW', `${task.unmask.survivors.length} survivors hold fewer than the ${a.minSurvivors} noise shares this site's DP accounting assumes; refusing to unmask`, { round: ctx.round });
      }
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
