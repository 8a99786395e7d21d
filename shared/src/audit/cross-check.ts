import type { AuditEntry } from './audit-entry.js';
import { AuditKind } from './audit-entry.js';

/** One update as either side recorded it. */
export interface UpdateRecord {
  studyId: string;
  round: number;
  sha256: string;
  bytes: number | null;
  /** seq of the entry that recorded it. */
  seq: number;
}

/** What {@link crossCheckLedgers} found. */
export interface CrossCheckReport {
  /** True when every update the coordinator recorded from the site is in the site's ledger with the same hash. */
  ok: boolean;
  siteId: string;
  /** Updates both ledgers record with the same sha256. */
  matched: number;
  /** The coordinator recorded a hash the site never sent for that study and round: altered in transit or in a ledger. */
  mismatched: { studyId: string; round: number; coordinator: UpdateRecord; site: UpdateRecord[] }[];
  /** The coordinator recorded an update the site's ledger does not mention at all (site ledger truncated or not this site's). */
  missingAtSite: UpdateRecord[];
  /**
   * The site recorded sending an update the coordinator did not record as received (normal for an update that
   * arrived after the fit deadline or for a round the coordinator abandoned; listed, not a failure).
   */
  notRecordedByCoordinator: UpdateRecord[];
  /** Global models the site recorded receiving that the coordinator never created, committed or named as a round's candidate. */
  unknownModels: { sha256: string; seq: number }[];
}

function updates(entries: readonly AuditEntry[], kind: string, siteId: string | null): UpdateRecord[] {
  const out: UpdateRecord[] = [];
  for (const e of entries) {
    if (e.kind !== kind || e.studyId === undefined || e.round === undefined) continue;
    if (siteId !== null && e.siteId !== siteId) continue;
    const sha = e.details['sha256'];
    if (typeof sha !== 'string' || e.details['kind'] !== 'model-update') continue;
    const bytes = e.details['bytes'];
    out.push({ studyId: e.studyId, round: e.round, sha256: sha, bytes: typeof bytes === 'number' ? bytes : null, seq: e.seq });
  }
  return out;
}

/**
 * Cross-checks the coordinator's ledger against one site's ledger on every update hash: each `data.received`
 * model update the coordinator recorded from `siteId` must appear as a `data.sent` in the site's ledger with
 * the same study, round and sha256, and every global model the site recorded receiving must be one the
 * coordinator recorded (study created or model committed). Both ledgers should have been verified first.
 */
export function crossCheckLedgers(coordinator: readonly AuditEntry[], site: readonly AuditEntry[], siteId: string): CrossCheckReport {
  const received = updates(coordinator, AuditKind.DataReceived, siteId);
  const sent = updates(site, AuditKind.DataSent, null);
  const key = (u: { studyId: string; round: number }): string => `${u.studyId}\u0000${u.round}`;
  const sentBy = new Map<string, UpdateRecord[]>();
  for (const s of sent) sentBy.set(key(s), [...(sentBy.get(key(s)) ?? []), s]);
  const report: CrossCheckReport = {
    ok: false,
    siteId,
    matched: 0,
    mismatched: [],
    missingAtSite: [],
    notRecordedByCoordinator: [],
    unknownModels: [],
  };
  const confirmed = new Set<UpdateRecord>();
  for (const r of received) {
    const candidates = sentBy.get(key(r)) ?? [];
    const same = candidates.find((s) => s.sha256 === r.sha256 && (s.bytes === null || r.bytes === null || s.bytes === r.bytes));
    if (same) {
      report.matched++;
      confirmed.add(same);
    } else if (candidates.length > 0) report.mismatched.push({ studyId: r.studyId, round: r.round, coordinator: r, site: candidates });
    else report.missingAtSite.push(r);
  }
  report.notRecordedByCoordinator = sent.filter((s) => !confirmed.has(s) && !received.some((r) => r.sha256 === s.sha256));
  const models = new Set<string>();
  for (const e of coordinator) {
    const sha = e.details['modelVersion'] ?? e.details['initialModel'];
    if ((e.kind === AuditKind.ModelCommitted || e.kind === AuditKind.StudyCreated) && typeof sha === 'string') models.add(sha);
    // A round's candidate, named when it moved to evaluating: sites fetch it to score it, committed or not.
    const candidate = e.details['candidate'];
    if (e.kind === AuditKind.RoundPhase && typeof candidate === 'string') models.add(candidate);
  }
  for (const e of site) {
    const sha = e.details['sha256'];
    if (e.kind === AuditKind.ModelReceived && typeof sha === 'string' && !models.has(sha)) report.unknownModels.push({ sha256: sha, seq: e.seq });
  }
  report.ok = report.mismatched.length === 0 && report.missingAtSite.length === 0 && report.unknownModels.length === 0;
  return report;
}
