/**
 * The read-only public data sets the developers keep beside the checkout (`../shared/data`), which
 * `tessera demo --dataset heart-disease|breastmnist` may use when the operator has them. Nothing a
 * site or the coordinator needs at run time comes from here (a test checks that only the demo, the
 * benches and the tests import this module); the default demo (`--dataset synthetic`) needs none of it.
 */
import path from 'node:path';

import { repoRoot } from '../../shared/src/paths.js';

/** Folder of the public data sets. Override with the `TESSERA_SHARED_DATA` environment variable. */
export function sharedDataDir(): string {
  const fromEnv = process.env['TESSERA_SHARED_DATA'];
  if (fromEnv != null && fromEnv !== '') return path.resolve(fromEnv);
  return path.resolve(repoRoot(), '..', 'shared', 'data');
}

/** Folder of the UCI heart-disease files: `<sharedDataDir()>/heart-disease`. */
export function heartDiseaseDir(): string {
  return path.join(sharedDataDir(), 'heart-disease');
}
