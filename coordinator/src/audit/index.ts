/**
 * The coordinator's audit ledger: the {@link AuditLedger} interface and its SQLite and in-memory
 * implementations, the wiring into the coordinator, the actor of a request, and evidence packs.
 * See docs/explanation/audit-ledger.md.
 */
export { currentAuditActor, runAsAuditActor } from './audit-actor.js';
export {
  MAX_AUDIT_PAGE,
  type AuditFilter,
  type AuditHeadInfo,
  type AuditLedger,
  type AuditPage,
  type AuditPageRequest,
} from './audit-ledger.js';
export { auditingStore, auditReason, privacyParameters, studySpecSha256 } from './auditing-store.js';
export { type AuditLedgerOptions, BaseAuditLedger } from './base-audit-ledger.js';
export { CoordinatorAudit, type CoordinatorAuditOptions, PROVISION_LEDGER_FILE } from './coordinator-audit.js';
export { escapeHtml, renderEvidenceHtml } from './evidence-html.js';
export { buildEvidencePack, EvidenceFiles, type EpsilonSpent, type EvidencePack, type EvidenceSite, type LineageStep } from './evidence-pack.js';
export { MemoryAuditLedger } from './memory-audit-ledger.js';
export { SqliteAuditLedger, type SqliteAuditLedgerOptions } from './sqlite-audit-ledger.js';
