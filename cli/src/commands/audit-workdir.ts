import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SqliteAuditLedger } from '../../../coordinator/src/audit/sqlite-audit-ledger.js';
import { LedgerSigner } from '../../../shared/src/audit/index.js';
import { type CoordinatorConfig, CoordinatorConfigSchema } from '../../../shared/src/config/coordinator-config.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { ConfigError, InputError } from '../../../shared/src/errors.js';

/** A stopped or running coordinator's files, found from `--workdir` or `--config`. */
export interface CoordinatorFiles {
  config: CoordinatorConfig;
  configPath: string;
  /** The SQLite file holding the store and the audit ledger. */
  database: string;
  caPem: string;
  certPem: string;
  keyPem: Buffer;
}

/**
 * Finds the coordinator's configuration: `--config FILE`, or `coordinator.yaml` in `--workdir DIR` (the layout
 * `tessera demo --workdir` and the deploy examples use). Throws ConfigError (exit 2) for a missing or bad
 * configuration and InputError `TESSERA_INPUT_FILE_UNREADABLE` (exit 4) when the database or TLS files are missing.
 */
export function findCoordinatorFiles(opts: { workdir?: string | undefined; config?: string | undefined }): CoordinatorFiles {
  if (opts.workdir !== undefined && opts.config !== undefined) {
    throw new ConfigError('give one of --workdir DIR (holding coordinator.yaml) and --config coordinator.yaml, not both');
  }
  // Neither given: the current folder is the workdir (run from the coordinator's folder).
  const configPath = path.resolve(opts.config ?? path.join(opts.workdir ?? '.', 'coordinator.yaml'));
  if (!existsSync(configPath)) throw new ConfigError(`${configPath} not found: --workdir must hold the coordinator's coordinator.yaml`, { source: configPath });
  const config = parseConfigText(CoordinatorConfigSchema, readFileSync(configPath, 'utf8'), configPath);
  const resolve = (p: string): string => path.resolve(path.dirname(configPath), p);
  const read = (p: string): Buffer => {
    try {
      return readFileSync(resolve(p));
    } catch (err) {
      throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `${resolve(p)} cannot be read`, { file: resolve(p) }, { cause: err });
    }
  };
  const database = path.join(resolve(config.dataDir), 'coordinator.sqlite');
  if (!existsSync(database)) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `${database} not found: has this coordinator ever run?`, { file: database });
  }
  return { config, configPath, database, caPem: read(config.tls.ca).toString('utf8'), certPem: read(config.tls.cert).toString('utf8'), keyPem: read(config.tls.key) };
}

/** Opens the coordinator's ledger with its key (so an export can end with a freshly signed head). */
export function openCoordinatorLedger(files: CoordinatorFiles): Promise<SqliteAuditLedger> {
  return SqliteAuditLedger.open({
    file: files.database,
    name: `coordinator:${files.config.coordinatorId}`,
    signer: LedgerSigner.fromPem(files.keyPem, files.certPem),
    caPem: files.caPem,
  });
}

/** Reads a whole export into a string. */
export async function collect(lines: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const line of lines) text += line;
  return text;
}
