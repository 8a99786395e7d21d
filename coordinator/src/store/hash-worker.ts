import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * SHA-256 for incoming uploads on a worker thread. Verifying each chunk's sha256 and keeping the running
 * sha256 of the whole upload are two full passes over every uploaded byte; on the event loop they cost
 * as much as TLS and gRPC together. On a worker they run beside the loop, which keeps receiving the next
 * chunks meanwhile. The worker only hashes: it never sees where the bytes go.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const running = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.op === 'chunk') {
      const data = new Uint8Array(m.data);
      const ok = createHash('sha256').update(data).digest().equals(Buffer.from(m.sha256));
      if (ok) {
        let h = running.get(m.key);
        if (h === undefined) { h = createHash('sha256'); running.set(m.key, h); }
        h.update(data);
      }
      parentPort.postMessage({ id: m.id, ok });
    } else if (m.op === 'digest') {
      const h = running.get(m.key) ?? createHash('sha256');
      running.delete(m.key);
      parentPort.postMessage({ id: m.id, ok: true, digest: h.digest() });
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
  error?: string;
}

/** Where {@link UploadHasher} hashes: on a worker thread (default) or on the calling thread. */
export type HashMode = 'worker' | 'inline';

/** Running sha256 digests keyed by upload, computed off the event loop unless `mode` is `inline`. */
export class UploadHasher {
  private worker: Worker | undefined;
  private readonly inline = new Map<string, Hash>();

  constructor(readonly mode: HashMode = 'worker') {}

  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: 'tessera-upload-hash' });
    worker.unref();
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      p?.resolve(r);
    });
    const failAll = (err: Error): void => {
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`upload hash worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private call(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Ref'd while a reply is awaited, so a pending verification keeps the process alive.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...message, id }, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.worker?.unref();
    });
  }

  /**
   * Checks `data` against `sha256` and, when it matches, appends it to the running digest of `key`.
   * `data` is copied (the worker gets its own bytes), so the caller may reuse or write it at once.
   */
  async verifyAndAppend(key: string, data: Uint8Array, sha256: Uint8Array): Promise<boolean> {
    if (this.mode === 'inline') {
      if (!createHash('sha256').update(data).digest().equals(sha256)) return false;
      let h = this.inline.get(key);
      if (h === undefined) {
        h = createHash('sha256');
        this.inline.set(key, h);
      }
      h.update(data);
      return true;
    }
    // Buffer#slice is a view; copy into a fresh ArrayBuffer that can be transferred whole.
    const own = new Uint8Array(data.byteLength);
    own.set(data);
    const copy = own.buffer;
    const reply = await this.call({ op: 'chunk', key, data: copy, sha256: Uint8Array.from(sha256) }, [copy]);
    if (reply.error !== undefined) throw new Error(`upload hash worker: ${reply.error}`);
    return reply.ok;
  }

  /** The sha256 of everything appended under `key`; forgets `key`. */
  async digest(key: string): Promise<Buffer> {
    if (this.mode === 'inline') {
      const h = this.inline.get(key) ?? createHash('sha256');
      this.inline.delete(key);
      return h.digest();
    }
    const reply = await this.call({ op: 'digest', key });
    if (!reply.ok || reply.digest === undefined) throw new Error(`upload hash worker: ${reply.error ?? 'no digest'}`);
    return Buffer.from(reply.digest);
  }

  /** Forgets the running digest of `key`. */
  async drop(key: string): Promise<void> {
    if (this.mode === 'inline') {
      this.inline.delete(key);
      return;
    }
    await this.call({ op: 'drop', key });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
