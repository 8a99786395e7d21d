/**
 * Process exit codes of the `tessera` CLI, ranged by meaning: the one table for every command (documented in
 * docs/errors.md; a test keeps the two in step).
 */
export const ExitCode = {
  Ok: 0,
  /**
   * Unexpected internal error, or the work itself failed (I/O error, a corrupt revocation list). `provision`
   * and `revoke` return it for anything that is not a usage problem.
   */
  Internal: 1,
  /**
   * Bad command line or configuration file, or a request the inputs cannot satisfy (`provision` into a
   * non-empty folder without `--force`, `revoke` of an id or serial not in the manifest); fix the invocation.
   */
  Usage: 2,
  /** A study ended `failed` or `aborted`. */
  StudyFailed: 3,
  /** A required input (data folder, kit) is missing or unreadable. */
  InputMissing: 4,
  /** The REST API refused the credentials (401) or the role lacks the right (403). */
  Denied: 5,
  /** The REST API cannot be reached (connection refused, TLS failure, timeout). */
  Unreachable: 6,
  /** The REST API refused the request for the state it is in: unknown study (404), wrong state (409), rate limit (429). */
  Rejected: 7,
  /**
   * `tessera audit verify|evidence|cross-check`: a ledger failed verification (an entry edited, deleted,
   * reordered, or the file truncated; the first bad entry is named), or the evidence's contract does not match.
   */
  AuditInvalid: 8,
  /** `tessera audit cross-check`: both ledgers verify but disagree on an update hash or a model. */
  AuditMismatch: 9,
  /**
   * `tessera audit verify`: the ledger verifies only against the CA embedded in the file (no `--ca` or
   * `--signer-cert` given), so a ledger re-signed under another CA would pass too; `--allow-unanchored` accepts it.
   */
  AuditUnanchored: 10,
  /** Interrupted by a signal. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
