import { readFileSync, statSync } from 'node:fs';
import { IdentityError } from '../errors.js';
import { normalizeSerial } from './forge-util.js';
import { type RevocationList, verifyRevocationList } from './revocation-list.js';
import type { RevocationChecker } from './verify-peer.js';

/** Options for {@link RevocationStore.open}. */
export interface RevocationStoreOptions {
  /** Path of the signed revocation list (JSON). */
  path: string;
  /** The consortium CA certificate (PEM) that must have signed the list. */
  caCertPem: string;
  /** Called when a changed or vanished file cannot be used; the last good list stays in force. */
  onError?: (err: IdentityError) => void;
  /** Called after a changed file was verified and taken into force (the audit ledger records it); never throws. */
  onReload?: (list: RevocationList) => void;
  /** Clock for the change-check throttle, in ms. @default Date.now */
  nowMs?: () => number;
  /** Minimum interval between file checks on {@link RevocationStore.isRevoked}, in ms. @default 1000 */
  checkIntervalMs?: number;
}

interface FileStamp {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

/**
 * The coordinator's view of the revocation list on disk. It verifies the list's signature on load and picks
 * up a rewritten file without a restart: {@link isRevoked} stats the file at most once per `checkIntervalMs`
 * and reloads when mtime, size or inode changed.
 *
 * Failure policy, chosen so that revocation can never be undone by breaking the file:
 * - a new file that fails verification, is older than the current list (`updatedAt` moved backwards: a replay
 *   of an old list that un-revokes someone), or has vanished keeps the last good list and calls `onError`;
 * - {@link isRevoked} never throws; {@link reload} throws for the caller that asked;
 * - {@link open} throws if there is no valid list at startup (fail closed).
 */
export class RevocationStore implements RevocationChecker {
  readonly #options: RevocationStoreOptions;
  readonly #nowMs: () => number;
  readonly #intervalMs: number;
  #list: RevocationList;
  #serials: ReadonlySet<string>;
  #seen: FileStamp | 'missing';
  #lastCheckMs: number;

  private constructor(options: RevocationStoreOptions, list: RevocationList, stamp: FileStamp) {
    this.#options = options;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#intervalMs = options.checkIntervalMs ?? 1000;
    this.#list = list;
    this.#serials = serialSet(list);
    this.#seen = stamp;
    this.#lastCheckMs = this.#nowMs();
  }

  /** Loads and verifies the list. Throws IdentityError `TESSERA_IDENTITY_CRL_INVALID` if it is missing or bad. */
  static open(options: RevocationStoreOptions): RevocationStore {
    const stamp = statFile(options.path);
    if (stamp === undefined) {
      throw new IdentityError('TESSERA_IDENTITY_CRL_INVALID', `revocation list ${options.path} not found`, {
        path: options.path,
      });
    }
    return new RevocationStore(options, readList(options.path, options.caCertPem), stamp);
  }

  /** The list in force. */
  get list(): RevocationList {
    return this.#list;
  }

  /** True when `serial` (any common hex form) is revoked. Checks the file for changes at most once per interval. */
  isRevoked(serial: string): boolean {
    const now = this.#nowMs();
    if (now - this.#lastCheckMs >= this.#intervalMs) {
      this.#lastCheckMs = now;
      try {
        this.#reloadIfChanged(false);
      } catch (err) {
        this.#report(err);
      }
    }
    return this.#serials.has(normalizeSerial(serial));
  }

  /**
   * Re-reads and verifies the file now, changed or not (for an admin command or SIGHUP). Returns true when the
   * file's list was taken. Throws IdentityError `TESSERA_IDENTITY_CRL_INVALID`, keeping the last good list, when
   * the file is missing, bad or older than the list in force.
   */
  reload(): boolean {
    this.#lastCheckMs = this.#nowMs();
    return this.#reloadIfChanged(true);
  }

  #reloadIfChanged(force: boolean): boolean {
    const { path, caCertPem } = this.#options;
    const stamp = statFile(path);
    // `#seen` is the last file state examined, good or bad, so a bad or missing file is reported once per
    // change rather than once per second.
    if (stamp === undefined) {
      if (!force && this.#seen === 'missing') return false;
      this.#seen = 'missing';
      const message = `revocation list ${path} vanished; keeping the last good list`;
      throw new IdentityError('TESSERA_IDENTITY_CRL_INVALID', message, { path });
    }
    if (!force && this.#seen !== 'missing' && sameStamp(stamp, this.#seen)) return false;
    this.#seen = stamp;
    const list = readList(path, caCertPem);
    if (Date.parse(list.updatedAt) < Date.parse(this.#list.updatedAt)) {
      throw new IdentityError(
        'TESSERA_IDENTITY_CRL_INVALID',
        `revocation list ${path} (updated ${list.updatedAt}) is older than the one in force ` +
          `(${this.#list.updatedAt}); keeping that one`,
        { path },
      );
    }
    this.#list = list;
    this.#serials = serialSet(list);
    try {
      this.#options.onReload?.(list);
    } catch {
      // An observer must not undo or block a reload.
    }
    return true;
  }

  #report(err: unknown): void {
    const error =
      err instanceof IdentityError
        ? err
        : new IdentityError('TESSERA_IDENTITY_CRL_INVALID', 'revocation list reload failed', {}, { cause: err });
    try {
      this.#options.onError?.(error);
    } catch {
      // The hot path must not throw, even if the callback does.
    }
  }
}

function readList(path: string, caCertPem: string): RevocationList {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const message = `revocation list ${path} could not be read as JSON`;
    throw new IdentityError('TESSERA_IDENTITY_CRL_INVALID', message, { path }, { cause: err });
  }
  try {
    return verifyRevocationList(doc, caCertPem);
  } catch (err) {
    if (err instanceof IdentityError) {
      const code = err.code as `TESSERA_IDENTITY_${string}`;
      throw new IdentityError(code, `${path}: ${err.message}`, { ...err.context, path }, { cause: err });
    }
    throw err;
  }
}

function statFile(path: string): FileStamp | undefined {
  try {
    const st = statSync(path);
    return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
  } catch {
    return undefined;
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

function serialSet(list: RevocationList): ReadonlySet<string> {
  return new Set(list.revoked.map((entry) => normalizeSerial(entry.serial)));
}
