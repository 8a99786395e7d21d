import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file's location in either `shared/src` or `dist/shared/src`. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'protos'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot locate the Tessera repository root');
}
