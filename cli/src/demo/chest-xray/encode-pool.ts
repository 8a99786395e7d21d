/**
 * Encodes the demo's images on worker threads (one per core, at most four), in the order submitted, with
 * at most a few jobs in flight per worker; falls back to the calling thread where the compiled worker is
 * absent (running from TypeScript sources, as the unit tests do).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { encodeImage, type EncodeJob } from './pixels.js';

interface Pending {
  resolve: (bytes: Uint8Array) => void;
  reject: (err: Error) => void;
}

/** A pool of encoders; {@link EncodePool.submit} waits while the pool is full, {@link EncodePool.drain} for the rest. */
export class EncodePool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #limit: number;
  #next = 0;
  #failure: Error | undefined;

  constructor(threads = Math.min(4, os.availableParallelism())) {
    const url = new URL('./encode-worker.js', import.meta.url);
    const compiled = url.protocol === 'file:' && existsSync(fileURLToPath(url));
    if (compiled) {
      for (let i = 0; i < threads; i++) {
        const w = new Worker(url);
        w.on('message', (m: { id: number; bytes?: Uint8Array; error?: string }) => {
          const p = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          if (m.bytes !== undefined) p?.resolve(m.bytes);
          else p?.reject(new Error(m.error ?? 'encoder worker failed'));
        });
        w.on('error', (err: Error) => {
          for (const p of this.#pending.values()) p.reject(err);
          this.#pending.clear();
        });
        this.#workers.push(w);
      }
    }
    this.#limit = Math.max(1, this.#workers.length * 3);
  }

  #encode(job: EncodeJob): Promise<Uint8Array> {
    const id = this.#next++;
    const worker = this.#workers[id % this.#workers.length];
    if (worker === undefined) return encodeImage(job);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, job });
    });
  }

  /** Queues a job; `then` runs with its frame. Resolves once the job is queued (waiting while the pool is full). */
  async submit(job: EncodeJob, then: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    if (this.#failure) throw this.#failure;
    const task = this.#encode(job)
      .then(then)
      .catch((err: unknown) => {
        this.#failure ??= err instanceof Error ? err : new Error(String(err));
      });
    const tracked: Promise<void> = task.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    if (this.#inFlight.size >= this.#limit) await Promise.race(this.#inFlight);
  }

  /** Waits for every queued job; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
    if (this.#failure) throw this.#failure;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
