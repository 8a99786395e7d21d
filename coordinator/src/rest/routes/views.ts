import type { PhaseTiming, RoundRecord, RoundSiteRecord, StudyRecord } from '../../store/coordinator-store.js';
import { iso, isoOrNull } from './context.js';

/** A study as the REST API shows it. */
export function studyView(s: StudyRecord, running: boolean) {
  return {
    id: s.id,
    name: s.spec.name,
    status: s.status,
    running,
    completedRounds: s.completedRounds,
    rounds: s.spec.rounds,
    currentModel: s.currentModel,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
    reason: s.reason,
    spec: s.spec as unknown as Record<string, unknown>,
  };
}

function phaseView(t: PhaseTiming) {
  return { startedAt: iso(t.startedAt), endedAt: isoOrNull(t.endedAt), durationMs: t.endedAt === undefined ? null : t.endedAt - t.startedAt };
}

/** One round attempt with its per-phase timings. */
export function roundView(r: RoundRecord) {
  return {
    round: r.round,
    attempt: r.attempt,
    status: r.status,
    modelIn: r.modelIn,
    modelOut: r.modelOut,
    startedAt: iso(r.startedAt),
    endedAt: isoOrNull(r.endedAt),
    durationMs: r.endedAt === null ? null : r.endedAt - r.startedAt,
    phases: Object.fromEntries(Object.entries(r.phases).map(([k, v]) => [k, phaseView(v)])),
    metrics: r.metrics,
    trainMetrics: r.trainMetrics,
    reason: r.reason,
  };
}

/** One site's outcome in one phase of a round attempt. */
export function siteRoundView(s: RoundSiteRecord) {
  return {
    round: s.round,
    attempt: s.attempt,
    siteId: s.siteId,
    phase: s.phase,
    outcome: s.outcome,
    numExamples: s.numExamples,
    loss: s.loss,
    accuracy: s.accuracy,
    updateSha256: s.updateSha256,
    updateBytes: s.updateBytes,
    durationMs: s.durationMs,
    reason: s.reason,
  };
}
