/**
 * The data check's preprocessing of the cached instances: each one read from the cache, checked for pixels on
 * the event loop, and turned into a model input by the preprocessing step. With the default step the images go
 * through a {@link PreprocessPool} (worker threads, at most `threads × 2` in flight), several at once; results
 * are taken in the instances' order, so the report, the contact sheet and the tensors come out as they did one
 * by one.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TesseraError } from '../../../../shared/src/errors.js';
import { Tags } from '../dicom/dictionary.js';
import { parseDicom } from '../dicom/parse.js';
import { PreprocessPool } from '../imaging/preprocess-pool.js';
import type { AfterGateStep } from '../pacs/index.js';
import type { SheetTile } from './contact-sheet.js';
import { encodeNpyFloat32 } from './npy.js';
import type { InstancePreprocessor, PreprocessedInstance } from './preprocess-step.js';

/** One instance the step could not use (the data check's `DataCheckInstance` shape). */
export interface CandidateProblem {
  readonly id: string;
  readonly status: 'failed' | 'skipped';
  readonly stage: 'decode' | 'preprocess';
  readonly reasons: readonly { readonly code: string; readonly message: string }[];
}

/** What {@link preprocessCandidates} needs. */
export interface PreprocessCandidatesOptions {
  readonly ids: readonly string[];
  readonly dicomDir: string;
  readonly shape: readonly [number, number, number];
  /** A custom step runs on the event loop, one instance at a time; without one the pipeline runs on a pool. */
  readonly preprocess?: InstancePreprocessor;
  /** Pool threads for the default step. @default min(cores, 4) */
  readonly threads?: number;
  /** A pool the caller owns (and closes) for the default step, instead of one made here. */
  readonly pool?: PreprocessPool;
  /** Instances already handed to the pool while they were pulled ({@link pipelineAfterGate}): not read again. */
  readonly early?: ReadonlyMap<string, EarlySlot>;
  /** Where `<id>.npy` tensors go, or undefined for none. */
  readonly tensorsDir?: string;
  readonly maxTiles: number;
}

/** Why the step failed, as the report states it: the stage, a stable code and the message. */
export function failureOf(err: unknown): { stage: 'decode' | 'preprocess'; code: string; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  const reason = (err as { reason?: unknown }).reason;
  if (typeof reason === 'string') {
    return { stage: reason === 'missing-window' ? 'preprocess' : 'decode', code: reason, message };
  }
  if (err instanceof TesseraError) {
    // Input errors are the image's (unreadable, undecodable pixels, the pipeline's image checks); others are the step's.
    const decode = err.code.startsWith('TESSERA_INPUT_');
    return { stage: decode ? 'decode' : 'preprocess', code: err.code, message };
  }
  return { stage: 'preprocess', code: 'preprocess-failed', message };
}

type Slot = { readonly id: string; readonly problem: CandidateProblem } | { readonly id: string; readonly result: Promise<PreprocessedInstance> };

/** What the step made of an instance during the pull: a problem found before the pipeline, or the pipeline's result. */
export type EarlySlot = { readonly problem: CandidateProblem } | { readonly result: Promise<PreprocessedInstance> };

function noPixels(id: string): CandidateProblem {
  return { id, status: 'skipped', stage: 'decode', reasons: [{ code: 'no-pixel-data', message: 'the instance holds no image (Pixel Data absent): a report, a plan or another non-image object' }] };
}

/**
 * The pipeline as the step after the gate of a PACS pull (`syncFromPacs({ afterGate })`): each written
 * instance goes to `pool` with the bytes the gate wrote, while the pull goes on; `early` holds what became of
 * each, for {@link preprocessCandidates}.
 */
export function pipelineAfterGate(pool: PreprocessPool, shape: readonly [number, number, number]): { step: AfterGateStep; early: Map<string, EarlySlot> } {
  const early = new Map<string, EarlySlot>();
  const step: AfterGateStep = {
    ready: () => pool.whenReady(),
    take: async (id, bytes) => {
      let hasPixels: boolean;
      try {
        hasPixels = parseDicom(bytes, id).dataset.has(Tags.PixelData);
      } catch {
        // The gate wrote it, so it parses; should it not, it is read and reported from the cache later.
        hasPixels = true;
      }
      if (!hasPixels) {
        early.set(id, { problem: noPixels(id) });
        // The place whenReady kept for this instance goes back unused.
        pool.release();
        return;
      }
      const result = pool.run(bytes, id, shape);
      early.set(id, { result });
      await result.then(
        () => undefined,
        () => undefined,
      );
    },
  };
  return { step, early };
}

/** Preprocesses `ids` in order; returns the tiles, the counts and the problems (in the order of `ids`). */
export async function preprocessCandidates(o: PreprocessCandidatesOptions): Promise<{ tiles: SheetTile[]; decoded: number; used: number; problems: CandidateProblem[] }> {
  const own = o.preprocess === undefined && o.pool === undefined;
  const pool = o.preprocess === undefined ? (o.pool ?? PreprocessPool.create(o.threads !== undefined ? { threads: o.threads } : {})) : undefined;
  const slots: Slot[] = [];
  try {
    for (const id of o.ids) {
      const done = o.early?.get(id);
      if (done !== undefined) {
        slots.push({ id, ...done });
        continue;
      }
      const bytes = await readFile(path.join(o.dicomDir, `${id}.dcm`)).catch(() => undefined);
      if (bytes === undefined) {
        slots.push({ id, problem: { id, status: 'failed', stage: 'decode', reasons: [{ code: 'cache-missing', message: 'the de-identified instance is not in the cache' }] } });
        continue;
      }
      let hasPixels: boolean;
      try {
        hasPixels = parseDicom(bytes, id).dataset.has(Tags.PixelData);
      } catch (err) {
        slots.push({ id, problem: { id, status: 'failed', stage: 'decode', reasons: [{ code: 'unreadable', message: err instanceof Error ? err.message : 'not readable' }] } });
        continue;
      }
      if (!hasPixels) {
        slots.push({ id, problem: noPixels(id) });
        continue;
      }
      if (pool === undefined) {
        // A custom step: one at a time, settled before the next instance is read.
        const result = (o.preprocess as InstancePreprocessor)(bytes, id, o.shape);
        await result.catch(() => undefined);
        slots.push({ id, result });
        continue;
      }
      await pool.whenReady();
      const result = pool.run(bytes, id, o.shape);
      result.catch(() => undefined); // settled in order below
      slots.push({ id, result });
    }
    const tiles: SheetTile[] = [];
    const problems: CandidateProblem[] = [];
    let decoded = 0;
    let used = 0;
    for (const slot of slots) {
      if ('problem' in slot) {
        problems.push(slot.problem);
        continue;
      }
      try {
        const out = await slot.result;
        decoded++;
        used++;
        if (tiles.length < o.maxTiles) tiles.push({ tensor: out.tensor, shape: out.shape });
        if (o.tensorsDir !== undefined) await writeFile(path.join(o.tensorsDir, `${slot.id}.npy`), encodeNpyFloat32(out.tensor, out.shape), { mode: 0o600 });
      } catch (err) {
        const f = failureOf(err);
        if (f.stage === 'preprocess') decoded++;
        problems.push({ id: slot.id, status: 'failed', stage: f.stage, reasons: [{ code: f.code, message: f.message }] });
      }
    }
    return { tiles, decoded, used, problems };
  } finally {
    if (own) await pool?.close();
  }
}
