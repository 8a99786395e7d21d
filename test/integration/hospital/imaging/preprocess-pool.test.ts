/**
 * The image pipeline on worker threads (imaging/preprocess-pool.ts, compiled worker): for every file of the shared
 * corpus it gives what the pipeline gives on the calling thread — the same tensor, or the same error (class, code,
 * reason, message) — keeps to its queue bound, and a pool without the compiled worker runs inline.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { sharedDataDir } from '../../../../cli/src/public-data.js';
import { ConfigError, TesseraError } from '../../../../shared/src/errors.js';
import { preprocessToModelInput } from '../../../../site-agent/src/hospital/imaging/model-input.js';
import { PreprocessPool } from '../../../../site-agent/src/hospital/imaging/preprocess-pool.js';

const corpus = path.join(sharedDataDir(), 'dicom');
// The compiled worker (npm test builds dist/ first): the path an agent runs.
const WORKER = new URL('../../../../dist/site-agent/src/hospital/imaging/preprocess-worker.js', import.meta.url);

type Outcome = { tensor: number[]; shape: readonly number[]; notes: readonly string[] } | { error: string; code?: string; reason?: unknown; message: string };

async function outcome(p: Promise<{ tensor: Float32Array; shape: readonly number[]; notes: readonly string[] }>): Promise<Outcome> {
  try {
    const r = await p;
    return { tensor: Array.from(r.tensor), shape: r.shape, notes: r.notes };
  } catch (err) {
    const e = err as Error & { code?: string; reason?: unknown };
    return { error: e.constructor.name, ...(e instanceof TesseraError ? { code: e.code } : {}), reason: e.reason, message: e.message };
  }
}

describe.skipIf(!existsSync(path.join(corpus, 'MANIFEST.tsv')))('the preprocessing pool', () => {
  it('has its compiled worker (run `tsc -b` first, as npm test does)', () => {
    expect(existsSync(WORKER)).toBe(true);
  });

  it('gives the calling thread\'s tensor or error for every corpus file', { timeout: 300_000 }, async () => {
    const pool = PreprocessPool.create({ threads: 2, worker: WORKER });
    try {
      expect(pool.threads).toBe(2);
      const files = readdirSync(corpus, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !/\.(tsv|md)$/.test(e.name));
      let tensors = 0;
      for (const e of files) {
        const bytes = readFileSync(path.join(e.parentPath, e.name));
        const inline = await outcome(preprocessToModelInput(bytes, e.name, [64, 64, 1]));
        // The pool takes its bytes (transferred): hand it a copy.
        const threaded = await outcome(pool.run(Uint8Array.from(bytes), e.name, [64, 64, 1]));
        expect(threaded, e.name).toEqual(inline);
        if ('tensor' in inline) tensors++;
      }
      expect(tensors).toBeGreaterThan(30);
    } finally {
      await pool.close();
    }
  });

  it('lets one caller through per free place, and fails what is queued when closed', async () => {
    const pool = PreprocessPool.create({ threads: 1, queuePerThread: 1, worker: WORKER });
    const bytes = readFileSync(path.join(corpus, 'pydicom', 'CT_small.dcm'));
    let second = false;
    await pool.whenReady();
    const waiting = pool.whenReady().then(() => (second = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe(false);
    const first = pool.run(Uint8Array.from(bytes), 'a', [16, 16, 1]);
    expect((await first).shape).toEqual([16, 16, 1]);
    await waiting;
    expect(second).toBe(true);
    // A place kept and given back unused lets the next caller in.
    let third = false;
    const waitingThird = pool.whenReady().then(() => (third = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    pool.release();
    await waitingThird;
    expect(third).toBe(true);
    pool.release();
    const queued = [pool.run(Uint8Array.from(bytes), 'b', [16, 16, 1]), pool.run(Uint8Array.from(bytes), 'c', [16, 16, 1])];
    const settling = Promise.allSettled(queued);
    await pool.close();
    const settled = await settling;
    expect(settled.some((s) => s.status === 'rejected')).toBe(true);
  });

  it('runs inline without the compiled worker or with 0 threads, and refuses bad counts', async () => {
    const bytes = readFileSync(path.join(corpus, 'pydicom', 'CT_small.dcm'));
    for (const pool of [PreprocessPool.create({ threads: 0, worker: WORKER }), PreprocessPool.create({ worker: new URL('./no-such-worker.js', import.meta.url) })]) {
      expect(pool.threads).toBe(0);
      expect(await outcome(pool.run(bytes, 'x', [8, 8, 1]))).toEqual(await outcome(preprocessToModelInput(bytes, 'x', [8, 8, 1])));
      await pool.close();
    }
    expect(() => PreprocessPool.create({ threads: -1 })).toThrow(ConfigError);
    expect(() => PreprocessPool.create({ queuePerThread: 0 })).toThrow(ConfigError);
  });
});
