import type { AuditEntry } from '../../../shared/src/audit/index.js';
import type { AuditFilter } from './audit-ledger.js';
import { type AuditLedgerOptions, BaseAuditLedger, matchesFilter } from './base-audit-ledger.js';

/**
 * {@link AuditLedger} in memory: for tests of code that appends to or reads the ledger (REST routes,
 * evidence packs) without a database. Same sealing, chaining and exports as the SQLite ledger.
 */
export class MemoryAuditLedger extends BaseAuditLedger {
  private readonly entries: { entry: AuditEntry; atMs: number }[] = [];
  private readonly signers: string[] = [];

  constructor(options: AuditLedgerOptions) {
    super(options);
    if (options.signer !== null) this.signers.push(options.signer.certificatePem);
  }

  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // Appends are already serialised by the base class; there is no other writer.
    return fn();
  }

  protected tail(): Promise<{ seq: number; hash: string } | undefined> {
    const last = this.entries.at(-1)?.entry;
    return Promise.resolve(last === undefined ? undefined : { seq: last.seq, hash: last.hash });
  }

  protected insert(entry: AuditEntry, atMs: number): Promise<void> {
    // A copy: callers must not be able to change what the ledger holds.
    this.entries.push({ entry: structuredClone(entry), atMs });
    return Promise.resolve();
  }

  protected query(filter: AuditFilter, afterSeq: number, limit: number): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for (const { entry, atMs } of this.entries) {
      if (entry.seq <= afterSeq || !matchesFilter(entry, filter, atMs)) continue;
      out.push(structuredClone(entry));
      if (out.length >= limit) break;
    }
    return Promise.resolve(out);
  }

  protected last(): Promise<AuditEntry | undefined> {
    const e = this.entries.at(-1)?.entry;
    return Promise.resolve(e === undefined ? undefined : structuredClone(e));
  }

  protected signerCertificates(): Promise<string[]> {
    return Promise.resolve([...this.signers]);
  }

  close(): Promise<void> {
    return this.drain().then(() => undefined);
  }
}
