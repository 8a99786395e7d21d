import { ConfigError, errorMessage, SecAggError } from '../../../shared/src/errors.js';
import {
  defaultDegree,
  degreeForCollusion,
  dequantizeMean,
  majorityThreshold,
  MaskWorkerPool,
  SecAggAggregator,
  graphSeedFor,
  verifyKeys,
  type EncryptedShare,
  type Reveal,
  type SecAggConfig,
  type SessionContext,
  type SignedKeys,
} from '../../../shared/src/secagg/index.js';
import { decodeSiteLevelSum } from '../../../shared/src/dp/site-level.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { SiteOutcome } from '../store/coordinator-store.js';
import type { RoundDeps } from './round-ports.js';
import type { SecAggRequest, SiteResult, SiteTask } from './site-task.js';

let pool: MaskWorkerPool | undefined;
/** One pool of mask workers per coordinator process, created on first use (threads: min(4, cores)). */
function maskPool(): MaskWorkerPool {
  pool ??= MaskWorkerPool.create();
  return pool;
}

/** The public per-round seed of the neighbour graph (one definition, in shared/src/secagg, for both sides). */
export { graphSeedFor };

/**
 * The neighbour degree of a cohort of `n` under a study's options: the complete graph up to
 * `completeGraphUpTo`, else the study's `degree`, or the degree its `colludingFraction` needs, or the
 * default 3·log2(n); always at most n − 1.
 */
export function studyDegree(o: StudySpec['secureAggregationOptions'], n: number): number {
  if (n <= o.completeGraphUpTo) return n - 1;
  if (o.degree !== undefined) return Math.min(n - 1, o.degree);
  if (o.colludingFraction !== undefined) return degreeForCollusion(n, o.colludingFraction);
  return defaultDegree(n, o.completeGraphUpTo);
}

/**
 * Checks a study's secure-aggregation options against each other.
 * @throws ConfigError naming the field.
 */
export function checkStudySecureAggregation(spec: Pick<StudySpec, 'id' | 'secureAggregationOptions'>): void {
  const o = spec.secureAggregationOptions;
  if (o.degree !== undefined && o.colludingFraction !== undefined) {
    throw new ConfigError(`study '${spec.id}': set secureAggregationOptions.degree or secureAggregationOptions.colludingFraction, not both`, { field: 'secureAggregationOptions.degree' });
  }
}

/** The session parameters for a cohort under a study's options. */
export function secAggConfigFor(spec: StudySpec, ctx: SessionContext, cohort: readonly string[]): SecAggConfig {
  const o = spec.secureAggregationOptions;
  const sorted = [...cohort].sort();
  const degree = studyDegree(o, sorted.length);
  return {
    // Default: a strict majority of a site's share holders (neighbours + itself).
    threshold: o.threshold ?? majorityThreshold(sorted.length, degree),
    cohort: sorted,
    degree,
    graphSeed: graphSeedFor(ctx),
    clip: o.clip,
    maxWeight: o.maxWeight,
    weightBucket: o.weightBucket,
  };
}

export interface SecureFit {
  /** The weighted mean of the contributors' weights: global + Σ wᵢδᵢ / Σ wᵢ. */
  mean: Float32Array;
  /** Sites whose masked input is in the sum. */
  contributors: string[];
  /** Training metrics the contributors reported (unweighted: their example counts stay secret). */
  metrics: { loss: number; accuracy: number }[];
  /** Site-level DP with adaptive clipping: the noisy number of contributors whose update was within the bound. */
  noisyUnclipped?: number;
}

/** What a site's failed stage is recorded as. */
interface Problem {
  outcome: Exclude<SiteOutcome, 'ok'>;
  reason: string;
}

export interface SecAggWorkflowOptions {
  deps: RoundDeps;
  spec: StudySpec;
  ctx: SessionContext;
  /** The consortium CA, to verify advertised keys before relaying them. */
  caCertPem: string;
  /** Builds the FIT task of a site (the first stage rides on it). */
  fitTask(siteId: string): SiteTask;
  taskId(stage: string, siteId: string): string;
  /**
   * Site-level DP: the sites send their clipped, noised integer updates themselves (unweighted, weight 1
   * each) at `scale` units per unit, plus — with adaptive clipping — one count coordinate before the weight.
   */
  siteLevel?: { scale: number; withCount: boolean };
  /** Sees each site's stage results that may carry its DP ledger (a DP site charges when it sends its masked input). */
  onSiteResult?: (siteId: string, result: SiteResult) => void;
}

/**
 * The coordinator's side of one SecAgg(+) session: advertise keys (on the fit task) → share keys →
 * masked input collection → unmasking. It relays signed keys and encrypted shares, sums masked inputs
 * mod 2^32 as they arrive, and removes the masks from the revealed shares. All of it lives in memory only:
 * after a coordinator restart the attempt is over (the round is retried with fresh keys), and nothing on
 * disk — masked uploads, the store, the log — can unmask a site.
 */
export class SecAggWorkflow {
  private readonly problems = new Map<string, Problem>();
  private readonly metrics = new Map<string, { loss: number; accuracy: number }>();
  private readonly durations = new Map<string, number>();
  private aggregator!: SecAggAggregator;

  constructor(private readonly o: SecAggWorkflowOptions) {}

  private get log(): RoundDeps['logger'] {
    return this.o.deps.logger;
  }

  private drop(siteId: string, problem: Problem): void {
    if (this.problems.has(siteId)) return;
    this.problems.set(siteId, problem);
    this.log.warn({ siteId, round: this.o.ctx.round, ...problem }, 'site dropped from secure aggregation');
  }

  private stageTask(siteId: string, request: Exclude<SecAggRequest, { stage: 'advertise' }>): SiteTask {
    const fit = this.o.fitTask(siteId);
    return { ...fit, taskId: this.o.taskId(`secagg-${request.stage}`, siteId), kind: 'secagg', training: null, secagg: { attempt: this.o.ctx.attempt, request }, deadlineMs: this.o.deps.now() + this.o.spec.secureAggregationOptions.stageTimeoutMs };
  }

  private async dispatch(siteId: string, task: SiteTask, timeoutMs: number, check: (r: SiteResult) => string | null): Promise<SiteResult | null> {
    const outcome = await this.o.deps.sites.dispatch(siteId, task, timeoutMs, check);
    this.durations.set(siteId, (this.durations.get(siteId) ?? 0) + outcome.durationMs);
    if (!outcome.ok) {
      this.drop(siteId, { outcome: outcome.outcome, reason: outcome.reason });
      return null;
    }
    return outcome.result;
  }

  /** Runs the session over `cohort`. Returns the secure mean, or a reason why the round cannot complete. */
  async run(cohort: readonly string[], global: Float32Array): Promise<{ ok: true; fit: SecureFit } | { ok: false; reason: string }> {
    const { spec, ctx, deps } = this.o;
    const config = secAggConfigFor(spec, ctx, cohort);
    const t = config.threshold;
    const need = Math.max(t, spec.minSites);
    const siteLevel = this.o.siteLevel;
    const length = global.length + 1 + (siteLevel?.withCount ? 1 : 0);
    this.aggregator = new SecAggAggregator(ctx, config, length);
    const agg = this.aggregator;
    const emit = (phase: string, sites: number): void => deps.emit({ type: 'round-phase', studyId: spec.id, round: ctx.round, attempt: ctx.attempt, phase, sites });
    const stageMs = spec.secureAggregationOptions.stageTimeoutMs;

    // Stage 1: advertise keys, on the fit task (the site trains first).
    const params = {
      threshold: t,
      cohort: config.cohort,
      degree: config.degree,
      graphSeed: config.graphSeed,
      clip: config.clip,
      maxWeight: config.maxWeight,
      weightBucket: config.weightBucket,
      attempt: ctx.attempt,
    };
    await Promise.all(
      config.cohort.map(async (siteId) => {
        const task: SiteTask = { ...this.o.fitTask(siteId), secagg: { attempt: ctx.attempt, request: { stage: 'advertise', params } } };
        const r = await this.dispatch(siteId, task, spec.timeouts.fitMs, (res) => (res.secagg?.keys ? null : 'fit result carries no secure-aggregation keys'));
        if (!r?.secagg?.keys) return;
        const keys = r.secagg.keys;
        try {
          if (keys.siteId !== siteId) throw new SecAggError('TESSERA_SECAGG_BAD_KEY', `site ${siteId} advertised keys for ${keys.siteId}`);
          verifyKeys(ctx, keys, this.o.caCertPem, new Date(deps.now()));
        } catch (err) {
          this.drop(siteId, { outcome: 'invalid', reason: errorMessage(err) });
          return;
        }
        agg.keys.set(siteId, keys);
        this.o.onSiteResult?.(siteId, r);
        this.metrics.set(siteId, { loss: r.metrics['loss'] ?? Number.NaN, accuracy: r.metrics['accuracy'] ?? Number.NaN });
      }),
    );
    if (agg.keys.size < need) return this.finish(`${agg.keys.size} of ${config.cohort.length} sites advertised valid keys; secure aggregation needs ${need} (threshold ${t}, minSites ${spec.minSites})`);

    // Stage 2: share keys. Each site gets the signed keys of its neighbours that advertised.
    emit('secagg-share-keys', agg.keys.size);
    const boxes: EncryptedShare[] = [];
    await Promise.all(
      [...agg.keys.keys()].map(async (siteId) => {
        const neighbours = (agg.graph.get(siteId) ?? []).filter((n) => agg.keys.has(n));
        const task = this.stageTask(siteId, { stage: 'share-keys', keys: neighbours.map((n) => agg.keys.get(n) as SignedKeys) });
        const allowed = new Set(neighbours);
        const r = await this.dispatch(siteId, task, stageMs, (res) => {
          const shares = res.secagg?.shares;
          if (!shares) return 'share-keys result carries no shares';
          for (const s of shares) {
            if (s.from !== siteId || !allowed.has(s.to)) return `share from ${s.from.slice(0, 64)} to ${s.to.slice(0, 64)} is not between this site and a neighbour`;
          }
          if (new Set(shares.map((s) => s.to)).size !== shares.length) return 'two shares for one neighbour';
          return null;
        });
        if (!r?.secagg?.shares) return;
        boxes.push(...r.secagg.shares);
        agg.sharers.add(siteId);
      }),
    );
    if (agg.sharers.size < need) return this.finish(`${agg.sharers.size} sites completed key sharing; secure aggregation needs ${need}`);

    // Stage 3: masked input collection. Masked vectors arrive through UploadUpdate and are summed as they come.
    emit('secagg-masked-input', agg.sharers.size);
    await Promise.all(
      [...agg.sharers].map(async (siteId) => {
        const mine = boxes.filter((b) => b.to === siteId && agg.sharers.has(b.from));
        const task = this.stageTask(siteId, { stage: 'masked-input', shares: mine });
        const taskId = task.taskId;
        deps.expectUpdate(taskId, length * 4);
        const r = await this.dispatch(siteId, task, stageMs, (res) =>
          !res.secagg?.masked ? 'masked-input result carries no masked input' : deps.uploads.isComplete(taskId, res.updateSha256) ? null : 'masked input upload is not complete',
        );
        deps.expectUpdate(taskId, undefined);
        if (!r) return;
        this.o.onSiteResult?.(siteId, r);
        try {
          const bytes = await deps.uploads.read(taskId);
          if (bytes.byteLength !== length * 4) throw new SecAggError('TESSERA_SECAGG_PARAMS', `masked input has ${bytes.byteLength} bytes, expected ${length * 4}`);
          const view = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, length) : new Uint32Array(Uint8Array.from(bytes).buffer);
          agg.addMaskedInput(siteId, view);
        } catch (err) {
          this.drop(siteId, { outcome: 'invalid', reason: errorMessage(err) });
        } finally {
          await deps.uploads.discard(taskId);
        }
      }),
    );
    const survivors = [...agg.contributors].sort();
    if (survivors.length < need) return this.finish(`${survivors.length} masked inputs arrived; secure aggregation needs ${need}`);

    // Stage 4: unmasking.
    emit('secagg-unmask', survivors.length);
    const dropped = agg.dropped;
    const reveals = new Map<string, Reveal>();
    await Promise.all(
      survivors.map(async (siteId) => {
        const task = this.stageTask(siteId, { stage: 'unmask', survivors, dropped });
        const r = await this.dispatch(siteId, task, stageMs, (res) => (res.secagg?.reveal ? null : 'unmask result carries no reveal'));
        const rv = r?.secagg?.reveal;
        if (!rv) return;
        reveals.set(siteId, rv);
      }),
    );
    let sum: Uint32Array;
    try {
      sum = await agg.unmaskParallel(reveals, maskPool());
    } catch (err) {
      return this.finish(`unmasking failed: ${errorMessage(err)}`);
    }
    deps.onSecureSum?.({ studyId: spec.id, round: ctx.round, attempt: ctx.attempt, sum: sum.slice(), contributors: survivors });
    const ints = new Int32Array(sum.buffer, sum.byteOffset, length);
    const weightSum = (sum[length - 1] as number);
    let delta: Float32Array;
    let noisyUnclipped: number | undefined;
    if (siteLevel) {
      // Every site weighs 1 under site-level DP: the secure weight sum is the number of contributors.
      if (weightSum !== survivors.length) return this.finish(`the secure weight sum ${weightSum} is not the ${survivors.length} contributors of a site-level DP round`);
      ({ meanDelta: delta, noisyUnclipped } = decodeSiteLevelSum(ints, global.length, siteLevel.scale, survivors.length, siteLevel.withCount));
    } else {
      delta = dequantizeMean(ints.subarray(0, global.length), weightSum, { clip: config.clip, cohortSize: config.cohort.length, maxWeight: config.maxWeight });
    }
    const mean = new Float32Array(global.length);
    for (let i = 0; i < mean.length; i++) mean[i] = (global[i] as number) + (delta[i] as number);
    await this.finish(null);
    const metrics = survivors.map((s) => this.metrics.get(s) ?? { loss: Number.NaN, accuracy: Number.NaN });
    return { ok: true, fit: { mean, contributors: survivors, metrics, ...(noisyUnclipped !== undefined ? { noisyUnclipped } : {}) } };
  }

  /** Records every site's outcome (once, for the whole session) and returns the failure, if any. */
  private async finish(reason: string): Promise<{ ok: false; reason: string }>;
  private async finish(reason: null): Promise<void>;
  private async finish(reason: string | null): Promise<{ ok: false; reason: string } | void> {
    const { deps, spec, ctx } = this.o;
    for (const siteId of this.aggregator.config.cohort) {
      // A site either has a recorded problem, or did all it was asked (contributed, or the round stopped first).
      const problem = this.problems.get(siteId) ?? (reason === null && !this.aggregator.contributors.has(siteId) ? { outcome: 'invalid' as const, reason: 'not in the secure sum' } : undefined);
      await deps.store.recordSiteOutcome({
        studyId: spec.id,
        round: ctx.round,
        attempt: ctx.attempt,
        siteId,
        phase: 'fit',
        outcome: problem?.outcome ?? 'ok',
        // Example counts stay secret under secure aggregation: only their sum is learned. Nor is a site's own
        // training loss or accuracy kept: only the round's mean over the contributors (RoundRecord.trainMetrics).
        numExamples: 0,
        loss: null,
        accuracy: null,
        updateSha256: null,
        updateBytes: null,
        durationMs: this.durations.get(siteId) ?? null,
        reason: problem?.reason ?? null,
      });
      deps.emit({ type: 'site-finished', studyId: spec.id, round: ctx.round, siteId, phase: 'fit', outcome: problem?.outcome ?? 'ok', ...(problem ? { reason: problem.reason } : {}) });
    }
    return reason === null ? undefined : { ok: false, reason };
  }
}
