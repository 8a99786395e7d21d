import {
  AuditKind,
  type AuditEntry,
  type JsonValue,
  type LedgerVerification,
  verifyLedger,
} from '../../../shared/src/audit/index.js';
import type { StudySpec } from '../../../shared/src/study/study-spec.js';
import type { CoordinatorStore } from '../store/coordinator-store.js';
import { studySpecSha256 } from './auditing-store.js';

/** File names inside an evidence pack folder. */
export const EvidenceFiles = {
  json: 'evidence.json',
  html: 'evidence.html',
  ledger: 'audit-ledger.jsonl',
  ca: 'ca.crt',
} as const;

/** One committed model version and the updates it was aggregated from. */
export interface LineageStep {
  round: number;
  attempt: number | null;
  /** Global model the round started from (null for the initial model). */
  modelIn: string | null;
  modelVersion: string;
  numParams: number | null;
  committedAt: string;
  /** seq of the ledger entry that records it. */
  seq: number;
  metrics: JsonValue;
  /** Updates the coordinator recorded as received in that attempt. */
  updates: { siteId: string; sha256: string; bytes: number | null; seq: number }[];
}

/** A site that took part, as the ledger records it. */
export interface EvidenceSite {
  id: string;
  /** Serial of the certificate it last connected with. */
  certSerial: string | null;
  updatesSent: number;
  roundsContributed: number[];
  dropped: { round: number | null; phase: string; outcome: string; reason: string | null; seq: number }[];
}

/** The ε a site has spent on this study, from `privacy.spent` entries. */
export interface EpsilonSpent {
  siteId: string;
  /** Cumulative ε: the last `epsilonTotal` recorded, else the sum of per-round `epsilon` (basic composition). */
  epsilon: number;
  delta: number | null;
  rounds: number;
  method: 'recorded-total' | 'basic-composition';
}

/** What `tessera audit evidence` writes as evidence.json (and renders as evidence.html). */
export interface EvidencePack {
  format: 'tessera-evidence-pack';
  version: 1;
  generatedAt: string;
  study: { id: string; name: string; status: string; completedRounds: number; createdAt: string; reason: string | null };
  contract: {
    /** The study specification as the coordinator stores it. */
    spec: StudySpec;
    specSha256: string;
    /** The hash the ledger recorded when the study was created, and where. */
    ledger: { seq: number; specSha256: string | null } | null;
    /** True when the stored spec is the one the signed ledger recorded. */
    matchesLedger: boolean;
  };
  sites: EvidenceSite[];
  privacy: {
    parameters: Record<string, JsonValue>;
    epsilonSpent: EpsilonSpent[];
    note: string;
  };
  modelLineage: LineageStep[];
  ledger: {
    file: typeof EvidenceFiles.ledger;
    verification: LedgerVerification;
    /** The ledger's entries about this study (and the sites' joins and refusals while it ran), oldest first. */
    entries: AuditEntry[];
  };
}

const num = (v: JsonValue | undefined): number | null => (typeof v === 'number' ? v : null);
const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' ? v : null);

/**
 * Builds a study's evidence pack from the coordinator's exported ledger (verified here against `caPem`) and the
 * store's copy of the study contract. Everything but the contract text comes from verified, signed entries; the
 * contract is shown with whether its hash matches the one the ledger recorded at creation.
 */
export async function buildEvidencePack(options: {
  store: CoordinatorStore;
  studyId: string;
  /** The full JSONL export of the coordinator's ledger. */
  ledgerText: string;
  caPem: string;
  now: Date;
}): Promise<EvidencePack> {
  const { store, studyId } = options;
  const study = await store.getStudy(studyId);
  if (!study) throw new Error(`no study '${studyId}' in the coordinator's database`);
  const { report, entries } = verifyLedger(options.ledgerText, { caPem: options.caPem });
  const ofStudy = entries.filter((e) => e.studyId === studyId);
  const created = ofStudy.find((e) => e.kind === AuditKind.StudyCreated);
  const specSha256 = studySpecSha256(study.spec);
  const privacy = ofStudy.find((e) => e.kind === AuditKind.PrivacyParameters);
  return {
    format: 'tessera-evidence-pack',
    version: 1,
    generatedAt: options.now.toISOString(),
    study: {
      id: study.id,
      name: study.spec.name,
      status: study.status,
      completedRounds: study.completedRounds,
      createdAt: new Date(study.createdAt).toISOString(),
      reason: study.reason,
    },
    contract: {
      spec: study.spec,
      specSha256,
      ledger: created ? { seq: created.seq, specSha256: str(created.details['specSha256']) } : null,
      matchesLedger: created !== undefined && created.details['specSha256'] === specSha256,
    },
    sites: sitesOf(entries, ofStudy),
    privacy: {
      parameters: privacy?.details ?? {},
      epsilonSpent: epsilonOf(ofStudy),
      note: ofStudy.some((e) => e.kind === AuditKind.PrivacySpent)
        ? 'ε from privacy.spent entries of the signed ledger.'
        : 'No privacy.spent entries: differential privacy was not applied in this study (no ε was spent).',
    },
    modelLineage: lineageOf(ofStudy),
    ledger: { file: EvidenceFiles.ledger, verification: report, entries: studyEntries(entries, ofStudy) },
  };
}

function sitesOf(all: readonly AuditEntry[], ofStudy: readonly AuditEntry[]): EvidenceSite[] {
  const sites = new Map<string, EvidenceSite>();
  const site = (id: string): EvidenceSite => {
    let s = sites.get(id);
    if (!s) {
      s = { id, certSerial: null, updatesSent: 0, roundsContributed: [], dropped: [] };
      sites.set(id, s);
    }
    return s;
  };
  for (const e of ofStudy) {
    if (e.siteId === undefined) continue;
    if (e.kind === AuditKind.DataReceived && e.details['kind'] === 'model-update') {
      const s = site(e.siteId);
      s.updatesSent++;
      if (e.round !== undefined && e.details['outcome'] === 'ok' && !s.roundsContributed.includes(e.round)) s.roundsContributed.push(e.round);
    } else if (e.kind === AuditKind.SiteDropped) {
      site(e.siteId).dropped.push({ round: e.round ?? null, phase: str(e.details['phase']) ?? '', outcome: str(e.details['outcome']) ?? '', reason: str(e.details['reason']), seq: e.seq });
    }
  }
  for (const e of all) {
    if (e.kind === AuditKind.SiteJoined && e.siteId !== undefined && sites.has(e.siteId)) {
      site(e.siteId).certSerial = str(e.details['certSerial']) ?? site(e.siteId).certSerial;
    }
  }
  return [...sites.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function epsilonOf(ofStudy: readonly AuditEntry[]): EpsilonSpent[] {
  const bySite = new Map<string, EpsilonSpent>();
  for (const e of ofStudy) {
    if (e.kind !== AuditKind.PrivacySpent || e.siteId === undefined) continue;
    const s = bySite.get(e.siteId) ?? { siteId: e.siteId, epsilon: 0, delta: null, rounds: 0, method: 'basic-composition' as const };
    const total = num(e.details['epsilonTotal']);
    if (total !== null) {
      s.epsilon = total;
      s.method = 'recorded-total';
    } else if (s.method === 'basic-composition') s.epsilon += num(e.details['epsilon']) ?? 0;
    s.delta = num(e.details['delta']) ?? s.delta;
    s.rounds++;
    bySite.set(e.siteId, s);
  }
  return [...bySite.values()].sort((a, b) => a.siteId.localeCompare(b.siteId));
}

function lineageOf(ofStudy: readonly AuditEntry[]): LineageStep[] {
  const steps: LineageStep[] = [];
  const created = ofStudy.find((e) => e.kind === AuditKind.StudyCreated);
  const initial = str(created?.details['initialModel']);
  if (created && initial !== null) {
    steps.push({ round: 0, attempt: null, modelIn: null, modelVersion: initial, numParams: null, committedAt: created.at, seq: created.seq, metrics: null, updates: [] });
  }
  for (const e of ofStudy) {
    if (e.kind !== AuditKind.ModelCommitted || e.round === undefined) continue;
    const attempt = num(e.details['attempt']);
    const round = e.round;
    const started = ofStudy.find((s) => s.kind === AuditKind.RoundStarted && s.round === round && s.details['attempt'] === attempt);
    const updates = ofStudy
      .filter((u) => u.kind === AuditKind.DataReceived && u.round === round && u.details['attempt'] === attempt && u.details['kind'] === 'model-update' && u.details['outcome'] === 'ok')
      .map((u) => ({ siteId: u.siteId ?? '', sha256: str(u.details['sha256']) ?? '', bytes: num(u.details['bytes']), seq: u.seq }));
    steps.push({
      round,
      attempt,
      modelIn: str(started?.details['modelIn']),
      modelVersion: str(e.details['modelVersion']) ?? '',
      numParams: num(e.details['numParams']),
      committedAt: e.at,
      seq: e.seq,
      metrics: e.details['metrics'] ?? null,
      updates,
    });
  }
  return steps;
}

/** The study's entries plus, while it ran, the entries about its sites (joins, refusals, disconnects). */
function studyEntries(all: readonly AuditEntry[], ofStudy: readonly AuditEntry[]): AuditEntry[] {
  const first = ofStudy[0]?.seq ?? Number.MAX_SAFE_INTEGER;
  const last = ofStudy.at(-1)?.seq ?? 0;
  const siteIds = new Set(ofStudy.map((e) => e.siteId).filter((s): s is string => s !== undefined));
  return all.filter((e) => ofStudy.includes(e) || (e.studyId === undefined && e.seq >= first && e.seq <= last && (e.siteId === undefined || siteIds.has(e.siteId))));
}
