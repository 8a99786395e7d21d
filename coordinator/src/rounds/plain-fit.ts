import { errorMessage } from '../../../shared/src/errors.js';
import { decodeWeights } from '../../../shared/src/ml/weights.js';
import type { ClientUpdate } from '../strategies/index.js';
import type { FitContext, FitOutcome, FitProtocol } from './fit-protocol.js';
import type { SiteFailure, SiteTask, SiteTaskOutcome } from './site-task.js';

interface SiteFit {
  siteId: string;
  update: ClientUpdate;
  metrics: { loss: number; accuracy: number };
}

/**
 * The plain fit protocol: every cohort site trains and uploads its update; the round keeps the valid ones.
 * Sites that time out, disconnect, refuse or send an invalid update are recorded and dropped; fewer than
 * `minSites` valid updates fail the round.
 */
export class PlainFit implements FitProtocol {
  constructor(private readonly c: FitContext) {}

  async run(cohort: readonly string[]): Promise<FitOutcome> {
    const { deps, spec, tasks, model } = this.c;
    const numParams = this.c.global.length;
    const results = await Promise.all(
      cohort.map(async (siteId) => {
        const task = tasks.make('fit', siteId, model);
        deps.expectUpdate(task.taskId, model.bytes);
        const outcome = await deps.sites.dispatch(siteId, task, spec.timeouts.fitMs, (r) =>
          deps.uploads.isComplete(task.taskId, r.updateSha256) ? null : 'update upload is not complete',
        );
        deps.expectUpdate(task.taskId, undefined);
        return this.collect(siteId, task, outcome, numParams);
      }),
    );
    const fits = results.filter((r): r is SiteFit => r !== null);
    if (fits.length < spec.minSites) {
      return { ok: false, reason: `${fits.length} of ${cohort.length} sites returned valid updates; the study needs ${spec.minSites}` };
    }
    return {
      ok: true,
      updates: fits.map((f) => f.update),
      metrics: fits.map((f) => ({ n: f.update.numExamples, ...f.metrics })),
      contributors: fits.map((f) => f.siteId),
    };
  }

  private async collect(siteId: string, task: SiteTask, outcome: SiteTaskOutcome, numParams: number): Promise<SiteFit | null> {
    const { deps, spec, tasks } = this.c;
    let problem: { outcome: SiteFailure; reason: string } | null = null;
    let fit: SiteFit | null = null;
    if (!outcome.ok) {
      problem = { outcome: outcome.outcome, reason: outcome.reason };
    } else {
      const r = outcome.result;
      try {
        if (!Number.isInteger(r.numExamples) || r.numExamples <= 0) throw new Error('num_examples must be a positive integer');
        const weights = decodeWeights(await deps.uploads.read(task.taskId), numParams);
        fit = {
          siteId,
          // Site-level DP: the sum of clipped, noised updates over sites, unweighted (a site's example count
          // would scale its contribution beyond the clipping bound the noise is calibrated to).
          update: { siteId, weights, numExamples: spec.privacy?.mode === 'site' ? 1 : r.numExamples },
          metrics: { loss: r.metrics['loss'] ?? Number.NaN, accuracy: r.metrics['accuracy'] ?? Number.NaN },
        };
        this.c.reportPrivacy(siteId, r);
      } catch (err) {
        problem = { outcome: 'invalid', reason: errorMessage(err) };
        await deps.uploads.discard(task.taskId);
      }
    }
    await deps.store.recordSiteOutcome({
      studyId: spec.id,
      round: tasks.ref.round,
      attempt: tasks.ref.attempt,
      siteId,
      phase: 'fit',
      outcome: problem?.outcome ?? 'ok',
      numExamples: fit && outcome.ok ? outcome.result.numExamples : 0,
      loss: fit && Number.isFinite(fit.metrics.loss) ? fit.metrics.loss : null,
      accuracy: fit && Number.isFinite(fit.metrics.accuracy) ? fit.metrics.accuracy : null,
      updateSha256: outcome.ok ? outcome.result.updateSha256 : null,
      updateBytes: outcome.ok ? outcome.result.updateBytes : null,
      durationMs: outcome.durationMs,
      reason: problem?.reason ?? null,
    });
    if (problem) deps.logger.warn({ siteId, round: tasks.ref.round, ...problem }, 'site dropped from round');
    deps.emit({
      type: 'site-finished',
      studyId: spec.id,
      round: tasks.ref.round,
      siteId,
      phase: 'fit',
      outcome: problem?.outcome ?? 'ok',
      ...(problem ? { reason: problem.reason } : {}),
    });
    return fit;
  }
}
