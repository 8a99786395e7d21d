import type { AuditEntryInput } from '../../../shared/src/audit/index.js';

/** A gRPC or socket peer (`ipv4:127.0.0.1:53412`, `127.0.0.1:53412`, `[::1]:53412`) without its port. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[([^\]]*)\](?::\d+)?$/.exec(bare);
  if (v6) return v6[1] ?? bare;
  return bare.replace(/:\d+$/, '').slice(0, 64);
}

/** One refused caller, as the edge that refused it saw it. */
export interface Refusal {
  /** Where it was refused: the TLS handshake, a gRPC call, or the REST API. */
  source: 'tls' | 'grpc' | 'rest';
  /** The caller's address, without the port (every connection has a fresh one), or an identity when no address is known. */
  peer: string;
  /** The refusal's error code (`TESSERA_IDENTITY_SITE_MISMATCH`, `CERT_HAS_EXPIRED`, …). */
  code: string;
  /** The ledger entry for the first such refusal in a window: kind, actor and details as the edge records them. */
  entry: AuditEntryInput;
}

/** Options for {@link RefusalAggregator}. */
export interface RefusalAggregatorOptions {
  /** Length of an aggregation window. @default 60000 ms */
  windowMs?: number;
  /** Distinct (source, peer, code) keys per window; beyond it refusals count under peer `*`. @default 256 */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  first: Refusal;
  firstAt: number;
  lastAt: number;
  /** Refusals after the first in this window, not written one by one. */
  suppressed: number;
}

/**
 * Keeps refusals from growing the signed ledger without bound. Per window and per (source, peer, code): the
 * first refusal is appended at once, exactly as before; the rest are counted, and when the window closes one
 * entry of the same kind records how many there were (`details.suppressed`) and between which times. A flood
 * therefore costs at most 2 × (maxKeys + one per code) entries per window, whatever its rate, while every
 * refused peer and reason still shows up in the ledger within a window.
 */
export class RefusalAggregator {
  private buckets = new Map<string, Bucket>();
  private readonly timer: NodeJS.Timeout;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    private readonly append: (input: AuditEntryInput) => void,
    options: RefusalAggregatorOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 256;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.flush(), this.windowMs);
    this.timer.unref();
  }

  /** Records one refusal: appended if it is the first of its key in this window, else counted. */
  record(r: Refusal): void {
    let key = `${r.source}\0${r.peer}\0${r.code}`;
    if (!this.buckets.has(key) && this.buckets.size >= this.maxKeys) key = `${r.source}\0*\0${r.code}`;
    const at = this.now();
    const bucket = this.buckets.get(key);
    if (bucket) {
      bucket.suppressed++;
      bucket.lastAt = at;
      return;
    }
    this.buckets.set(key, { first: r, firstAt: at, lastAt: at, suppressed: 0 });
    this.append({ ...r.entry, details: { ...r.entry.details, peer: key.split('\0')[1] ?? r.peer, source: r.source } });
  }

  /** Closes the window: one summary entry per key that saw more than its first refusal. */
  flush(): void {
    const buckets = this.buckets;
    this.buckets = new Map();
    for (const [key, b] of buckets) {
      if (b.suppressed === 0) continue;
      const e = b.first.entry;
      this.append({
        actor: e.actor,
        kind: e.kind,
        ...(e.siteId !== undefined ? { siteId: e.siteId } : {}),
        details: {
          code: b.first.code,
          peer: key.split('\0')[1] ?? b.first.peer,
          source: b.first.source,
          aggregate: true,
          suppressed: b.suppressed,
          firstAt: new Date(b.firstAt).toISOString(),
          lastAt: new Date(b.lastAt).toISOString(),
          windowMs: this.windowMs,
        },
      });
    }
  }

  /** Flushes what is counted and stops the window timer. */
  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
