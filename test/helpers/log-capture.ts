import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../shared/src/logging.js';

/** One pino line, parsed. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface CapturedLogger {
  logger: Logger;
  lines: LogLine[];
  /** Lines whose `msg` contains `text` (and, when given, whose fields match `where`). */
  find(text: string, where?: (line: LogLine) => boolean): LogLine[];
  /** Resolves with the first matching line, polling until `timeoutMs`; rejects naming what was awaited. */
  waitFor(text: string, where?: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** A real pino logger (Tessera's redaction list applied) whose JSON lines are kept in memory for assertions. */
export function captureLogger(name: string, level = 'debug'): CapturedLogger {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  const logger = createLogger({ name, level, destination: stream });
  const find = (text: string, where?: (line: LogLine) => boolean): LogLine[] =>
    lines.filter((l) => l.msg.includes(text) && (where?.(l) ?? true));
  return {
    logger,
    lines,
    find,
    async waitFor(text, where, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = find(text, where)[0];
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no log line containing '${text}' within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
