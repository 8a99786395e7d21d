import { chmodSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Umask of every `tessera` process: what it creates — the coordinator's SQLite database and its journal,
 * logs, keys, the agents' caches and privacy ledgers, exports — is readable by its owner only (files 0600,
 * folders 0700), whatever the shell's umask. Child processes (the demo's coordinator and agents) inherit it.
 */
export const PRIVATE_UMASK = 0o077;

/** Applies {@link PRIVATE_UMASK} to this process. */
export function usePrivateUmask(): void {
  process.umask(PRIVATE_UMASK);
}

/**
 * Tightens a state folder an earlier version created with the shell's umask: the folder to 0700 and the
 * files directly in it (the database and its journal) to 0600. Sub-folders keep their own modes.
 */
export function tightenStateDir(dir: string): void {
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isFile()) chmodSync(file, 0o600);
  }
}
