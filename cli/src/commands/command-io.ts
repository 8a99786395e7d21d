/** Where a command writes and what time it is: injected so tests can capture output and fix the clock. */
export interface CommandIo {
  /** Writes one line (no trailing newline needed) to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
  now(): Date;
}

/** The real process streams and clock. */
export const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  now: () => new Date(),
};

/** Exit codes shared by the commands. */
export const ExitCode = {
  Ok: 0,
  /** Something failed while doing the work (I/O, a corrupt revocation list). */
  Failure: 1,
  /** Bad arguments, bad config file, or a request the inputs cannot satisfy; fix the invocation. */
  Usage: 2,
} as const;
/** One of the values of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
