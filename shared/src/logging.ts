import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * Paths pino redacts in every log line. Tessera never logs PHI or tensor values on purpose; this list is
 * the safety net for the fields through which such data could slip in by mistake.
 */
export const REDACT_PATHS: readonly string[] = [
  'patient',
  'patientName',
  'patientId',
  'mrn',
  'birthDate',
  'address',
  'phone',
  'email',
  'ssn',
  'row',
  'values',
  'record',
  'weights',
  'update',
  'data',
  'chunk.data',
  'privateKey',
  'key',
  'token',
  'password',
  '*.patient',
  '*.patientName',
  '*.patientId',
  '*.mrn',
  '*.birthDate',
  '*.row',
  '*.values',
  '*.record',
  '*.weights',
  '*.update',
  '*.data',
  '*.privateKey',
  '*.key',
  '*.token',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'authorization',
  '*.authorization',
];

export type { Logger };

/** Options for {@link createLogger}. */
export interface LoggerConfig {
  /** Component name put on every line, e.g. `coordinator` or `site-agent`. */
  name: string;
  /** @default process.env.TESSERA_LOG_LEVEL ?? 'info' */
  level?: string;
  /** Destination file descriptor or stream; @default stdout (fd 1). */
  destination?: NodeJS.WritableStream | number;
  /** Extra fields for every line (site id, study id). */
  base?: Record<string, string>;
}

/** Creates a pino logger with Tessera's redaction list applied. */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level ?? process.env['TESSERA_LOG_LEVEL'] ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    base: { pid: process.pid, ...(config.base ?? {}) },
  };
  const dest = config.destination ?? 1;
  return typeof dest === 'number' ? pino(options, pino.destination({ fd: dest, sync: true })) : pino(options, dest);
}
