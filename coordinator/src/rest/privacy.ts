import type { CoordinatorStore } from '../store/coordinator-store.js';

/** Privacy budget of one site in one study, as the REST API and the dashboard show it. */
export interface PrivacyBudgetEntry {
  studyId: string;
  siteId: string;
  /** Committed rounds whose aggregate includes this site's update. */
  roundsParticipated: number;
  /** Differential-privacy accounting; null when the study runs without DP (or the accountant has nothing stored). */
  dp: { mechanism: string; epsilonSpent: number; epsilonBudget: number | null; delta: number } | null;
}

export interface PrivacyBudgetSource {
  list(filter: { studyId?: string; siteId?: string }): Promise<PrivacyBudgetEntry[]>;
}

/**
 * Privacy budgets from what the coordinator store holds today: participation per site and study. The `dp` field
 * is where the differential-privacy accountant's ε spent / budget / δ go; pass a source that fills it (the DP work)
 * to {@link buildRestServer}.
 */
export function storePrivacyBudgets(store: CoordinatorStore): PrivacyBudgetSource {
  return {
    async list(filter) {
      const studies = (await store.listStudies()).filter((s) => filter.studyId === undefined || s.id === filter.studyId);
      const out: PrivacyBudgetEntry[] = [];
      for (const study of studies) {
        const counts = new Map<string, number>();
        for (const r of await store.listRounds(study.id)) {
          if (r.status !== 'committed') continue;
          for (const s of await store.listRoundSites(study.id, r.round, r.attempt)) {
            if (s.phase === 'fit' && s.outcome === 'ok') counts.set(s.siteId, (counts.get(s.siteId) ?? 0) + 1);
          }
        }
        for (const [siteId, n] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
          if (filter.siteId === undefined || filter.siteId === siteId) out.push({ studyId: study.id, siteId, roundsParticipated: n, dp: null });
        }
      }
      return out;
    },
  };
}
