import type { CoordinatorEvent } from '../../../coordinator/src/rounds/events.js';
import type { StudySummary } from '../../../coordinator/src/study-summary.js';
import type { ChestXrayReport } from '../demo/chest-xray/index.js';

/** The report `--report` writes: the contract other tools read (field names are fixed). */
export interface DemoReport {
  dataset: string;
  strategy: string;
  model: string;
  secureAggregation: boolean;
  /**
   * Differential privacy: the study's target and calibrated σ, and each site's own ledger (ε its
   * accountant says the study spent on its records). `mode` is 'none' without DP.
   */
  privacy: {
    mode: string;
    epsilon: number | null;
    delta: number | null;
    noiseMultiplier: number | null;
    accountant: string | null;
    perSite: Record<string, { epsilon: number; delta: number; accountant: string; rounds: number }>;
  };
  workdir: string;
  sites: { id: string; trainExamples: number; testExamples: number }[];
  rounds: { round: number; durationMs: number; metrics: { loss: number; accuracy: number; auc?: number; valAuc?: number }; train: { loss: number; accuracy: number } | null }[];
  final: {
    /** Of the last round's global model. */
    meanClientAccuracy: number | null;
    /** Of the last round's global model. */
    weightedAccuracy: number | null;
    /**
     * Pooled test ROC AUC of the selected global model on every site's held-out split (null: not
     * reported): the round with the best pooled validation AUC when the sites report one, else the last.
     */
    auc: number | null;
    /** The round whose model `auc` and `modelVersion` describe (chosen on validation AUC only, never on test). */
    selectedRound: number | null;
    /** Pooled validation AUC of the selected round (null: the sites hold no validation split). */
    valAuc: number | null;
    /** Pooled test ROC AUC of the last round's model, for comparison. */
    lastRoundAuc: number | null;
    /** Of the last round's global model. */
    perSite: Record<string, { accuracy: number; loss: number; testExamples: number }>;
    /** The selected round's global model. */
    modelVersion: string;
  };
  status: string;
  durationMs: number;
  /** `--dataset chest-xray` only: held-out score beside the anchor, per-site label counts, timings. */
  chestXray?: ChestXrayReport;
}


/** One progress line for an event, or null for events the demo does not print. */
export function progressLine(e: CoordinatorEvent, totalRounds: number): string | null {
  switch (e.type) {
    case 'study-started':
      return `study ${e.studyId}: ${e.rounds} rounds, starting at round ${e.fromRound}`;
    case 'round-phase':
      return `  round ${e.round}/${totalRounds}: ${e.phase} on ${e.sites} sites`;
    case 'site-finished':
      return e.outcome === 'ok' ? null : `  round ${e.round}: site ${e.siteId} ${e.phase} ${e.outcome}${e.reason ? ` (${e.reason})` : ''}`;
    case 'round-committed': {
      const m = e.metrics;
      const bar = '#'.repeat(Math.round((20 * e.round) / totalRounds)).padEnd(20, '.');
      return `[${bar}] round ${e.round}/${totalRounds}  ${(e.durationMs / 1000).toFixed(1)}s  ${m ? `eval loss ${m.loss.toFixed(4)}  accuracy ${m.accuracy.toFixed(3)}${m.auc !== undefined ? `  AUC ${m.auc.toFixed(3)}` : ''}${m.valAuc !== undefined ? `  val AUC ${m.valAuc.toFixed(3)}` : ''}` : 'no evaluation'}  (${e.sites} sites)`;
    }
    case 'round-failed':
      return `  round ${e.round} attempt ${e.attempt} failed: ${e.reason}`;
    case 'study-paused':
      return `study paused after ${e.completedRounds} rounds`;
    case 'study-finished':
      return `study ${e.status}${e.reason ? `: ${e.reason}` : ''}`;
    case 'round-started':
    case 'site-privacy':
      return null;
  }
}

/**
 * Model selection as MedMNIST does it: the committed round with the best pooled validation AUC (the
 * latest of equals); without validation AUCs, the last round. The test split never takes part.
 */
export function selectModel(summary: Pick<StudySummary, 'rounds' | 'final'>): Pick<DemoReport['final'], 'auc' | 'selectedRound' | 'valAuc' | 'lastRoundAuc' | 'modelVersion'> {
  let best: StudySummary['rounds'][number] | undefined;
  for (const r of summary.rounds) {
    const v = r.metrics?.valAuc;
    if (v !== undefined && r.modelVersion !== null && (best === undefined || v >= (best.metrics?.valAuc ?? -1))) best = r;
  }
  const last = summary.rounds.at(-1);
  if (best === undefined) {
    return { auc: summary.final.auc, selectedRound: last?.round ?? null, valAuc: null, lastRoundAuc: summary.final.auc, modelVersion: summary.final.modelVersion };
  }
  return { auc: best.metrics?.auc ?? null, selectedRound: best.round, valAuc: best.metrics?.valAuc ?? null, lastRoundAuc: summary.final.auc, modelVersion: best.modelVersion ?? summary.final.modelVersion };
}

/** The human-readable summary table. */
export function printSummary(r: DemoReport): void {
  console.log(`\n${r.dataset} · ${r.strategy} · ${r.model} · secure aggregation ${r.secureAggregation ? 'on' : 'off'} · ${r.status} in ${(r.durationMs / 1000).toFixed(1)}s`);
  console.log('site            train   test   accuracy   loss');
  for (const s of r.sites) {
    const p = r.final.perSite[s.id];
    console.log(`${s.id.padEnd(14)} ${String(s.trainExamples).padStart(6)} ${String(s.testExamples).padStart(6)}   ${p ? p.accuracy.toFixed(3).padStart(8) : '       -'}   ${p ? p.loss.toFixed(4) : '-'}`);
  }
  if (r.privacy.mode !== 'none') {
    const spent = Object.entries(r.privacy.perSite).map(([id, p]) => `${id} ${p.epsilon.toFixed(3)}`);
    console.log(`differential privacy: ${r.privacy.mode === 'site' ? 'site-level DP-FedAvg' : 'record-level DP-SGD'}, target ε ${r.privacy.epsilon} δ ${r.privacy.delta}, σ ${r.privacy.noiseMultiplier?.toFixed(3) ?? '-'} (${r.privacy.accountant}); ε spent per site: ${spent.join(', ') || '-'}`);
  }
  const m = r.final.meanClientAccuracy;
  console.log(`mean client accuracy ${m == null ? '-' : m.toFixed(3)} · weighted ${r.final.weightedAccuracy?.toFixed(3) ?? '-'} · AUC ${r.final.auc?.toFixed(3) ?? '-'}${r.final.valAuc !== null ? ` (round ${String(r.final.selectedRound)}, best validation AUC ${r.final.valAuc.toFixed(3)}; last round ${r.final.lastRoundAuc?.toFixed(3) ?? '-'})` : ''} · model ${r.final.modelVersion.slice(0, 12)}`);
  console.log(`state, certificates and logs: ${r.workdir}`);
}

/** The `--report` contract from the study's summary, the sites' own privacy ledgers and their local counts. */
export function buildDemoReport(
  a: { dataset: string; workdir: string },
  summary: StudySummary,
  sitePrivacy: DemoReport['privacy']['perSite'],
  localTrainExamples: ReadonlyMap<string, number>,
  durationMs: number,
): DemoReport {
  return {
    dataset: a.dataset,
    strategy: summary.strategy,
    model: summary.model,
    secureAggregation: summary.secureAggregation,
    privacy: summary.privacy
      ? {
          mode: summary.privacy.mode,
          epsilon: summary.privacy.epsilon,
          delta: summary.privacy.delta,
          noiseMultiplier: summary.privacy.noiseMultiplier,
          accountant: summary.privacy.accountant,
          perSite: sitePrivacy,
        }
      : { mode: 'none', epsilon: null, delta: null, noiseMultiplier: null, accountant: null, perSite: {} },
    workdir: a.workdir,
    sites: summary.sites.map((s) => (summary.secureAggregation ? { ...s, trainExamples: localTrainExamples.get(s.id) ?? s.trainExamples } : s)),
    rounds: summary.rounds.map((r) => ({ round: r.round, durationMs: r.durationMs, metrics: r.metrics ?? { loss: Number.NaN, accuracy: Number.NaN }, train: r.train })),
    final: { meanClientAccuracy: summary.final.meanClientAccuracy, weightedAccuracy: summary.final.weightedAccuracy, ...selectModel(summary), perSite: summary.final.perSite },
    status: summary.status,
    durationMs,
  };
}
