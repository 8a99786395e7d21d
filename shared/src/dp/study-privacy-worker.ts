/**
 * Worker-thread entry of {@link resolveStudyPrivacyOffThread}: resolves one study's privacy settings (noise
 * calibration and checks, seconds of PLD arithmetic) and posts the result or the ConfigError's parts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError, errorMessage } from '../errors.js';
import type { StudySpec } from '../study/study-spec.js';
import { resolveStudyPrivacy } from './study-privacy.js';

export type StudyPrivacyReply = { ok: StudySpec } | { error: { message: string; config: boolean; context: Record<string, string | number | boolean> } };

function reply(spec: StudySpec): StudyPrivacyReply {
  try {
    return { ok: resolveStudyPrivacy(spec) };
  } catch (err) {
    return { error: { message: errorMessage(err), config: err instanceof ConfigError, context: err instanceof ConfigError ? { ...err.context } : {} } };
  }
}

parentPort?.postMessage(reply(workerData as StudySpec));
