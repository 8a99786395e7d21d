import { epsilonFor } from '../../../shared/src/dp/accountant.js';
import type { CoordinatorEvent } from '../rounds/events.js';
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

/** What the coordinator needs to show DP budgets: its store and its event stream. */
export interface DpBudgetDeps {
  store: CoordinatorStore;
  subscribe(listener: (e: CoordinatorEvent) => void): () => void;
}

/**
 * Privacy budgets with the differential-privacy figures filled in. For each site of a DP study,
 * `epsilonSpent` is the larger of (a) ε of the steps in the committed rounds it took part in, under
 * the study's accountant and σ (what the coordinator can recompute from its own store, so it survives
 * restarts), and (b) the ε the site last reported from its own ledger (`PrivacySpend`; it also counts
 * retried attempts and is the one the site enforces). `epsilonBudget` is the study's target.
 */
export function dpPrivacyBudgets(deps: DpBudgetDeps): PrivacyBudgetSource {
  const base = storePrivacyBudgets(deps.store);
  const reported = new Map<string, { epsilon: number; delta: number }>();
  deps.subscribe((e) => {
    if (e.type === 'site-privacy') reported.set(`${e.studyId}/${e.siteId}`, { epsilon: e.epsilon, delta: e.delta });
  });
  return {
    async list(filter) {
      const entries = await base.list(filter);
      const specs = new Map((await deps.store.listStudies()).map((s) => [s.id, s.spec]));
      return entries.map((entry) => {
        const p = specs.get(entry.studyId)?.privacy;
        if (p === undefined || p.noiseMultiplier === undefined) return entry;
        const computed = epsilonFor(p.accountant, { q: p.samplingRate, sigma: p.noiseMultiplier, steps: entry.roundsParticipated * p.stepsPerRound }, p.delta);
        const site = reported.get(`${entry.studyId}/${entry.siteId}`);
        return {
          ...entry,
          dp: {
            mechanism: `dp-sgd (${p.mode}-level, ${p.accountant})`,
            epsilonSpent: Math.max(computed, site?.epsilon ?? 0),
            epsilonBudget: p.epsilon,
            delta: p.delta,
          },
        };
      });
    },
  };
}
