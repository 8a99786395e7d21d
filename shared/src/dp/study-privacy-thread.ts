import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigError } from '../errors.js';
import type { StudySpec } from '../study/study-spec.js';
import { resolveStudyPrivacy } from './study-privacy.js';
import type { StudyPrivacyReply } from './study-privacy-worker.js';

/** The compiled worker beside this module (dist/…/study-privacy-worker.js). */
export const STUDY_PRIVACY_WORKER = new URL('./study-privacy-worker.js', import.meta.url);

/**
 * {@link resolveStudyPrivacy} on a worker thread, so a server that creates a DP study (REST, the
 * coordinator) keeps answering while the noise is calibrated: PLD calibration takes seconds. Same
 * result and same ConfigError (message and field) as the inline call. Studies without `privacy` resolve
 * inline (nothing to compute). Where the compiled worker is absent — the TypeScript sources run directly,
 * as under the test runner — it resolves inline.
 */
export async function resolveStudyPrivacyOffThread(spec: StudySpec, worker: URL = STUDY_PRIVACY_WORKER): Promise<StudySpec> {
  if (spec.privacy === undefined || !existsSync(fileURLToPath(worker))) return resolveStudyPrivacy(spec);
  const answer = await new Promise<StudyPrivacyReply>((resolve, reject) => {
    const w = new Worker(worker, { workerData: spec });
    w.once('message', (m: StudyPrivacyReply) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`study privacy worker exited with code ${code} before answering`)));
  });
  if ('ok' in answer) return answer.ok;
  if (answer.error.config) throw new ConfigError(answer.error.message, answer.error.context);
  throw new Error(answer.error.message);
}
