import { AuditKind } from '../../../shared/src/audit/index.js';
import { epsilonFor } from '../../../shared/src/dp/accountant.js';
import { siteNoiseShareFactor } from '../../../shared/src/dp/study-privacy.js';
import type { AuditLedger } from '../audit/audit-ledger.js';
import type { CoordinatorEvent } from '../rounds/events.js';
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

/** What the coordinator needs to show DP budgets: its store, its signed ledger and its event stream. */
export interface DpBudgetDeps {
  store: CoordinatorStore;
  ledger?: AuditLedger;
  subscribe(listener: (e: CoordinatorEvent) => void): () => void;
}

/**
 * Privacy budgets with the differential-privacy figures filled in. For each site of a DP study,
 * `epsilonSpent` is the largest of (a) ε of the steps in the committed rounds it took part in, under
 * the study's accountant and σ (what the coordinator can recompute from its own store), (b) the ε the
 * site last reported from its own ledger (`PrivacySpend`, seen live; it also counts retried attempts
 * and is the one the site enforces) and (c) the last such report in the signed audit ledger's
 * `privacy.spent` entries (survives restarts). `epsilonBudget` is the study's target.
 */
export function dpPrivacyBudgets(deps: DpBudgetDeps): PrivacyBudgetSource {
  const base = storePrivacyBudgets(deps.store, deps.ledger);
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
        // Site level without secure aggregation: each site's release carries its share σ/√minSites.
        const site = p.mode === 'site';
        const spec = specs.get(entry.studyId);
        const sigma = p.noiseMultiplier / (spec ? siteNoiseShareFactor(spec, p) : 1);
        const steps = entry.roundsParticipated * (site ? 1 : p.stepsPerRound);
        const computed = steps === 0 ? 0 : epsilonFor(p.accountant, { q: site ? 1 : p.samplingRate, sigma, steps }, p.delta);
        const live = reported.get(`${entry.studyId}/${entry.siteId}`);
        return {
          ...entry,
          dp: {
            mechanism: site ? `dp-fedavg (site-level, ${p.accountant})` : `dp-sgd (record-level, ${p.accountant})`,
            epsilonSpent: Math.max(computed, live?.epsilon ?? 0, entry.dp?.epsilonSpent ?? 0),
            epsilonBudget: p.epsilon,
            delta: p.delta,
          },
        };
      });
    },
  };
}
