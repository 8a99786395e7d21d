import { addScoreHistogram, aucFromHistograms, ROC_BINS, VAL_EXAMPLES_KEY, VAL_PREFIX } from '../../../shared/src/ml/metrics.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { RoundMetrics } from '../store/coordinator-store.js';
import type { RoundDeps } from './round-ports.js';
import type { ModelRef, RoundTasks } from './round-tasks.js';

/** Example-weighted mean loss and accuracy; null without examples. */
export function weightedMetrics(items: readonly { n: number; loss: number; accuracy: number }[]): RoundMetrics | null {
  const total = items.reduce((s, i) => s + i.n, 0);
  if (total === 0) return null;
  return {
    loss: items.reduce((s, i) => s + i.loss * i.n, 0) / total,
    accuracy: items.reduce((s, i) => s + i.accuracy * i.n, 0) / total,
    numExamples: total,
  };
}

/** One site's valid evaluation: its example count, loss, accuracy and the metrics map it sent (histograms). */
export interface SiteEvaluation {
  n: number;
  loss: number;
  accuracy: number;
  metrics: Readonly<Record<string, number>>;
}

/**
 * Pools the sites' evaluations, pure: example-weighted loss and accuracy, and the pooled ROC AUC from the
 * sites' per-class score histograms (each site's counts, never its scores) when every counted site sent
 * one covering all its examples; the same over the validation split (`valAuc`) when every site has one.
 */
export function poolEvaluations(evals: readonly SiteEvaluation[]): RoundMetrics | null {
  const metrics = weightedMetrics(evals);
  if (metrics === null) return null;
  const pos = new Float64Array(ROC_BINS);
  const neg = new Float64Array(ROC_BINS);
  const valPos = new Float64Array(ROC_BINS);
  const valNeg = new Float64Array(ROC_BINS);
  let histograms = 0;
  let valHistograms = 0;
  let valExamples = 0;
  for (const e of evals) {
    if (addScoreHistogram(e.metrics, pos, neg)) histograms++;
    const nVal = e.metrics[VAL_EXAMPLES_KEY];
    if (nVal !== undefined && Number.isInteger(nVal) && nVal > 0 && addScoreHistogram(e.metrics, valPos, valNeg, VAL_PREFIX)) {
      valHistograms++;
      valExamples += nVal;
    }
  }
  if (histograms !== evals.length) return metrics;
  const counted = pos.reduce((a, b) => a + b, 0) + neg.reduce((a, b) => a + b, 0);
  const auc = aucFromHistograms(pos, neg);
  const withAuc = counted === metrics.numExamples && Number.isFinite(auc) ? { ...metrics, auc } : metrics;
  if (valHistograms !== evals.length) return withAuc;
  const valCounted = valPos.reduce((a, b) => a + b, 0) + valNeg.reduce((a, b) => a + b, 0);
  const valAuc = aucFromHistograms(valPos, valNeg);
  return valCounted === valExamples && Number.isFinite(valAuc) ? { ...withAuc, valAuc, valExamples } : withAuc;
}

/**
 * Federated evaluation of a candidate: every site in `cohort` scores it on its held-out split; each site's
 * outcome is recorded; the valid ones are pooled ({@link poolEvaluations}).
 */
export async function evaluateCandidate(deps: RoundDeps, spec: StudySpec, tasks: RoundTasks, cohort: readonly string[], candidate: ModelRef): Promise<RoundMetrics | null> {
  const evals = await Promise.all(
    cohort.map(async (siteId): Promise<SiteEvaluation | null> => {
      const task = tasks.make('evaluate', siteId, candidate);
      const outcome = await deps.sites.dispatch(siteId, task, spec.timeouts.evaluateMs);
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
      const recorded = valid ? 'ok' : outcome.ok ? 'invalid' : outcome.outcome;
      await deps.store.recordSiteOutcome({
        studyId: spec.id,
        round: tasks.ref.round,
        attempt: tasks.ref.attempt,
        siteId,
        phase: 'evaluate',
        outcome: recorded,
        numExamples: valid ? outcome.result.numExamples : 0,
        loss: valid ? (loss ?? null) : null,
        accuracy: valid ? (accuracy ?? null) : null,
        updateSha256: null,
        updateBytes: null,
        durationMs: outcome.durationMs,
        reason,
      });
      deps.emit({ type: 'site-finished', studyId: spec.id, round: tasks.ref.round, siteId, phase: 'evaluate', outcome: recorded, ...(reason != null ? { reason } : {}) });
      if (!valid || !outcome.ok) return null;
      return { n: outcome.result.numExamples, loss: loss ?? 0, accuracy: accuracy ?? 0, metrics: outcome.result.metrics };
    }),
  );
  return poolEvaluations(evals.filter((e): e is SiteEvaluation => e !== null));
}
