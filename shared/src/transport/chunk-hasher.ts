import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { finishTransferDigest, MAX_CHUNK_BYTES } from './chunks.js';

/**
 * SHA-256 for the transfer path, on a worker thread or inline. Every transferred byte is hashed once at
 * each end: the sender computes each chunk's sha256, the receiver checks it. The whole transfer's digest
 * is the transfer digest of `chunks.ts` (sha256 over the list of chunk digests), so the receiver's running
 * digest costs 32 bytes of hashing per chunk, not a second pass over the data. On the event loop the
 * chunk hashing costs about as much as TLS and gRPC together and stalls the stream while it runs; on a
 * worker it runs beside the loop, which keeps moving the next chunks meanwhile.
 *
 * Requests are answered in the order they are sent, so callers keep several chunks in flight (pipelining)
 * and still see the results in stream order. Bytes reach the worker through reusable SharedArrayBuffer
 * slots (one copy of each chunk, no allocation per chunk); the worker only hashes and never sees where the
 * bytes come from or go to.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const running = new Map();
const CHUNK = ${MAX_CHUNK_BYTES};
function state(key, create) {
  let s = running.get(key);
  if (s === undefined) { s = { list: createHash('sha256'), length: 0, count: 0, short: false }; if (create) running.set(key, s); }
  return s;
}
parentPort.on('message', (m) => {
  try {
    const data = m.slot === undefined ? undefined : new Uint8Array(m.slot, 0, m.length);
    if (m.op === 'hash') {
      parentPort.postMessage({ id: m.id, ok: true, digest: createHash('sha256').update(data).digest() });
    } else if (m.op === 'verify' || m.op === 'append') {
      const s = state(m.key, m.offset === 0);
      // Only the next chunk in order extends a running digest, and only a full chunk may be followed by
      // another: after a refused chunk, the chunks already sent behind it are refused too, so the digest
      // always covers exactly the accepted prefix.
      let ok = m.offset === s.length && !s.short && m.length > 0 && m.length <= CHUNK;
      const d = ok ? createHash('sha256').update(data).digest() : undefined;
      if (ok && m.op === 'verify') ok = d.equals(Buffer.from(m.sha256));
      if (ok) { s.list.update(d); s.length += m.length; s.count += 1; s.short = m.length < CHUNK; }
      parentPort.postMessage({ id: m.id, ok });
    } else if (m.op === 'digest') {
      const s = state(m.key, false);
      running.delete(m.key);
      parentPort.postMessage({ id: m.id, ok: true, digest: s.list.digest(), length: s.length, count: s.count });
    } else if (m.op === 'drop') {
      running.delete(m.key);
      parentPort.postMessage({ id: m.id, ok: true });
    } else {
      parentPort.postMessage({ id: m.id, ok: false, error: 'unknown op' });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: String(e && e.message) });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  digest?: Uint8Array;
  length?: number;
  count?: number;
  error?: string;
}

/** Where a {@link ChunkHasher} hashes: on a worker thread (default) or on the calling thread. */
export type HashMode = 'worker' | 'inline';

/** Slots kept for reuse; more may be in use at once (one per request in flight). */
const KEPT_SLOTS = 32;
/** Slot size: one transfer chunk (MAX_CHUNK_BYTES); larger inputs are cut into pieces of this size. */
const SLOT_BYTES = MAX_CHUNK_BYTES;

interface RunningDigest {
  /** sha256 over the chunk digests so far. */
  list: Hash;
  length: number;
  count: number;
  /** A chunk shorter than MAX_CHUNK_BYTES was appended: it must have been the last. */
  short: boolean;
}

/**
 * Chunk checksums and running transfer digests keyed by transfer, computed off the event loop unless `mode`
 * is `inline`. The caller's bytes are copied before the returned promise is created, so the caller may
 * reuse or overwrite them at once.
 */
export class ChunkHasher {
  private worker: Worker | undefined;
  private readonly inline = new Map<string, RunningDigest>();
  private readonly freeSlots: SharedArrayBuffer[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; slot?: SharedArrayBuffer }>();

  constructor(
    readonly mode: HashMode = 'worker',
    private readonly name = 'tessera-chunk-hash',
  ) {}

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: this.name });
    worker.unref();
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (p?.slot && this.freeSlots.length < KEPT_SLOTS) this.freeSlots.push(p.slot);
      p?.resolve(r);
    });
    const failAll = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`chunk hash worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private call(message: { op: string; key?: string; offset?: number; sha256?: Uint8Array }, data?: Uint8Array): Promise<Reply> {
    const worker = this.start();
    const id = this.nextId++;
    let slot: SharedArrayBuffer | undefined;
    if (data !== undefined) {
      slot = data.byteLength <= SLOT_BYTES ? (this.freeSlots.pop() ?? new SharedArrayBuffer(SLOT_BYTES)) : new SharedArrayBuffer(data.byteLength);
      new Uint8Array(slot, 0, data.byteLength).set(data);
    }
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, slot ? { resolve, reject, slot } : { resolve, reject });
      // Ref'd while a reply is awaited, so a pending hash keeps the process alive.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...message, id, slot, length: data?.byteLength ?? 0 });
    }).finally(() => {
      if (this.pending.size === 0) this.worker?.unref();
    });
  }

  private running(key: string): RunningDigest {
    let s = this.inline.get(key);
    if (s === undefined) {
      s = { list: createHash('sha256'), length: 0, count: 0, short: false };
      this.inline.set(key, s);
    }
    return s;
  }

  /** The sha256 of `data` (a sender's chunk checksum). */
  async hash(data: Uint8Array): Promise<Buffer> {
    if (this.mode === 'inline') return createHash('sha256').update(data).digest();
    const reply = await this.call({ op: 'hash' }, data);
    if (!reply.ok || reply.digest === undefined) throw new Error(`chunk hash worker: ${reply.error ?? 'no digest'}`);
    return Buffer.from(reply.digest);
  }

  /**
   * Checks the chunk `data` against `sha256` and, when it matches, starts at `offset` = the bytes digested so
   * far under `key` and follows only full (MAX_CHUNK_BYTES) chunks, appends its digest to that running
   * transfer digest. False when a check fails (then nothing is appended).
   */
  async verifyAndAppend(key: string, offset: number, data: Uint8Array, sha256: Uint8Array): Promise<boolean> {
    if (this.mode === 'inline') {
      const s = this.running(key);
      if (!inOrder(s, offset, data.byteLength)) return false;
      const d = createHash('sha256').update(data).digest();
      if (!d.equals(sha256)) return false;
      extend(s, d, data.byteLength);
      return true;
    }
    // A copy of the 32 bytes: `sha256` may be a view into a large buffer, which postMessage would clone whole.
    const reply = await this.call({ op: 'verify', key, offset, sha256: Uint8Array.from(sha256) }, data);
    if (reply.error !== undefined) throw new Error(`chunk hash worker: ${reply.error}`);
    return reply.ok;
  }

  /**
   * Appends already verified bytes (a resumed transfer's prefix), cut on the chunk grid, to the running
   * transfer digest of `key`; they must start at `offset` = the bytes digested so far.
   */
  async append(key: string, offset: number, data: Uint8Array): Promise<void> {
    const pieces: Promise<boolean>[] = [];
    for (let at = 0; at < data.byteLength; at += SLOT_BYTES) {
      const piece = data.subarray(at, Math.min(data.byteLength, at + SLOT_BYTES));
      if (this.mode === 'inline') {
        const s = this.running(key);
        if (!inOrder(s, offset + at, piece.byteLength)) throw new Error(`chunk hasher: append at ${offset + at}, digest holds ${s.length} bytes`);
        extend(s, createHash('sha256').update(piece).digest(), piece.byteLength);
      } else {
        pieces.push(this.call({ op: 'append', key, offset: offset + at }, piece).then((r) => r.ok));
      }
    }
    if ((await Promise.all(pieces)).includes(false)) throw new Error(`chunk hasher: append at ${offset} out of order`);
  }

  /** The transfer digest (`transferDigest` of chunks.ts) of everything appended under `key`; forgets `key`. */
  async digest(key: string): Promise<Buffer> {
    if (this.mode === 'inline') {
      const s = this.running(key);
      this.inline.delete(key);
      return finishTransferDigest(s.length, s.count, s.list.digest());
    }
    const reply = await this.call({ op: 'digest', key });
    if (!reply.ok || reply.digest === undefined) throw new Error(`chunk hash worker: ${reply.error ?? 'no digest'}`);
    return finishTransferDigest(reply.length ?? 0, reply.count ?? 0, reply.digest);
  }

  /** Forgets the running digest of `key`. */
  async drop(key: string): Promise<void> {
    if (this.mode === 'inline') {
      this.inline.delete(key);
      return;
    }
    await this.call({ op: 'drop', key });
  }

  /** Stops the worker (a later call starts a new one). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.freeSlots.length = 0;
    for (const p of this.pending.values()) p.reject(new Error('chunk hasher closed'));
    this.pending.clear();
    await worker?.terminate();
  }
}

/** Whether a chunk of `length` bytes at `offset` may extend `s` (next in order, after full chunks only). */
function inOrder(s: RunningDigest, offset: number, length: number): boolean {
  return offset === s.length && !s.short && length > 0 && length <= MAX_CHUNK_BYTES;
}

function extend(s: RunningDigest, chunkSha256: Buffer, length: number): void {
  s.list.update(chunkSha256);
  s.length += length;
  s.count += 1;
  s.short = length < MAX_CHUNK_BYTES;
}
