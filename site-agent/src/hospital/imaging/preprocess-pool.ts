/**
 * The image pipeline on worker threads: decoding (JPEG 2000, JPEG lossless… are whole-core work for tens to
 * hundreds of milliseconds per instance) and preprocessing run beside the event loop, so a PACS pull keeps
 * fetching and de-identifying the next instances while earlier ones are decoded, on every core.
 *
 * - One job per idle thread, the rest queued here; {@link PreprocessPool.whenReady} waits while
 *   `threads × queuePerThread` jobs are queued or running (memory stays bounded, the caller slows down).
 * - Only de-identified bytes are handed over (the gate's output), transferred, not copied; tensors come back
 *   the same way.
 * - A job's failure is that instance's: the pipeline's error comes back with its code and reason. A thread that
 *   dies (a codec crash) fails its job and is replaced.
 * - Where the compiled worker is absent (TypeScript sources run directly, as under the test runner) or
 *   `threads` is 0, jobs run on the calling thread.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { ConfigError, InputError, TesseraError } from '../../../../shared/src/errors.js';
import { ImagePipelineError, type ImageRejection } from './errors.js';
import { modelInputPreprocessor, type ModelInput, type ModelInputDefaults } from './model-input.js';
import type { PreprocessJob, PreprocessJobError, PreprocessReply } from './preprocess-worker.js';

/** The compiled worker beside this module (dist/…/preprocess-worker.js). */
export const PREPROCESS_WORKER = new URL('./preprocess-worker.js', import.meta.url);

/** Options of {@link PreprocessPool.create}. */
export interface PreprocessPoolOptions {
  /** Worker threads; 0 runs every job on the calling thread. @default min(available cores, 4) */
  readonly threads?: number;
  /** Jobs queued or running per thread before {@link PreprocessPool.whenReady} waits. @default 2 */
  readonly queuePerThread?: number;
  /** The study's pipeline settings (window, fallback, frame policy, fit). @default {} (the pipeline's defaults) */
  readonly defaults?: ModelInputDefaults;
  /** The worker module. @default {@link PREPROCESS_WORKER} */
  readonly worker?: URL;
}

/** The default thread count: one per core, at most four (decoding is the only parallel work; the loop needs a core too). */
export function defaultPreprocessThreads(): number {
  return Math.min(4, os.availableParallelism());
}

interface Job {
  readonly message: PreprocessJob;
  readonly resolve: (r: ModelInput) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/** A failure from a thread as the error the inline pipeline would have thrown (same class, code, reason, message). */
export function reviveError(e: PreprocessJobError, source: string): Error {
  if (e.reason !== undefined && e.code?.startsWith('TESSERA_INPUT_IMAGE_') === true) {
    const prefix = `${source}: `;
    const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    const { source: _s, reason: _r, ...context } = e.context ?? {};
    return new ImagePipelineError(e.reason as ImageRejection, source, message, context);
  }
  if (e.code?.startsWith('TESSERA_INPUT_') === true) return new InputError(e.code as `TESSERA_INPUT_${string}`, e.message, { ...e.context });
  if (e.code === 'TESSERA_CONFIG_INVALID') return new ConfigError(e.message, { ...e.context });
  if (e.code !== undefined) return new TesseraError(e.code, e.message, { ...e.context });
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/** A pool of pipeline threads. Create one per process (or per long pull) and {@link close} it when done. */
export class PreprocessPool {
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  readonly #limit: number;
  readonly #workerUrl: URL;
  readonly #defaults: ModelInputDefaults;
  readonly #inline: (bytes: Uint8Array, source: string, shape: readonly [number, number, number]) => Promise<ModelInput>;
  readonly #waiters: (() => void)[] = [];
  #pending = 0;
  /** Places promised by {@link whenReady} and not yet taken by {@link run}. */
  #reserved = 0;
  #next = 0;
  #closed = false;

  private constructor(threads: number, queuePerThread: number, workerUrl: URL, defaults: ModelInputDefaults) {
    this.#workerUrl = workerUrl;
    this.#defaults = defaults;
    this.#inline = modelInputPreprocessor(defaults);
    for (let i = 0; i < threads; i++) this.#slots.push({ worker: this.#spawn(), job: undefined });
    this.#limit = Math.max(1, threads) * queuePerThread;
  }

  /** Starts the threads (none where the compiled worker is absent). @throws ConfigError for a bad thread or queue count. */
  static create(opts: PreprocessPoolOptions = {}): PreprocessPool {
    const threads = opts.threads ?? defaultPreprocessThreads();
    const queuePerThread = opts.queuePerThread ?? 2;
    if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new ConfigError("'preprocess.threads' must be an integer from 0 to 64", { field: 'preprocess.threads' });
    if (!Number.isInteger(queuePerThread) || queuePerThread < 1) throw new ConfigError("'preprocess.queuePerThread' must be an integer ≥ 1", { field: 'preprocess.queuePerThread' });
    const url = opts.worker ?? PREPROCESS_WORKER;
    const compiled = url.protocol === 'file:' && existsSync(fileURLToPath(url));
    return new PreprocessPool(compiled ? threads : 0, queuePerThread, url, opts.defaults ?? {});
  }

  /** Threads running jobs (0: every job runs on the calling thread). */
  get threads(): number {
    return this.#slots.length;
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Resolves once one more job may be queued (fewer than `threads × queuePerThread` queued, running or promised),
   * and keeps that place for the caller's next {@link run}: callers waiting together are let through one per free
   * place. Each resolved call MUST be followed by one `run` (or {@link release}).
   */
  whenReady(): Promise<void> {
    if (this.#pending + this.#reserved < this.#limit) {
      this.#reserved++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Gives back the place a resolved {@link whenReady} kept, when the caller decides not to {@link run} after all. */
  release(): void {
    if (this.#reserved === 0) return;
    this.#reserved--;
    this.#letWaitersIn();
  }

  /**
   * One model input of `shape` from de-identified Part 10 `bytes` (transferred to the thread: do not use them
   * afterwards). Rejects with the pipeline's error for that instance.
   */
  run(bytes: Uint8Array, source: string, shape: readonly [number, number, number]): Promise<ModelInput> {
    if (this.#reserved > 0) this.#reserved--;
    if (this.#closed) return Promise.reject(new Error('the preprocessing pool is closed'));
    if (this.#slots.length === 0) {
      this.#pending++;
      return this.#inline(bytes, source, shape).finally(() => this.#done());
    }
    this.#pending++;
    return new Promise<ModelInput>((resolve, reject) => {
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      this.#queue.push({ message: { id: this.#next++, bytes: own, source, shape }, resolve, reject });
      this.#dispatch();
    });
  }

  /** Stops the threads; jobs still queued or running fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error('the preprocessing pool is closed');
    for (const job of this.#queue.splice(0)) job.reject(closed);
    await Promise.all(
      this.#slots.map(async (s) => {
        s.job?.reject(closed);
        s.job = undefined;
        await s.worker.terminate();
      }),
    );
  }

  #spawn(): Worker {
    const w = new Worker(this.#workerUrl, { workerData: { defaults: this.#defaults }, name: 'tessera-preprocess' });
    w.unref(); // idle threads never keep the process alive; a busy one is ref'd while its job runs
    w.on('message', (reply: PreprocessReply) => this.#reply(w, reply));
    w.on('error', (err: Error) => this.#lost(w, err.message));
    w.on('exit', (code) => this.#lost(w, `exited with code ${code}`));
    return w;
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (slot.job !== undefined) continue;
      const job = this.#queue.shift();
      if (job === undefined) return;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.message, [job.message.bytes.buffer as ArrayBuffer]);
    }
  }

  #reply(w: Worker, reply: PreprocessReply): void {
    const slot = this.#slots.find((s) => s.worker === w);
    const job = slot?.job;
    if (slot === undefined || job === undefined || job.message.id !== reply.id) return;
    slot.job = undefined;
    w.unref();
    if ('ok' in reply) job.resolve({ tensor: reply.ok.tensor, shape: reply.ok.shape, notes: reply.ok.notes });
    else job.reject(reviveError(reply.error, job.message.source));
    this.#done();
    this.#dispatch();
  }

  /** A thread died: its job fails (that instance only) and a fresh thread takes its place. */
  #lost(w: Worker, why: string): void {
    const slot = this.#slots.find((s) => s.worker === w);
    if (slot === undefined || this.#closed) return;
    const job = slot.job;
    slot.job = undefined;
    slot.worker = this.#spawn();
    void w.terminate();
    if (job !== undefined) {
      job.reject(new Error(`${job.message.source}: the preprocessing thread stopped (${why})`));
      this.#done();
    }
    this.#dispatch();
  }

  #done(): void {
    this.#pending--;
    this.#letWaitersIn();
  }

  #letWaitersIn(): void {
    while (this.#pending + this.#reserved < this.#limit && this.#waiters.length > 0) {
      this.#reserved++;
      this.#waiters.shift()?.();
    }
  }
}
