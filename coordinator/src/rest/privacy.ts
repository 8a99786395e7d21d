import { AuditKind } from '../../../shared/src/audit/index.js';
import type { AuditLedger } from '../audit/audit-ledger.js';
import type { CoordinatorStore } from '../store/coordinator-store.js';

/** Privacy budget of one site in one study, as the REST API and the dashboard show it. */
export interface PrivacyBudgetEntry {
  studyId: string;
  siteId: string;
  /** Committed rounds whose aggregate includes this site's update. */
  roundsParticipated: number;
  /** Differential-privacy accounting; null when the study ran without DP (no `privacy.spent` entry for the site). */
  dp: { mechanism: string; epsilonSpent: number; epsilonBudget: number | null; delta: number } | null;
}

export interface PrivacyBudgetSource {
  list(filter: { studyId?: string; siteId?: string }): Promise<PrivacyBudgetEntry[]>;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Privacy budgets from what the coordinator holds: participation per site and study from the store, and ε / δ
 * from the signed ledger's `privacy.spent` entries (the last cumulative `epsilonTotal` a site's accountant
 * reported, or the sum of per-round `epsilon`: basic composition). `epsilonBudget` stays null until study files
 * carry a budget.
 */
export function storePrivacyBudgets(store: CoordinatorStore, ledger?: AuditLedger): PrivacyBudgetSource {
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
        const dp = new Map<string, { mechanism: string; epsilonSpent: number; epsilonBudget: null; delta: number }>();
        if (ledger) {
          let after = 0;
          for (;;) {
            const page = await ledger.list({ studyId: study.id, kind: AuditKind.PrivacySpent }, { afterSeq: after, limit: 1000 });
            for (const e of page.entries) {
              if (e.siteId === undefined) continue;
              const prev = dp.get(e.siteId);
              const total = num(e.details['epsilonTotal']);
              const step = num(e.details['epsilon']);
              dp.set(e.siteId, {
                mechanism: typeof e.details['accountant'] === 'string' ? e.details['accountant'] : 'differential privacy',
                epsilonSpent: total ?? (prev?.epsilonSpent ?? 0) + (step ?? 0),
                epsilonBudget: null,
                delta: num(e.details['delta']) ?? prev?.delta ?? 0,
              });
            }
            if (page.nextAfterSeq === null) break;
            after = page.nextAfterSeq;
          }
        }
        const sites = [...new Set([...counts.keys(), ...dp.keys()])].sort();
        for (const siteId of sites) {
          if (filter.siteId !== undefined && filter.siteId !== siteId) continue;
          out.push({ studyId: study.id, siteId, roundsParticipated: counts.get(siteId) ?? 0, dp: dp.get(siteId) ?? null });
        }
      }
      return out;
    },
  };
}
