/**
 * The one folder where retrieved, still identified instances wait for the de-identification gate: created
 * 0700, swept at open (what a crash or a kill left behind), one file per instance in flight, each removed as
 * soon as its instance is through the gate.
 */
import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../../../shared/src/errors.js';

/** Creates (0700) or sweeps the incoming folder; returns how many leftover entries were removed. */
export async function openIncoming(dir: string): Promise<{ dir: string; swept: number }> {
  const abs = path.resolve(dir);
  const st = await lstat(abs).catch(() => undefined);
  if (st !== undefined && !st.isDirectory()) {
    throw new InputError('TESSERA_INPUT_DEID_FOLDER', `incoming folder ${abs} exists and is not a folder (a symlink or a file)`, { dir: abs });
  }
  await mkdir(abs, { recursive: true, mode: 0o700 });
  await chmod(abs, 0o700);
  const left = await readdir(abs);
  for (const name of left) await rm(path.join(abs, name), { recursive: true, force: true });
  return { dir: abs, swept: left.length };
}

/** A fresh temporary file name inside the incoming folder (not created). */
export function incomingFile(dir: string): string {
  return path.join(dir, `${randomUUID()}.part`);
}

/** Removes a temporary file; never throws (a leftover is swept at the next open). */
export async function removeIncoming(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => undefined);
}
