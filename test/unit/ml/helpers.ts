import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../shared/src/logging.js';

/** A logger that records every line as parsed JSON, for asserting on log output. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'info', destination: sink }), lines };
}
