import path from 'node:path';
import { repoRoot } from '../../shared/src/paths.js';

/** Path of the `tessera` launcher, for starting coordinator and agent child processes. */
export function tesseraBin(): string {
  return path.join(repoRoot(), 'bin', 'tessera.js');
}
