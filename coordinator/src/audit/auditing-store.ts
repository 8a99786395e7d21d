import { createHash } from 'node:crypto';
import { AuditKind, canonicalJson, type AuditEntryInput, type JsonValue } from '../../../shared/src/audit/index.js';
import { errorMessage } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { CommitRoundInput, CoordinatorStore, RoundSiteRecord, SiteRecord } from '../store/coordinator-store.js';
import { currentAuditActor } from './audit-actor.js';
import type { AuditLedger } from './audit-ledger.js';

/** Longest free-text reason copied into an entry (reasons are ours, but may quote a site's refusal text). */
const MAX_REASON = 200;

/** A reason cut to {@link MAX_REASON} characters. */
export function auditReason(reason: string | null | undefined): string | undefined {
  if (reason == null) return undefined;
  return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason;
}

/**
 * `details` with every string cut to {@link MAX_REASON} characters. Some values come from a site (its hello's
 * backend and agent version, a refusal's reason): an over-long one must shorten the entry, not lose it, and
 * never fail the round that records it.
 */
function clampStrings(details: NonNullable<AuditEntryInput['details']>): Record<string, JsonValue | undefined> {
  const clamp = (v: JsonValue | undefined): JsonValue | undefined => {
    if (typeof v === 'string') return auditReason(v);
    if (Array.isArray(v)) return v.map((x) => clamp(x) ?? null);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clamp(x) ?? null]));
    return v;
  };
  return Object.fromEntries(Object.entries(details).map(([k, v]) => [k, clamp(v)]));
}

/** Keys of a study spec that carry privacy parameters (secure aggregation now; differential privacy when it lands). */
const PRIVACY_KEYS = ['secureAggregation', 'differentialPrivacy', 'dp', 'privacy'] as const;

/** The privacy parameters a study spec declares, as JSON. */
export function privacyParameters(spec: StudySpec): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  const record = spec as unknown as Record<string, unknown>;
  for (const key of PRIVACY_KEYS) {
    if (record[key] !== undefined) out[key] = JSON.parse(JSON.stringify(record[key])) as JsonValue;
  }
  return out;
}

/** sha256 of the canonical JSON of a study spec: the contract's fingerprint. */
export function studySpecSha256(spec: StudySpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}

/** An entry input whose actor defaults to the current audit actor. */
type RecordInput = Omit<AuditEntryInput, 'actor'> & { actor?: string };

type Hooks = Partial<{ [K in keyof CoordinatorStore]: CoordinatorStore[K] }>;

/**
 * Wraps a {@link CoordinatorStore} so that every security-relevant write is also appended to the audit ledger,
 * after the write succeeded: study created (with the contract's hash and privacy parameters) and its status
 * changes, round start / phases / failure / interruption, what each site sent (kind, bytes, sha256), sites
 * dropped or refusing a task, model versions committed, sites joining and disconnecting.
 *
 * The round workflow and the gRPC endpoint keep calling the store as before: this is the seam, so neither
 * needs audit code. Methods the wrapper does not know (added to the interface later) pass straight through.
 * A failed audit append is logged at `error` and rethrown: the ledger must not silently miss an event.
 */
export function auditingStore(inner: CoordinatorStore, ledger: AuditLedger, coordinatorActor: string, logger: Logger): CoordinatorStore {
  const record = async (input: RecordInput): Promise<void> => {
    try {
      const details = input.details === undefined ? undefined : clampStrings(input.details);
      await ledger.append({ ...input, ...(details !== undefined ? { details } : {}), actor: input.actor ?? currentAuditActor(coordinatorActor) });
    } catch (err) {
      logger.error({ kind: input.kind, err: errorMessage(err) }, 'audit entry not recorded');
      throw err;
    }
  };
  const hooks: Hooks = {
    async createStudy(spec, initialModel, now) {
      const study = await inner.createStudy(spec, initialModel, now);
      await record({
        kind: AuditKind.StudyCreated,
        studyId: spec.id,
        details: {
          name: spec.name,
          dataset: spec.dataset,
          model: spec.model,
          inputDim: spec.inputDim,
          rounds: spec.rounds,
          strategy: spec.strategy,
          minSites: spec.minSites,
          maxSites: spec.maxSites,
          specSha256: studySpecSha256(spec),
          initialModel: initialModel.sha256,
        },
      });
      await record({ kind: AuditKind.PrivacyParameters, studyId: spec.id, details: privacyParameters(spec) });
      return study;
    },
    async setStudyStatus(id, status, now, reason) {
      await inner.setStudyStatus(id, status, now, reason);
      await record({ kind: AuditKind.StudyStatus, studyId: id, details: { status, reason: auditReason(reason) } });
    },
    async startRound(studyId, round, modelIn, now) {
      const r = await inner.startRound(studyId, round, modelIn, now);
      await record({ kind: AuditKind.RoundStarted, studyId, round, details: { attempt: r.attempt, modelIn } });
      return r;
    },
    async updateRound(studyId, round, attempt, status, phases, candidate) {
      await inner.updateRound(studyId, round, attempt, status, phases);
      // The candidate a round evaluates is named before any site fetches it: a site's ledger then cross-checks
      // even when the round never commits (a coordinator killed while evaluating).
      await record({ kind: AuditKind.RoundPhase, studyId, round, details: { attempt, status, ...(candidate !== undefined ? { candidate } : {}) } });
    },
    async recordSiteOutcome(r) {
      await inner.recordSiteOutcome(r);
      for (const input of siteOutcomeEntries(r)) await record(input);
    },
    async commitRound(input) {
      await inner.commitRound(input);
      await record(commitEntry(input));
    },
    async failRound(studyId, round, attempt, reason, now) {
      await inner.failRound(studyId, round, attempt, reason, now);
      await record({ kind: AuditKind.RoundFailed, studyId, round, details: { attempt, reason: auditReason(reason) } });
    },
    async interruptOpenRounds(now) {
      const n = await inner.interruptOpenRounds(now);
      if (n > 0) await record({ kind: AuditKind.RoundsInterrupted, details: { rounds: n } });
      return n;
    },
    async upsertSite(site: SiteRecord) {
      await inner.upsertSite(site);
      if (site.connected) {
        await record({
          kind: AuditKind.SiteJoined,
          actor: `site:${site.id}`,
          siteId: site.id,
          details: { certSerial: site.certSerial, certNotAfter: new Date(site.certNotAfter).toISOString(), backend: site.backend, agentVersion: site.agentVersion },
        });
      }
    },
    async setSiteConnected(id, connected, now) {
      await inner.setSiteConnected(id, connected, now);
      await record({ kind: connected ? AuditKind.SiteJoined : AuditKind.SiteDisconnected, actor: `site:${id}`, siteId: id, details: {} });
    },
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const hook = (hooks as Record<string | symbol, unknown>)[prop];
      if (hook !== undefined) return hook;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** What a site's task outcome adds to the ledger: the data it sent, and whether it was dropped. */
function siteOutcomeEntries(r: RoundSiteRecord): RecordInput[] {
  const base = { actor: `site:${r.siteId}`, studyId: r.studyId, siteId: r.siteId, round: r.round };
  const out: RecordInput[] = [];
  if (r.phase === 'fit' && r.updateSha256 !== null) {
    out.push({
      ...base,
      kind: AuditKind.DataReceived,
      details: { kind: 'model-update', bytes: r.updateBytes, sha256: r.updateSha256, attempt: r.attempt, numExamples: r.numExamples, outcome: r.outcome },
    });
  } else if (r.phase === 'evaluate' && r.outcome === 'ok') {
    out.push({ ...base, kind: AuditKind.DataReceived, details: { kind: 'evaluation-metrics', attempt: r.attempt, numExamples: r.numExamples } });
  }
  if (r.outcome !== 'ok') {
    out.push({ ...base, kind: AuditKind.SiteDropped, details: { phase: r.phase, attempt: r.attempt, outcome: r.outcome, reason: auditReason(r.reason) } });
  }
  return out;
}

function commitEntry(input: CommitRoundInput): RecordInput {
  const metrics = input.metrics === null ? null : { loss: input.metrics.loss, accuracy: input.metrics.accuracy, numExamples: input.metrics.numExamples };
  return {
    kind: AuditKind.ModelCommitted,
    studyId: input.studyId,
    round: input.round,
    details: {
      attempt: input.attempt,
      modelVersion: input.model.sha256,
      numParams: input.model.numParams,
      // Non-finite metrics (a diverged evaluation) are recorded as null: JSON cannot carry them.
      metrics: metrics !== null && Number.isFinite(metrics.loss) && Number.isFinite(metrics.accuracy) ? metrics : null,
    },
  };
}
