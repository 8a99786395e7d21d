import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from '../../../shared/src/errors.js';
import { ExitCode } from '../exit-codes.js';

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

/** The parsed option values of `parseArgs` for a config `T`. */
export type CommandValues<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>['values'];

/**
 * Parses a command's arguments with `node:util` `parseArgs` (the config should be strict and declare a
 * boolean `help`). Returns the values, or the exit code to return at once: usage on a parse error (the
 * problem and the usage go to stderr), ok for `--help` (the usage goes to stdout).
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T, usage: string, io: CommandIo): CommandValues<T> | number {
  let values: CommandValues<T>;
  try {
    // Every command takes --help (and -h), whether or not it declares it: usage on stdout, exit 0.
    values = parseArgs({ ...config, options: { ...config.options, help: { type: 'boolean', short: 'h', default: false } } }).values;
  } catch (err) {
    return usageError(io, errorMessage(err), usage);
  }
  if ((values as { help?: unknown }).help === true) {
    io.out(usage);
    return ExitCode.Ok;
  }
  return values;
}

/** Writes `problem` and the usage to stderr and returns the usage exit code. */
export function usageError(io: CommandIo, problem: string, usage: string): number {
  io.err(`${problem}\n${usage}`);
  return ExitCode.Usage;
}
