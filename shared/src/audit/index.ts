/**
 * The tamper-evident audit ledger: entries chained by sha256 and signed per entry, canonical JSON, the JSONL
 * file format with signed heads, offline verification that names the first bad entry, and the cross-check
 * between the coordinator's and a site's ledger. See docs/explanation/audit-ledger.md.
 */
export {
  AUDIT_FORMAT_VERSION,
  AuditKind,
  bodyOf,
  entryBody,
  entryHash,
  GENESIS_HASH,
  isKnownAuditKind,
  MAX_DETAIL_STRING,
  MAX_ENTRY_BYTES,
  validateEntryInput,
  type AuditEntry,
  type AuditEntryBody,
  type AuditEntryInput,
} from './audit-entry.js';
export { canonicalJson, type JsonValue } from './canonical-json.js';
export { crossCheckLedgers, type CrossCheckReport, type UpdateRecord } from './cross-check.js';
export { JsonlLedgerFile, type JsonlLedgerFileOptions } from './jsonl-ledger-file.js';
export {
  CSV_COLUMNS,
  csvHeaderRow,
  entriesCsv,
  entryCsvRow,
  entryLine,
  headMessage,
  LEDGER_FILE_FORMAT,
  ledgerHeader,
  ledgerJsonl,
  recordLine,
  sealEntry,
  signHead,
  type LedgerHead,
  type LedgerHeadBody,
  type LedgerHeader,
  type LedgerSignerInfo,
} from './ledger-format.js';
export { certificateFingerprint, LedgerSigner, SIGNATURE_CONTEXT, verifySignature } from './ledger-signer.js';
export {
  verifyLedger,
  type LedgerFault,
  type LedgerProblem,
  type LedgerVerification,
  type VerifiedLedger,
  type VerifyLedgerOptions,
} from './verify-ledger.js';
