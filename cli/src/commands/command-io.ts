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
