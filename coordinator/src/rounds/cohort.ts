import { ConfigError } from '../../../shared/src/errors.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { SiteChannel } from './round-ports.js';
import type { SiteTaskOutcome } from './site-task.js';

/** How long a round waits for the rest of its cohort once `minSites` are connected, unless the study says. */
export const DEFAULT_JOIN_MS = 30_000;
/** The first retry's wait after a failed attempt, unless the study says; it doubles per failed attempt. */
export const DEFAULT_RETRY_BACKOFF_MS = 1_000;
export const MAX_RETRY_BACKOFF_MS = 60_000;

/**
 * A site's own cohort floor, as its refusal states it: the agent refuses a secure round whose cohort is
 * below its `policy.secureAggregation.minCohort` with `TESSERA_SECAGG_POLICY: cohort of n sites is below
 * this site's minimum of m`. Undefined for any other refusal.
 */
export function cohortFloorOf(refusal: string): number | undefined {
  const m = /^TESSERA_SECAGG_POLICY: cohort of \d+ sites is below this site's minimum of (\d+)/.exec(refusal);
  const floor = m?.[1] !== undefined ? Number(m[1]) : undefined;
  return floor !== undefined && Number.isSafeInteger(floor) ? floor : undefined;
}

/**
 * The sites' own cohort floors the coordinator has learned (from their refusals), kept across the
 * attempts and rounds of one study run, so the next attempt waits for a cohort every site accepts.
 */
export class CohortFloors {
  private readonly floors = new Map<string, number>();

  learn(siteId: string, refusal: string): void {
    const floor = cohortFloorOf(refusal);
    if (floor !== undefined) this.floors.set(siteId, floor);
  }

  /** The largest floor among `sites` (0 when none is known). */
  highest(sites: readonly string[]): number {
    return Math.max(0, ...sites.map((s) => this.floors.get(s) ?? 0));
  }

  /** A channel that learns the floor from every refusal it passes on. */
  observe(channel: SiteChannel): SiteChannel {
    return observeOutcomes(channel, (siteId, outcome) => {
      if (!outcome.ok && outcome.outcome === 'refused') this.learn(siteId, outcome.reason);
    });
  }
}

/** `channel`, with `fn` called on every outcome it passes on. */
export function observeOutcomes(channel: SiteChannel, fn: (siteId: string, outcome: SiteTaskOutcome) => void): SiteChannel {
  return {
    connectedSites: () => channel.connectedSites(),
    onChange: (f) => channel.onChange(f),
    onDisconnect: (f) => channel.onDisconnect(f),
    dispatch: async (siteId, task, timeoutMs, check) => {
      const outcome = await channel.dispatch(siteId, task, timeoutMs, check);
      fn(siteId, outcome);
      return outcome;
    },
  };
}

/** The sites the study expects that are not connected. */
export function missingExpected(spec: Pick<StudySpec, 'expectedSites'>, connected: readonly string[]): string[] {
  const here = new Set(connected);
  return (spec.expectedSites ?? []).filter((s) => !here.has(s));
}

/**
 * Whether a round may start with `connected`: at least `minSites`, and either every expected site (when
 * the study names them) or as many sites as the highest floor among the connected ones asks (capped at
 * `maxSites`, beyond which waiting cannot help).
 */
export function cohortReady(spec: Pick<StudySpec, 'minSites' | 'maxSites' | 'expectedSites'>, connected: readonly string[], floors: CohortFloors): boolean {
  if (connected.length < spec.minSites) return false;
  if (spec.expectedSites) return missingExpected(spec, connected).length === 0;
  const need = Math.min(Math.max(spec.minSites, floors.highest(connected)), spec.maxSites ?? Number.MAX_SAFE_INTEGER);
  return connected.length >= need;
}

/** The wait before the next attempt after `failedAttempts` failed ones: base · 2^(n − 1), at most 60 s. */
export function retryBackoffMs(spec: Pick<StudySpec, 'timeouts'>, failedAttempts: number): number {
  const base = spec.timeouts.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  if (failedAttempts <= 0 || base === 0) return 0;
  return Math.min(MAX_RETRY_BACKOFF_MS, base * 2 ** (failedAttempts - 1));
}

/**
 * Checks a study's cohort fields against each other, so that a contract no round can satisfy is refused
 * when the study is created, not found out at run time.
 * @throws ConfigError naming the field.
 */
export function checkStudyCohort(spec: Pick<StudySpec, 'id' | 'minSites' | 'maxSites' | 'expectedSites'>): void {
  if (spec.maxSites !== undefined && spec.minSites > spec.maxSites) {
    throw new ConfigError(`study '${spec.id}': minSites (${spec.minSites}) must be at most maxSites (${spec.maxSites})`, { field: 'minSites' });
  }
  if (spec.expectedSites !== undefined && spec.expectedSites.length < spec.minSites) {
    throw new ConfigError(`study '${spec.id}': expectedSites names ${spec.expectedSites.length} sites, fewer than minSites (${spec.minSites})`, { field: 'expectedSites' });
  }
}
