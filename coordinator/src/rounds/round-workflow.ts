import type { DpConfig } from '../../../protos/gen/tessera/v1/DpConfig.js';
import type { Task } from '../../../protos/gen/tessera/v1/Task.js';
import type { TaskResult__Output } from '../../../protos/gen/tessera/v1/TaskResult.js';
import { nextClipNorm, siteLevelScale, updatePartNoiseMultiplier } from '../../../shared/src/dp/site-level.js';
import { errorMessage } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { decodeWeights, encodeWeights } from '../../../shared/src/ml/weights.js';
import { addScoreHistogram, aucFromHistograms, ROC_BINS, VAL_EXAMPLES_KEY, VAL_PREFIX } from '../../../shared/src/ml/metrics.js';
import { roundLearningRate, type StudySpec } from '../../../shared/src/study/study-spec.js';
import type { ClientUpdate, Strategy } from '../strategies/index.js';
import { strategyTrainingOverrides } from '../strategies/index.js';
import type { SiteSessions, TaskOutcome } from '../sessions/site-sessions.js';
import type { ModelRepository, UploadStore } from '../store/blob-store.js';
import type {
  CoordinatorStore,
  PhaseTiming,
  RoundMetrics,
  RoundRecord,
  RoundStatus,
  StudyRecord,
} from '../store/coordinator-store.js';
import type { EventSink } from './events.js';
import { assertRoundTransition } from './round-state.js';
import { SecAggWorkflow } from './secagg-workflow.js';
import { decodeStrategyState, encodeStrategyState } from './strategy-state.js';

export interface RoundDeps {
  store: CoordinatorStore;
  sessions: SiteSessions;
  models: ModelRepository;
  uploads: UploadStore;
  logger: Logger;
  emit: EventSink;
  now: () => number;
  /** Registers the expected update size of a fit task for the upload endpoint's shape check. */
  expectUpdate(taskId: string, bytes: number | undefined): void;
  /** Aborts the wait for sites and the phases (shutdown or operator abort). */
  signal: AbortSignal;
  /** The consortium CA certificate (PEM): secure aggregation verifies the sites' signed keys against it. */
  caCertPem: string;
  /**
   * Observer of each unmasked secure sum (mod 2^32: the quantized, prescaled updates and, last, the weight
   * sum) and of the sites in it: what the coordinator legitimately learns. For audit and tests.
   */
  onSecureSum?: (info: { studyId: string; round: number; attempt: number; sum: Uint32Array; contributors: string[] }) => void;
}

interface SiteFit {
  siteId: string;
  update: ClientUpdate;
  metrics: { loss: number; accuracy: number };
}

function weighted(items: { n: number; loss: number; accuracy: number }[]): RoundMetrics | null {
  const total = items.reduce((s, i) => s + i.n, 0);
  if (total === 0) return null;
  return {
    loss: items.reduce((s, i) => s + i.loss * i.n, 0) / total,
    accuracy: items.reduce((s, i) => s + i.accuracy * i.n, 0) / total,
    numExamples: total,
  };
}

/**
 * One attempt at one round: wait for sites → fit → aggregate → federated evaluation → commit. Returns
 * true when the round committed and false when it failed (the reason is stored and emitted). Sites that
 * time out, disconnect, refuse or send invalid updates are recorded and dropped; only too few remaining
 * sites fail the round.
 */
export class RoundWorkflow {
  private status: RoundStatus = 'waiting';
  private readonly phases: Record<string, PhaseTiming> = {};
  private record!: RoundRecord;
  /** Site-level DP: this round's L2 clipping bound (moves between rounds with adaptive clipping). */
  private clipNorm: number | undefined;
  /** Site-level DP under secure aggregation: integer units per unit of update, fixed once per round. */
  private siteScale: number | undefined;

  constructor(
    private readonly deps: RoundDeps,
    private readonly study: StudyRecord,
    private readonly strategy: Strategy,
    private readonly round: number,
  ) {}

  private get spec(): StudySpec {
    return this.study.spec;
  }

  private async transition(to: RoundStatus): Promise<void> {
    assertRoundTransition(this.status, to);
    const t = this.deps.now();
    const current = this.phases[this.status];
    if (current && current.endedAt === undefined) current.endedAt = t;
    this.status = to;
    if (to !== 'failed' && to !== 'committed' && to !== 'interrupted') this.phases[to] = { startedAt: t };
    this.deps.logger.info({ studyId: this.spec.id, round: this.round, attempt: this.record.attempt, status: to }, 'round status');
    await this.deps.store.updateRound(this.spec.id, this.round, this.record.attempt, to, this.phases);
  }

  private async fail(reason: string): Promise<false> {
    await this.transition('failed');
    await this.deps.store.failRound(this.spec.id, this.round, this.record.attempt, reason, this.deps.now());
    this.deps.emit({ type: 'round-failed', studyId: this.spec.id, round: this.round, attempt: this.record.attempt, reason });
    this.deps.logger.warn({ studyId: this.spec.id, round: this.round, reason }, 'round failed');
    return false;
  }

  async run(): Promise<boolean> {
    const { store, now } = this.deps;
    this.record = await store.startRound(this.spec.id, this.round, this.study.currentModel, now());
    this.phases['waiting'] = { startedAt: now() };
    const attempt = this.record.attempt;
    this.deps.emit({ type: 'round-started', studyId: this.spec.id, round: this.round, attempt });

    const enough = await this.waitForSites(this.spec.minSites, this.spec.timeouts.waitForSitesMs);
    if (this.deps.signal.aborted) {
      // Shutdown, not a failure: the attempt must not count against maxRoundAttempts.
      await this.transition('interrupted');
      return false;
    }
    if (!enough) {
      return this.fail(
        `only ${this.deps.sessions.connectedSites().length} sites connected within ${this.spec.timeouts.waitForSitesMs} ms; the study needs ${this.spec.minSites}`,
      );
    }
    const cohort = this.deps.sessions.connectedSites().slice(0, this.spec.maxSites ?? Number.MAX_SAFE_INTEGER);

    await this.transition('fitting');
    this.deps.emit({ type: 'round-phase', studyId: this.spec.id, round: this.round, attempt, phase: 'fit', sites: cohort.length });
    const globalBytes = await this.deps.models.get(this.study.currentModel);
    const global = decodeWeights(globalBytes, globalBytes.byteLength / 4);
    const globalDigest = await this.deps.models.transferDigest(this.study.currentModel);
    let updates: ClientUpdate[];
    let fitMetrics: { n: number; loss: number; accuracy: number }[];
    let fitSites: string[];
    this.clipNorm = await this.currentClipNorm();
    let nextClip: number | undefined;
    if (this.spec.secureAggregation) {
      const privacy = this.spec.privacy;
      if (privacy?.mode === 'site') this.siteScale = this.siteLevelScale(privacy, cohort.length, global.length);
      const siteLevel = privacy?.mode === 'site' && this.siteScale !== undefined ? { scale: this.siteScale, withCount: privacy.adaptiveClipping !== undefined } : undefined;
      const secure = await new SecAggWorkflow({
        ...(siteLevel ? { siteLevel } : {}),
        onSiteResult: (siteId, r) => this.reportSitePrivacy(siteId, r),
        deps: this.deps,
        spec: this.spec,
        ctx: { studyId: this.spec.id, round: this.round, attempt },
        caCertPem: this.deps.caCertPem,
        fitTask: (siteId) => this.makeTask('TASK_KIND_FIT', siteId, this.study.currentModel, globalDigest, global.length * 4),
        taskId: (stage, siteId) => this.taskId(stage, siteId),
      }).run(cohort, global);
      if (this.deps.signal.aborted) {
        await this.transition('interrupted');
        return false;
      }
      if (!secure.ok) return this.fail(`secure aggregation: ${secure.reason}`);
      // The strategies consume the securely computed weighted mean as one update: FedAvg/FedProx return it,
      // the server optimizers take (mean − global) as their pseudo-gradient.
      updates = [{ siteId: 'secure-aggregate', weights: secure.fit.mean, numExamples: 1 }];
      fitMetrics = secure.fit.metrics.map((m) => ({ n: 1, ...m }));
      fitSites = secure.fit.contributors;
      const adaptive = privacy?.adaptiveClipping;
      if (adaptive && secure.fit.noisyUnclipped !== undefined && this.clipNorm !== undefined) {
        nextClip = nextClipNorm(this.clipNorm, secure.fit.noisyUnclipped, fitSites.length, { targetQuantile: adaptive.targetQuantile, learningRate: adaptive.learningRate, countNoise: adaptive.countNoise ?? 0 });
        this.deps.logger.info(
          { studyId: this.spec.id, round: this.round, clipNorm: this.clipNorm, nextClipNorm: nextClip, noisyUnclippedFraction: Number((secure.fit.noisyUnclipped / fitSites.length).toFixed(3)) },
          'adaptive clipping: next bound from the noisy count of unclipped sites',
        );
      }
    } else {
      const fits = await this.fitPhase(cohort, globalDigest, global.length);
      if (fits.length < this.spec.minSites) {
        return this.fail(`${fits.length} of ${cohort.length} sites returned valid updates; the study needs ${this.spec.minSites}`);
      }
      updates = fits.map((f) => f.update);
      fitMetrics = fits.map((f) => ({ n: f.update.numExamples, ...f.metrics }));
      fitSites = fits.map((f) => f.siteId);
    }

    await this.transition('aggregating');
    let next: Float32Array;
    try {
      next = this.strategy.aggregate(global, updates);
    } catch (err) {
      return this.fail(`aggregation failed: ${errorMessage(err)}`);
    }
    const nextBytes = encodeWeights(next);
    const candidate = await this.deps.models.put(nextBytes);

    await this.transition('evaluating');
    this.deps.emit({ type: 'round-phase', studyId: this.spec.id, round: this.round, attempt, phase: 'evaluate', sites: cohort.length });
    const metrics = await this.evaluatePhase(cohort, candidate, await this.deps.models.transferDigest(candidate), nextBytes.byteLength);
    // DP sites send no training metrics (they would be a non-private function of their data).
    const trainMetrics = weighted(fitMetrics.filter((f) => Number.isFinite(f.loss) && Number.isFinite(f.accuracy)));

    // Adaptive clipping: the next round's bound commits with this round (a crash cannot skip or repeat a step).
    const clipState = this.spec.privacy?.adaptiveClipping ? (nextClip ?? this.clipNorm) : undefined;
    const endedAt = now();
    const evaluating = this.phases['evaluating'];
    if (evaluating) evaluating.endedAt = endedAt;
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
    assertRoundTransition(this.status, 'committed');
    this.status = 'committed';
    for (const siteId of fitSites) await this.deps.uploads.discard(this.taskId('fit', siteId));
    this.deps.emit({
      type: 'round-committed',
      studyId: this.spec.id,
      round: this.round,
      attempt,
      durationMs: endedAt - this.record.startedAt,
      metrics,
      trainMetrics,
      modelVersion: candidate,
      sites: fitSites.length,
    });
    return true;
  }

  private taskId(phase: string, siteId: string): string {
    return `${this.spec.id}/r${this.round}/a${this.record.attempt}/${phase}/${siteId}`;
  }

  /** `modelDigest`: the version's transfer digest (ModelRepository.transferDigest), which the site checks its download against. */
  private makeTask(kind: 'TASK_KIND_FIT' | 'TASK_KIND_EVALUATE', siteId: string, modelVersion: string, modelDigest: string, modelBytes: number): Task {
    const overrides = strategyTrainingOverrides(this.spec.strategy, this.spec.strategyOptions);
    const timeout = kind === 'TASK_KIND_FIT' ? this.spec.timeouts.fitMs : this.spec.timeouts.evaluateMs;
    return {
      taskId: this.taskId(kind === 'TASK_KIND_FIT' ? 'fit' : 'evaluate', siteId),
      kind,
      studyId: this.spec.id,
      round: this.round,
      modelVersion,
      modelDigest,
      modelBytes,
      modelSpec: this.spec.model,
      dataset: this.spec.dataset,
      studyData: this.spec.data !== undefined ? JSON.stringify(this.spec.data) : '',
      training: {
        localEpochs: this.spec.training.localEpochs,
        batchSize: this.spec.training.batchSize,
        learningRate: roundLearningRate(this.spec.training, this.round),
        optimizer: this.spec.training.optimizer,
        proximalMu: overrides.proximalMu,
        seed: (this.spec.seed + this.round * 7919) >>> 0,
        ...(kind === 'TASK_KIND_FIT' && this.spec.privacy ? { dp: this.dpConfig(this.spec.privacy) } : {}),
      },
      deadlineMs: this.deps.now() + timeout,
    };
  }

  /** This round's site-level clipping bound: the study's, or where adaptive clipping left it at the last commit. */
  private async currentClipNorm(): Promise<number | undefined> {
    const p = this.spec.privacy;
    if (p?.mode !== 'site') return undefined;
    if (!p.adaptiveClipping) return p.clipNorm;
    const saved = await this.deps.store.getStrategyState(this.spec.id);
    return (saved != null ? decodeStrategyState(saved).clipNorm : undefined) ?? p.clipNorm;
  }

  /** Integer units per unit of update for site-level DP under secure aggregation (no wrap up to 12σ). */
  private siteLevelScale(p: NonNullable<StudySpec['privacy']>, cohortSize: number, dim: number): number {
    if (p.noiseMultiplier === undefined) throw new Error(`study ${this.spec.id}: privacy.noiseMultiplier was not resolved`);
    const countNoise = p.adaptiveClipping?.countNoise;
    return siteLevelScale({
      clip: this.clipNorm ?? p.clipNorm,
      noiseMultiplier: updatePartNoiseMultiplier(p.noiseMultiplier, countNoise !== undefined ? { countNoise } : undefined),
      noiseShares: this.spec.minSites,
      cohortSize,
      dim,
    });
  }

  /** A DP site's own ledger after this round (its accountant, its budget): logged and emitted, never enforced here. */
  private reportSitePrivacy(siteId: string, r: TaskResult__Output): void {
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

  /** The task's DP settings; the noise multiplier was calibrated when the study was created. */
  private dpConfig(p: NonNullable<StudySpec['privacy']>): DpConfig {
    if (p.noiseMultiplier === undefined) throw new Error(`study ${this.spec.id}: privacy.noiseMultiplier was not resolved`);
    const secure = this.spec.secureAggregation;
    return {
      mode: p.mode,
      noiseMultiplier: p.noiseMultiplier,
      clipNorm: this.clipNorm ?? p.clipNorm,
      samplingRate: p.samplingRate,
      stepsPerRound: p.stepsPerRound,
      plannedRounds: this.spec.rounds,
      targetEpsilon: p.epsilon,
      delta: p.delta,
      accountant: p.accountant,
      noiseShares: this.spec.minSites,
      // Plain: 2^20 integer units per clipping bound (rounding adds at most √d to the integer L2 norm).
      // Secure: as many units as the cohort's 32-bit sum allows with 12σ of noise headroom.
      quantizationScale: secure && this.siteScale !== undefined ? this.siteScale : 2 ** 20 / (this.clipNorm ?? p.clipNorm),
      secureAggregation: secure,
      countNoise: p.adaptiveClipping?.countNoise ?? 0,
    };
  }

  private async fitPhase(cohort: string[], modelDigest: string, numParams: number): Promise<SiteFit[]> {
    const bytes = numParams * 4;
    const results = await Promise.all(
      cohort.map(async (siteId) => {
        const task = this.makeTask('TASK_KIND_FIT', siteId, this.study.currentModel, modelDigest, bytes);
        this.deps.expectUpdate(task.taskId ?? '', bytes);
        const outcome = await this.deps.sessions.dispatch(siteId, task, this.spec.timeouts.fitMs, (r) =>
          this.deps.uploads.isComplete(task.taskId ?? '', r.updateSha256) ? null : 'update upload is not complete',
        );
        this.deps.expectUpdate(task.taskId ?? '', undefined);
        return this.collectFit(siteId, task, outcome, numParams);
      }),
    );
    return results.filter((r): r is SiteFit => r !== null);
  }

  private async collectFit(siteId: string, task: Task, outcome: TaskOutcome, numParams: number): Promise<SiteFit | null> {
    const base = { studyId: this.spec.id, round: this.round, attempt: this.record.attempt, siteId, phase: 'fit' as const };
    let problem: { outcome: 'timeout' | 'refused' | 'invalid' | 'disconnected'; reason: string } | null = null;
    let fit: SiteFit | null = null;
    if (!outcome.ok) {
      problem = { outcome: outcome.outcome, reason: outcome.reason };
    } else {
      const r: TaskResult__Output = outcome.result;
      try {
        if (!Number.isInteger(r.numExamples) || r.numExamples <= 0) throw new Error('num_examples must be a positive integer');
        const weights = decodeWeights(await this.deps.uploads.read(task.taskId ?? ''), numParams);
        fit = {
          siteId,
          // Site-level DP: the sum of clipped, noised updates over sites, unweighted (a site's example count
          // would scale its contribution beyond the clipping bound the noise is calibrated to).
          update: { siteId, weights, numExamples: this.spec.privacy?.mode === 'site' ? 1 : r.numExamples },
          metrics: { loss: r.metrics['loss'] ?? Number.NaN, accuracy: r.metrics['accuracy'] ?? Number.NaN },
        };
        this.reportSitePrivacy(siteId, r);
      } catch (err) {
        problem = { outcome: 'invalid', reason: errorMessage(err) };
        await this.deps.uploads.discard(task.taskId ?? '');
      }
    }
    await this.deps.store.recordSiteOutcome({
      ...base,
      outcome: problem?.outcome ?? 'ok',
      numExamples: fit && outcome.ok ? outcome.result.numExamples : 0,
      loss: fit && Number.isFinite(fit.metrics.loss) ? fit.metrics.loss : null,
      accuracy: fit && Number.isFinite(fit.metrics.accuracy) ? fit.metrics.accuracy : null,
      updateSha256: outcome.ok ? outcome.result.updateSha256 : null,
      updateBytes: outcome.ok ? outcome.result.updateBytes : null,
      durationMs: outcome.durationMs,
      reason: problem?.reason ?? null,
    });
    if (problem) this.deps.logger.warn({ siteId, round: this.round, ...problem }, 'site dropped from round');
    this.deps.emit({
      type: 'site-finished',
      studyId: this.spec.id,
      round: this.round,
      siteId,
      phase: 'fit',
      outcome: problem?.outcome ?? 'ok',
      ...(problem ? { reason: problem.reason } : {}),
    });
    return fit;
  }

  private async evaluatePhase(cohort: string[], candidate: string, candidateDigest: string, bytes: number): Promise<RoundMetrics | null> {
    // Pooled AUC: the sites' per-class score histograms summed (each site's counts, never its scores).
    const pos = new Float64Array(ROC_BINS);
    const neg = new Float64Array(ROC_BINS);
    let histograms = 0;
    // The same over the validation split (model selection), when every counted site has one.
    const valPos = new Float64Array(ROC_BINS);
    const valNeg = new Float64Array(ROC_BINS);
    let valHistograms = 0;
    let valExamples = 0;
    const evals = await Promise.all(
      cohort.map(async (siteId) => {
        const task = this.makeTask('TASK_KIND_EVALUATE', siteId, candidate, candidateDigest, bytes);
        const outcome = await this.deps.sessions.dispatch(siteId, task, this.spec.timeouts.evaluateMs);
        const loss = outcome.ok ? outcome.result.metrics['loss'] : undefined;
        const accuracy = outcome.ok ? outcome.result.metrics['accuracy'] : undefined;
        const valid =
          outcome.ok &&
          loss !== undefined &&
          accuracy !== undefined &&
          Number.isFinite(loss) &&
          accuracy >= 0 &&
          accuracy <= 1 &&
          Number.isInteger(outcome.result.numExamples) &&
          outcome.result.numExamples > 0;
        const reason = outcome.ok ? (valid ? null : 'evaluation metrics missing or out of range') : outcome.reason;
        await this.deps.store.recordSiteOutcome({
          studyId: this.spec.id,
          round: this.round,
          attempt: this.record.attempt,
          siteId,
          phase: 'evaluate',
          outcome: valid ? 'ok' : outcome.ok ? 'invalid' : outcome.outcome,
          numExamples: valid ? outcome.result.numExamples : 0,
          loss: valid ? (loss ?? null) : null,
          accuracy: valid ? (accuracy ?? null) : null,
          updateSha256: null,
          updateBytes: null,
          durationMs: outcome.durationMs,
          reason,
        });
        this.deps.emit({
          type: 'site-finished',
          studyId: this.spec.id,
          round: this.round,
          siteId,
          phase: 'evaluate',
          outcome: valid ? 'ok' : outcome.ok ? 'invalid' : outcome.outcome,
          ...(reason != null ? { reason } : {}),
        });
        if (!valid || !outcome.ok) return null;
        if (addScoreHistogram(outcome.result.metrics, pos, neg)) histograms++;
        const nVal = outcome.result.metrics[VAL_EXAMPLES_KEY];
        if (nVal !== undefined && Number.isInteger(nVal) && nVal > 0 && addScoreHistogram(outcome.result.metrics, valPos, valNeg, VAL_PREFIX)) {
          valHistograms++;
          valExamples += nVal;
        }
        return { n: outcome.result.numExamples, loss: loss ?? 0, accuracy: accuracy ?? 0 };
      }),
    );
    const ok = evals.filter((e): e is { n: number; loss: number; accuracy: number } => e !== null);
    const metrics = weighted(ok);
    if (metrics === null || histograms !== ok.length) return metrics;
    // Only when every counted site sent a histogram covering all its examples.
    const counted = pos.reduce((a, b) => a + b, 0) + neg.reduce((a, b) => a + b, 0);
    const auc = aucFromHistograms(pos, neg);
    const withAuc = counted === metrics.numExamples && Number.isFinite(auc) ? { ...metrics, auc } : metrics;
    if (valHistograms !== ok.length) return withAuc;
    const valCounted = valPos.reduce((a, b) => a + b, 0) + valNeg.reduce((a, b) => a + b, 0);
    const valAuc = aucFromHistograms(valPos, valNeg);
    return valCounted === valExamples && Number.isFinite(valAuc) ? { ...withAuc, valAuc, valExamples } : withAuc;
  }

  private waitForSites(min: number, timeoutMs: number): Promise<boolean> {
    const { sessions, signal } = this.deps;
    // Aborted before the wait began (an operator's pause/abort right after start): an 'abort' event never comes.
    if (signal.aborted) return Promise.resolve(false);
    if (sessions.connectedSites().length >= min) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      const unsubscribe = sessions.onChange(() => {
        if (sessions.connectedSites().length >= min) done(true);
      });
      signal.addEventListener('abort', onAbort);
    });
  }
}
