import { errorMessage } from '../../../shared/src/errors.js';
import { decodeWeights, encodeWeights } from '../../../shared/src/ml/weights.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { Strategy } from '../strategies/index.js';
import type { PhaseTiming, RoundRecord, RoundStatus, StudyRecord } from '../store/coordinator-store.js';
import { CohortFloors, cohortReady, DEFAULT_JOIN_MS, missingExpected, observeOutcomes } from './cohort.js';
import { committedClip, nextClipFor, planRoundDp } from './dp-plan.js';
import { evaluateCandidate, weightedMetrics } from './evaluation.js';
import type { FitContext, FitProtocol } from './fit-protocol.js';
import { PlainFit } from './plain-fit.js';
import type { RoundDeps } from './round-ports.js';
import { ALLOWED_ROUND_TRANSITIONS, assertRoundTransition } from './round-state.js';
import { ModelStoreError } from '../errors.js';
import { RoundTasks, type ModelRef } from './round-tasks.js';
import { SecureFit } from './secure-fit.js';
import type { SiteResult } from './site-task.js';
import { decodeStrategyState, encodeStrategyState } from './strategy-state.js';

export type { RoundDeps } from './round-ports.js';

/** The fit protocol a study's contract asks for: secure aggregation or plain updates. */
export function fitProtocolFor(c: FitContext): FitProtocol {
  return c.spec.secureAggregation ? new SecureFit(c) : new PlainFit(c);
}

/**
 * One attempt at one round: wait for sites → fit (plain-fit.ts or secure-fit.ts) → aggregate → federated
 * evaluation (evaluation.ts) → commit. Returns true when the round committed and false when it failed (the
 * reason is stored and emitted). Sites that time out, disconnect, refuse or send invalid updates are
 * recorded and dropped; only too few remaining sites fail the round. DP planning is dp-plan.ts.
 */
export class RoundWorkflow {
  private status: RoundStatus = 'waiting';
  private readonly phases: Record<string, PhaseTiming> = {};
  private record!: RoundRecord;
  /** True once the attempt's row exists. */
  private started = false;
  /** Sites this attempt lost (stream ended, not back within the reconnect grace): sent no further task. */
  private readonly gone = new Set<string>();
  /** Set when the attempt failed because the study's current model version is missing or corrupt. */
  modelProblem: ModelStoreError | undefined;

  constructor(
    private deps: RoundDeps,
    private readonly study: StudyRecord,
    private readonly strategy: Strategy,
    private readonly round: number,
    /** The sites' cohort floors learned so far in this study run (from their refusals). */
    private readonly floors: CohortFloors = new CohortFloors(),
  ) {
    this.deps = {
      ...deps,
      sites: observeOutcomes(floors.observe(deps.sites), (siteId, outcome) => {
        if (!outcome.ok && outcome.outcome === 'disconnected') this.gone.add(siteId);
      }),
    };
  }

  private get spec(): StudySpec {
    return this.study.spec;
  }

  private async transition(to: RoundStatus, candidate?: string): Promise<void> {
    assertRoundTransition(this.status, to);
    const t = this.deps.now();
    const current = this.phases[this.status];
    if (current && current.endedAt === undefined) current.endedAt = t;
    this.status = to;
    if (to !== 'failed' && to !== 'committed' && to !== 'interrupted') this.phases[to] = { startedAt: t };
    this.deps.logger.info({ studyId: this.spec.id, round: this.round, attempt: this.record.attempt, status: to }, 'round status');
    await this.deps.store.updateRound(this.spec.id, this.round, this.record.attempt, to, this.phases, candidate);
  }

  private async fail(reason: string): Promise<false> {
    await this.transition('failed');
    await this.deps.store.failRound(this.spec.id, this.round, this.record.attempt, reason, this.deps.now());
    this.deps.emit({ type: 'round-failed', studyId: this.spec.id, round: this.round, attempt: this.record.attempt, reason });
    this.deps.logger.warn({ studyId: this.spec.id, round: this.round, reason }, 'round failed');
    return false;
  }

  /**
   * Runs the attempt. An unexpected error still ends the attempt's row (`failed`, with the error as its
   * reason) before it propagates: no row is left in a live status.
   */
  async run(): Promise<boolean> {
    try {
      return await this.attempt();
    } catch (err) {
      if (this.started && ALLOWED_ROUND_TRANSITIONS[this.status].includes('failed')) {
        await this.fail(`internal error: ${errorMessage(err)}`).catch(() => undefined);
      }
      throw err;
    }
  }

  private async attempt(): Promise<boolean> {
    const { store, now } = this.deps;
    this.record = await store.startRound(this.spec.id, this.round, this.study.currentModel, now());
    this.started = true;
    this.phases['waiting'] = { startedAt: now() };
    const attempt = this.record.attempt;
    this.deps.emit({ type: 'round-started', studyId: this.spec.id, round: this.round, attempt });

    const { sites } = this.deps;
    const enough = await this.waitFor(() => sites.connectedSites().length >= this.spec.minSites, this.spec.timeouts.waitForSitesMs);
    // Then the rest of the cohort: the expected sites, or enough for every connected site's own floor.
    const joinMs = this.spec.timeouts.joinMs ?? DEFAULT_JOIN_MS;
    const complete = enough && (await this.waitFor(() => cohortReady(this.spec, sites.connectedSites(), this.floors), joinMs));
    if (this.deps.signal.aborted || this.deps.stop?.aborted) {
      // Shutdown or an operator's stop while waiting, not a failure: the attempt must not count against maxRoundAttempts.
      await this.transition('interrupted');
      return false;
    }
    if (!enough || sites.connectedSites().length < this.spec.minSites) {
      return this.fail(
        `only ${sites.connectedSites().length} sites connected within ${this.spec.timeouts.waitForSitesMs} ms; the study needs ${this.spec.minSites}`,
      );
    }
    const cohort = sites.connectedSites().slice(0, this.spec.maxSites ?? Number.MAX_SAFE_INTEGER);
    if (!complete) await this.recordAbsent(cohort, joinMs);

    // The global model is read (and verified against its id) before any site is asked to train on it.
    let globalBytes: Buffer;
    let digest: string;
    try {
      globalBytes = await this.deps.models.get(this.study.currentModel);
      digest = await this.deps.models.transferDigest(this.study.currentModel);
    } catch (err) {
      if (!(err instanceof ModelStoreError)) throw err;
      this.modelProblem = err;
      return this.fail(`the study's current model version cannot be read: ${err.message}`);
    }
    await this.transition('fitting');
    this.deps.emit({ type: 'round-phase', studyId: this.spec.id, round: this.round, attempt, phase: 'fit', sites: cohort.length });
    const global = decodeWeights(globalBytes, globalBytes.byteLength / 4);
    const model: ModelRef = { version: this.study.currentModel, digest, bytes: global.length * 4 };
    const saved = this.spec.privacy?.adaptiveClipping ? await store.getStrategyState(this.spec.id) : null;
    const dp = planRoundDp(this.spec, saved != null ? decodeStrategyState(saved) : undefined, cohort.length, global.length);
    const tasks = new RoundTasks(this.spec, { studyId: this.spec.id, round: this.round, attempt }, now, dp.dp);
    const fit = await fitProtocolFor({ deps: this.deps, spec: this.spec, tasks, model, global, dp, reportPrivacy: (siteId, r) => this.reportSitePrivacy(siteId, r) }).run(cohort);
    if (this.deps.signal.aborted && this.spec.secureAggregation) {
      await this.transition('interrupted');
      return false;
    }
    if (!fit.ok) return this.fail(fit.reason);
    const nextClip = nextClipFor(this.spec, dp.clipNorm, fit.noisyUnclipped, fit.contributors.length);
    if (nextClip !== undefined && fit.noisyUnclipped !== undefined) {
      this.deps.logger.info(
        { studyId: this.spec.id, round: this.round, clipNorm: dp.clipNorm, nextClipNorm: nextClip, noisyUnclippedFraction: Number((fit.noisyUnclipped / fit.contributors.length).toFixed(3)) },
        'adaptive clipping: next bound from the noisy count of unclipped sites',
      );
    }

    await this.transition('aggregating');
    let next: Float32Array;
    try {
      next = this.strategy.aggregate(global, fit.updates);
    } catch (err) {
      return this.fail(`aggregation failed: ${errorMessage(err)}`);
    }
    const nextBytes = encodeWeights(next);
    const candidate = await this.deps.models.put(nextBytes);

    await this.transition('evaluating', candidate);
    this.deps.emit({ type: 'round-phase', studyId: this.spec.id, round: this.round, attempt, phase: 'evaluate', sites: cohort.length });
    const candidateRef: ModelRef = { version: candidate, digest: await this.deps.models.transferDigest(candidate), bytes: nextBytes.byteLength };
    const metrics = await evaluateCandidate(this.deps, this.spec, tasks, cohort.filter((s) => !this.gone.has(s)), candidateRef);
    // DP sites send no training metrics (they would be a non-private function of their data).
    const trainMetrics = weightedMetrics(fit.metrics.filter((f) => Number.isFinite(f.loss) && Number.isFinite(f.accuracy)));

    // Adaptive clipping: the next round's bound commits with this round (a crash cannot skip or repeat a step).
    const clipState = committedClip(this.spec, dp.clipNorm, nextClip);
    const endedAt = now();
    const evaluating = this.phases['evaluating'];
    if (evaluating) evaluating.endedAt = endedAt;
    assertRoundTransition(this.status, 'committed');
    await store.commitRound({
      studyId: this.spec.id,
      round: this.round,
      attempt,
      model: { sha256: candidate, studyId: this.spec.id, round: this.round, numParams: next.length, createdAt: endedAt },
      metrics,
      trainMetrics,
      phases: this.phases,
      strategyState: encodeStrategyState({ ...this.strategy.state(), ...(clipState !== undefined ? { clipNorm: clipState } : {}) }),
      now: endedAt,
    });
    this.status = 'committed';
    for (const siteId of fit.contributors) await this.deps.uploads.discard(tasks.taskId('fit', siteId));
    this.deps.emit({
      type: 'round-committed',
      studyId: this.spec.id,
      round: this.round,
      attempt,
      durationMs: endedAt - this.record.startedAt,
      metrics,
      trainMetrics,
      modelVersion: candidate,
      sites: fit.contributors.length,
    });
    return true;
  }

  /** A DP site's own ledger after this round (its accountant, its budget): logged and emitted, never enforced here. */
  private reportSitePrivacy(siteId: string, r: SiteResult): void {
    if (!r.privacy) return;
    this.deps.logger.info(
      { siteId, round: this.round, studyId: this.spec.id, epsilonSpent: r.privacy.epsilon, delta: r.privacy.delta, accountant: r.privacy.accountant.slice(0, 8), dpRounds: r.privacy.rounds },
      'site privacy ledger',
    );
    this.deps.emit({
      type: 'site-privacy',
      studyId: this.spec.id,
      round: this.round,
      siteId,
      epsilon: r.privacy.epsilon,
      delta: r.privacy.delta,
      accountant: r.privacy.accountant.slice(0, 8),
      dpRounds: r.privacy.rounds,
    });
  }

  /** Expected sites that did not join in time: recorded for this attempt, not fatal while minSites holds. */
  private async recordAbsent(cohort: readonly string[], joinMs: number): Promise<void> {
    const reason = `did not join within ${joinMs} ms`;
    for (const siteId of missingExpected(this.spec, cohort)) {
      await this.deps.store.recordSiteOutcome({
        studyId: this.spec.id,
        round: this.round,
        attempt: this.record.attempt,
        siteId,
        phase: 'fit',
        outcome: 'timeout',
        numExamples: 0,
        loss: null,
        accuracy: null,
        updateSha256: null,
        updateBytes: null,
        durationMs: joinMs,
        reason,
      });
      this.deps.emit({ type: 'site-finished', studyId: this.spec.id, round: this.round, siteId, phase: 'fit', outcome: 'timeout', reason });
    }
    this.deps.logger.warn({ studyId: this.spec.id, round: this.round, cohort: cohort.length, joinMs }, 'round starts without its whole cohort');
  }

  /** Resolves true once `ready()` holds (checked on every change of the connected sites), false after `timeoutMs` or an abort. */
  private waitFor(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    const { sites } = this.deps;
    const signal = this.deps.stop ? AbortSignal.any([this.deps.signal, this.deps.stop]) : this.deps.signal;
    // Aborted before the wait began (an operator's pause/abort right after start): an 'abort' event never comes.
    if (signal.aborted) return Promise.resolve(false);
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      const unsubscribe = sites.onChange(() => {
        if (ready()) done(true);
      });
      signal.addEventListener('abort', onAbort);
    });
  }
}
