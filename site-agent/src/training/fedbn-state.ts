/**
 * A site's FedBN state on disk: under `training.fedBn` the batch-normalisation weights never leave the site, so
 * they would die with the agent process. One file per study in the site's state folder (`<kit>/fedbn/` unless
 * `fedBnState` says otherwise; 0700) keeps them, with the last global (exchanged) model the site received, so a
 * restarted agent carries on with its own normalisation and the site can export its own model
 * (`tessera export-model --site-state`). Written atomically (0600 temporary, flushed, renamed); a file that fails
 * its checks is reported and ignored (the site then starts that study's normalisation afresh), never trusted.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../../shared/src/errors.js';
import { decodeWeights, encodeWeights } from '../../../shared/src/ml/weights.js';
import { writeFileAtomic } from '../hospital/dicom/writer.js';

/** The format tag of a state file. */
export const FEDBN_STATE_FORMAT = 'tessera-fedbn-site-state/1';

/** A weight vector as stored: float32 little endian in base64, with its length and sha256. */
interface StoredVector {
  readonly length: number;
  readonly sha256: string;
  readonly base64: string;
}

/** One study's FedBN state at one site. */
export interface FedBnSiteState {
  readonly siteId: string;
  readonly studyId: string;
  /** Model spec name and input dimension the weights belong to. */
  readonly model: string;
  readonly inputDim: number;
  /** The round of the task after which the normalisation weights were saved. */
  readonly round: number;
  /** ISO time of the save. */
  readonly savedAt: string;
  /** This site's normalisation weights (layout order of the `normalization` entries). */
  readonly local: Float32Array;
  /** The last global exchanged model the site received: its version id (sha256), the task's round and weights. */
  readonly global?: { readonly version: string; readonly round: number; readonly weights: Float32Array };
}

function toStored(w: Float32Array): StoredVector {
  const bytes = encodeWeights(w);
  return { length: w.length, sha256: createHash('sha256').update(bytes).digest('hex'), base64: bytes.toString('base64') };
}

function fromStored(v: unknown, what: string, file: string): Float32Array {
  const s = v as Partial<StoredVector> | null;
  if (s === null || typeof s !== 'object' || typeof s.base64 !== 'string' || typeof s.sha256 !== 'string' || !Number.isSafeInteger(s.length)) {
    throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file}: '${what}' is not a stored weight vector`, { file });
  }
  const bytes = Buffer.from(s.base64, 'base64');
  if (createHash('sha256').update(bytes).digest('hex') !== s.sha256) throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file}: '${what}' does not match its sha256`, { file });
  return decodeWeights(bytes, s.length as number);
}

/** The file name of a study's state: the study id when it is a plain id (as study specs require), else its hash. */
export function fedBnStateFile(dir: string, studyId: string): string {
  const name = /^[a-z0-9][a-z0-9-]{0,62}$/.test(studyId) ? studyId : `sha256-${createHash('sha256').update(studyId).digest('hex').slice(0, 32)}`;
  return path.join(dir, `${name}.fedbn.json`);
}

/**
 * Reads a state file; `undefined` when there is none.
 * @throws InputError `TESSERA_INPUT_FEDBN_STATE` when it exists but is not a valid state of `studyId`.
 */
export async function readFedBnState(file: string, studyId?: string): Promise<FedBnSiteState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file} cannot be read`, { file }, { cause: err });
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file} is not JSON`, { file }, { cause: err });
  }
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string' || v === '') throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file}: '${k}' must be a non-empty string`, { file });
    return v;
  };
  const int = (k: string, o: Record<string, unknown> = raw): number => {
    const v = o[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file}: '${k}' must be a non-negative integer`, { file });
    return v as number;
  };
  if (raw['format'] !== FEDBN_STATE_FORMAT) throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file}: 'format' must be ${FEDBN_STATE_FORMAT}`, { file });
  const state = { siteId: str('siteId'), studyId: str('studyId'), model: str('model'), inputDim: int('inputDim'), round: int('round'), savedAt: str('savedAt'), local: fromStored(raw['local'], 'local', file) };
  if (studyId !== undefined && state.studyId !== studyId) throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file} belongs to another study`, { file });
  const g = raw['global'] as Record<string, unknown> | undefined;
  if (g === undefined) return state;
  if (typeof g !== 'object' || g === null || typeof g['version'] !== 'string') throw new InputError('TESSERA_INPUT_FEDBN_STATE', `${file}: 'global' must name its version`, { file });
  return { ...state, global: { version: g['version'], round: int('round', g), weights: fromStored(g['weights'], 'global.weights', file) } };
}

/** Writes a state file atomically (0600 temporary in the same 0700 folder, flushed, renamed over the old one). */
export async function writeFedBnState(file: string, state: FedBnSiteState): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const body = {
    format: FEDBN_STATE_FORMAT,
    siteId: state.siteId,
    studyId: state.studyId,
    model: state.model,
    inputDim: state.inputDim,
    round: state.round,
    savedAt: state.savedAt,
    local: toStored(state.local),
    ...(state.global !== undefined ? { global: { version: state.global.version, round: state.global.round, weights: toStored(state.global.weights) } } : {}),
  };
  await writeFileAtomic(file, Buffer.from(`${JSON.stringify(body)}\n`, 'utf8'), { createParent: false });
}
