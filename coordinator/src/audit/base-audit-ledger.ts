import {
  type AuditEntry,
  type AuditEntryInput,
  csvHeaderRow,
  entryCsvRow,
  entryLine,
  GENESIS_HASH,
  ledgerHeader,
  type LedgerHead,
  type LedgerSigner,
  type LedgerVerification,
  recordLine,
  sealEntry,
  signHead,
  verifyLedger,
} from '../../../shared/src/audit/index.js';
import { AuditError } from '../../../shared/src/errors.js';
import { type AuditFilter, type AuditHeadInfo, type AuditLedger, type AuditPage, type AuditPageRequest, MAX_AUDIT_PAGE } from './audit-ledger.js';

/** What every {@link BaseAuditLedger} needs to know. */
export interface AuditLedgerOptions {
  /** `coordinator:<coordinatorId>`. */
  name: string;
  /** Signs new entries; null opens the ledger read-only (reading a stopped coordinator's file). */
  signer: LedgerSigner | null;
  /** The consortium CA certificate (PEM): in export headers, and what `verify()` trusts. */
  caPem: string;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/** Rows are read in pages of this many while exporting, so a long ledger never sits in memory at once. */
const EXPORT_BATCH = 500;

/**
 * The storage-independent half of an {@link AuditLedger}: serialised appends (seal, sign, chain), paging,
 * heads, exports and verification. Subclasses provide storage: {@link SqliteAuditLedger} (the coordinator's)
 * and {@link MemoryAuditLedger} (tests).
 */
export abstract class BaseAuditLedger implements AuditLedger {
  private queue: Promise<unknown> = Promise.resolve();

  protected constructor(protected readonly options: AuditLedgerOptions) {}

  get name(): string {
    return this.options.name;
  }

  /** Runs `fn` so that no other writer appends in between (a write transaction). */
  protected abstract exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** The last entry's seq and hash, read inside {@link exclusive}. */
  protected abstract tail(): Promise<{ seq: number; hash: string } | undefined>;
  protected abstract insert(entry: AuditEntry, atMs: number): Promise<void>;
  /** Entries matching `filter` with seq > `afterSeq`, oldest first, at most `limit`. */
  protected abstract query(filter: AuditFilter, afterSeq: number, limit: number): Promise<AuditEntry[]>;
  /** The last entry, or undefined when empty. */
  protected abstract last(): Promise<AuditEntry | undefined>;
  /** PEMs of every certificate that signed entries, in order of first use. */
  protected abstract signerCertificates(): Promise<string[]>;

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  append(input: AuditEntryInput): Promise<AuditEntry> {
    const run = this.queue.then(() => this.appendNow(input));
    // Keep the queue going after a failed append; the caller sees the error.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private appendNow(input: AuditEntryInput): Promise<AuditEntry> {
    const signer = this.options.signer;
    if (signer === null) return Promise.reject(new AuditError('TESSERA_AUDIT_LEDGER_INVALID', `${this.name} ledger was opened read-only`));
    return this.exclusive(async () => {
      // The tail is read inside the write lock: correct even if another process appended meanwhile.
      const tail = await this.tail();
      const now = this.now();
      const entry = sealEntry(input, (tail?.seq ?? 0) + 1, tail?.hash ?? GENESIS_HASH, new Date(now), signer);
      await this.insert(entry, now);
      return entry;
    });
  }

  async list(filter: AuditFilter = {}, page: AuditPageRequest = {}): Promise<AuditPage> {
    const limit = Math.max(1, Math.min(MAX_AUDIT_PAGE, Math.floor(page.limit ?? 100)));
    const entries = await this.query(filter, page.afterSeq ?? 0, limit + 1);
    const more = entries.length > limit;
    if (more) entries.pop();
    return { entries, nextAfterSeq: more ? (entries.at(-1)?.seq ?? null) : null };
  }

  async head(): Promise<AuditHeadInfo> {
    await this.queue;
    const e = await this.last();
    return e === undefined ? { seq: 0, hash: GENESIS_HASH, at: null } : { seq: e.seq, hash: e.hash, at: e.at };
  }

  async signedHead(): Promise<LedgerHead> {
    const signer = this.options.signer;
    if (signer === null) throw new AuditError('TESSERA_AUDIT_LEDGER_INVALID', `${this.name} ledger was opened read-only: no key to sign a head`);
    const head = await this.head();
    return signHead(this.name, head.seq === 0 ? null : head, new Date(this.now()), signer);
  }

  async *exportJsonl(filter: AuditFilter = {}): AsyncIterable<string> {
    const selection = selectionOf(filter);
    // Fix the end first: entries appended while exporting belong to the next export, not half to this one.
    const head = selection === undefined ? await this.signedHead() : undefined;
    const end = head?.seq ?? Number.MAX_SAFE_INTEGER;
    yield recordLine(ledgerHeader(this.name, await this.signerCertificates(), this.options.caPem, selection));
    for await (const e of this.batches(filter, end)) yield entryLine(e);
    if (head !== undefined) yield recordLine(head);
  }

  async *exportCsv(filter: AuditFilter = {}): AsyncIterable<string> {
    yield csvHeaderRow();
    for await (const e of this.batches(filter, Number.MAX_SAFE_INTEGER)) yield entryCsvRow(e);
  }

  private async *batches(filter: AuditFilter, endSeq: number): AsyncIterable<AuditEntry> {
    let after = 0;
    for (;;) {
      const batch = (await this.query(filter, after, EXPORT_BATCH)).filter((e) => e.seq <= endSeq);
      for (const e of batch) yield e;
      const lastSeq = batch.at(-1)?.seq;
      if (batch.length < EXPORT_BATCH || lastSeq === undefined) return;
      after = lastSeq;
    }
  }

  async verify(): Promise<LedgerVerification> {
    let text = '';
    if (this.options.signer === null) {
      // Read-only: verify the stored chain without a fresh head.
      text += recordLine(ledgerHeader(this.name, await this.signerCertificates(), this.options.caPem));
      for await (const e of this.batches({}, Number.MAX_SAFE_INTEGER)) text += entryLine(e);
      return verifyLedger(text, { caPem: this.options.caPem, requireHead: false }).report;
    }
    for await (const line of this.exportJsonl()) text += line;
    return verifyLedger(text, { caPem: this.options.caPem }).report;
  }

  /** Waits for pending appends. */
  protected drain(): Promise<unknown> {
    return this.queue;
  }
}

/** The filter as a header `selection`, or undefined when it selects everything. */
function selectionOf(filter: AuditFilter): Record<string, string | number> | undefined {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(filter)) if (v !== undefined) out[k] = v as string | number;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** True when `e` matches every field of `filter` (the memory ledger's WHERE). */
export function matchesFilter(e: AuditEntry, filter: AuditFilter, atMs: number): boolean {
  return (
    (filter.studyId === undefined || e.studyId === filter.studyId) &&
    (filter.siteId === undefined || e.siteId === filter.siteId) &&
    (filter.actor === undefined || e.actor === filter.actor) &&
    (filter.kind === undefined || e.kind === filter.kind) &&
    (filter.fromMs === undefined || atMs >= filter.fromMs) &&
    (filter.toMs === undefined || atMs < filter.toMs)
  );
}
