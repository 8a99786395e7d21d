import type { CoordinatorStore, RoundMetrics } from './store/coordinator-store.js';

export interface SiteSummary {
  id: string;
  trainExamples: number;
  testExamples: number;
}

export interface RoundSummary {
  round: number;
  attempt: number;
  durationMs: number;
  /** Federated evaluation; `auc` (pooled ROC AUC) when the sites reported score histograms. */
  metrics: { loss: number; accuracy: number; auc?: number; valAuc?: number } | null;
  train: { loss: number; accuracy: number } | null;
  sites: number;
  modelVersion: string | null;
  phases: Record<string, number>;
}

export interface StudySummary {
  studyId: string;
  status: string;
  reason: string | null;
  dataset: string;
  model: string;
  strategy: string;
  secureAggregation: boolean;
  /** The study's differential-privacy settings (σ as calibrated), or null without DP. */
  privacy: { mode: string; epsilon: number; delta: number; noiseMultiplier: number | null; accountant: string; clipNorm: number; samplingRate: number; stepsPerRound: number } | null;
  sites: SiteSummary[];
  rounds: RoundSummary[];
  failedAttempts: { round: number; attempt: number; status: string; reason: string | null }[];
  final: {
    modelVersion: string;
    /** Unweighted mean of the sites' held-out accuracies (FLamby's metric). */
    meanClientAccuracy: number | null;
    /** Example-weighted federated evaluation. */
    weightedAccuracy: number | null;
    /** Pooled ROC AUC of the final model over all sites' held-out examples; null when not reported. */
    auc: number | null;
    perSite: Record<string, { accuracy: number; loss: number; testExamples: number }>;
  };
}

function metricPair(m: RoundMetrics | null): { loss: number; accuracy: number } | null {
  return m == null ? null : { loss: m.loss, accuracy: m.accuracy };
}

function evalMetrics(m: RoundMetrics | null): { loss: number; accuracy: number; auc?: number; valAuc?: number } | null {
  return m == null ? null : { loss: m.loss, accuracy: m.accuracy, ...(m.auc !== undefined ? { auc: m.auc } : {}), ...(m.valAuc !== undefined ? { valAuc: m.valAuc } : {}) };
}

/** The JSON summary of a study, from the store alone (what the demo report and the CLI print). */
export async function buildStudySummary(store: CoordinatorStore, studyId: string): Promise<StudySummary> {
  const study = await store.getStudy(studyId);
  if (!study) throw new Error(`no study ${studyId}`);
  const rounds = await store.listRounds(studyId);
  const committed = rounds.filter((r) => r.status === 'committed');
  const sites = new Map<string, SiteSummary>();
  const perSite: StudySummary['final']['perSite'] = {};
  const last = committed.at(-1);
  const fitSites = new Map<number, number>();
  for (const r of committed) {
    for (const s of await store.listRoundSites(studyId, r.round, r.attempt)) {
      if (s.outcome !== 'ok') continue;
      if (s.phase === 'fit') fitSites.set(r.round, (fitSites.get(r.round) ?? 0) + 1);
      const entry = sites.get(s.siteId) ?? { id: s.siteId, trainExamples: 0, testExamples: 0 };
      if (s.phase === 'fit') entry.trainExamples = s.numExamples;
      else entry.testExamples = s.numExamples;
      sites.set(s.siteId, entry);
      if (r === last && s.phase === 'evaluate' && s.accuracy != null && s.loss != null) {
        perSite[s.siteId] = { accuracy: s.accuracy, loss: s.loss, testExamples: s.numExamples };
      }
    }
  }
  const accuracies = Object.values(perSite).map((p) => p.accuracy);
  return {
    studyId,
    status: study.status,
    reason: study.reason,
    dataset: study.spec.dataset,
    model: study.spec.model,
    strategy: study.spec.strategy,
    secureAggregation: study.spec.secureAggregation,
    privacy:
      study.spec.privacy === undefined
        ? null
        : {
            mode: study.spec.privacy.mode,
            epsilon: study.spec.privacy.epsilon,
            delta: study.spec.privacy.delta,
            noiseMultiplier: study.spec.privacy.noiseMultiplier ?? null,
            accountant: study.spec.privacy.accountant,
            clipNorm: study.spec.privacy.clipNorm,
            samplingRate: study.spec.privacy.samplingRate,
            stepsPerRound: study.spec.privacy.stepsPerRound,
          },
    sites: [...sites.values()].sort((a, b) => a.id.localeCompare(b.id)),
    rounds: committed.map((r) => ({
      round: r.round,
      attempt: r.attempt,
      durationMs: (r.endedAt ?? r.startedAt) - r.startedAt,
      metrics: evalMetrics(r.metrics),
      train: metricPair(r.trainMetrics),
      sites: fitSites.get(r.round) ?? 0,
      modelVersion: r.modelOut,
      phases: Object.fromEntries(
        Object.entries(r.phases).map(([k, v]) => [k, (v.endedAt ?? v.startedAt) - v.startedAt]),
      ),
    })),
    failedAttempts: rounds
      .filter((r) => r.status !== 'committed')
      .map((r) => ({ round: r.round, attempt: r.attempt, status: r.status, reason: r.reason })),
    final: {
      modelVersion: study.currentModel,
      meanClientAccuracy: accuracies.length === 0 ? null : accuracies.reduce((a, b) => a + b, 0) / accuracies.length,
      weightedAccuracy: last?.metrics?.accuracy ?? null,
      auc: last?.metrics?.auc ?? null,
      perSite,
    },
  };
}
