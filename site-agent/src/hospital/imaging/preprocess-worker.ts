/**
 * The worker side of {@link PreprocessPool} (preprocess-pool.ts): one thread that turns de-identified Part 10
 * bytes into model inputs with the pipeline, one job at a time. Its codecs (wasm) are instantiated once per
 * thread, on first use. Failures go back as data (code, reason, message, context), never as a crash.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { TesseraError } from '../../../../shared/src/errors.js';
import { modelInputPreprocessor, type ModelInputDefaults } from './model-input.js';

/** A job: de-identified bytes (transferred), the name used in errors, the model input shape. */
export interface PreprocessJob {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly source: string;
  readonly shape: readonly [number, number, number];
}

/** A failure as it crosses the thread boundary (a TesseraError's fields; no PHI: the pipeline's messages carry none). */
export interface PreprocessJobError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly reason?: string;
  readonly context?: Readonly<Record<string, string | number | boolean>>;
}

/** The answer to one job. */
export type PreprocessReply =
  | { readonly id: number; readonly ok: { readonly tensor: Float32Array; readonly shape: readonly [number, number, number]; readonly notes: readonly string[] } }
  | { readonly id: number; readonly error: PreprocessJobError };

const port = parentPort;
if (port !== null) {
  const preprocess = modelInputPreprocessor((workerData as { defaults?: ModelInputDefaults } | undefined)?.defaults ?? {});
  port.on('message', (job: PreprocessJob) => {
    preprocess(job.bytes, job.source, job.shape).then(
      (r) => {
        const reply: PreprocessReply = { id: job.id, ok: { tensor: r.tensor, shape: r.shape, notes: r.notes } };
        // The tensor's buffer is its own (the pipeline allocates every output): hand it over, no copy.
        const own = r.tensor.byteOffset === 0 && r.tensor.byteLength === r.tensor.buffer.byteLength;
        port.postMessage(reply, own ? [r.tensor.buffer as ArrayBuffer] : []);
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        const t = err instanceof TesseraError ? err : undefined;
        const reason = (err as { reason?: unknown }).reason;
        const reply: PreprocessReply = {
          id: job.id,
          error: {
            name: e.name,
            message: e.message,
            ...(t !== undefined ? { code: t.code, context: t.context } : {}),
            ...(typeof reason === 'string' ? { reason } : {}),
          },
        };
        port.postMessage(reply);
      },
    );
  });
}
