/**
 * Process exit codes of the `tessera` CLI, ranged by meaning (documented in docs/errors.md; a test keeps
 * the two in step).
 */
export const ExitCode = {
  Ok: 0,
  /** Unexpected internal error. */
  Internal: 1,
  /** Bad command line or configuration file. */
  Usage: 2,
  /** A study ended `failed` or `aborted`. */
  StudyFailed: 3,
  /** A required input (data folder, kit) is missing or unreadable. */
  InputMissing: 4,
  /** Interrupted by a signal. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
