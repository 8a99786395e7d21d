import type { DpConfig } from '../../../protos/gen/tessera/v1/DpConfig.js';
import type { EncryptedShare as EncryptedShareMsg } from '../../../protos/gen/tessera/v1/EncryptedShare.js';
import type { SecAggTask } from '../../../protos/gen/tessera/v1/SecAggTask.js';
import type { Task } from '../../../protos/gen/tessera/v1/Task.js';
import type { TaskKind__Output } from '../../../protos/gen/tessera/v1/TaskKind.js';
import type { TaskResult__Output } from '../../../protos/gen/tessera/v1/TaskResult.js';
import type { EncryptedShare } from '../../../shared/src/secagg/index.js';
import { signedKeysFromProto, signedKeysToProto } from '../../../shared/src/transport/secagg-wire.js';
import type { DpPlan, SecAggReply, SecAggRequest, SiteResult, SiteTask, SiteTaskKind } from '../rounds/site-task.js';

/**
 * The one place where the round core's task and outcome types meet the generated wire types (STYLE §5:
 * `toProto` / `fromProto` at the edge only).
 */

const KIND_TO_WIRE = { fit: 'TASK_KIND_FIT', evaluate: 'TASK_KIND_EVALUATE', secagg: 'TASK_KIND_SECAGG' } as const satisfies Record<SiteTaskKind, TaskKind__Output>;

export function toWireKind(kind: SiteTaskKind): (typeof KIND_TO_WIRE)[SiteTaskKind] {
  return KIND_TO_WIRE[kind];
}

/** The round-core kind of a wire kind; undefined for TASK_KIND_UNSPECIFIED. */
export function fromWireKind(kind: TaskKind__Output): SiteTaskKind | undefined {
  switch (kind) {
    case 'TASK_KIND_FIT':
      return 'fit';
    case 'TASK_KIND_EVALUATE':
      return 'evaluate';
    case 'TASK_KIND_SECAGG':
      return 'secagg';
    case 'TASK_KIND_UNSPECIFIED':
      return undefined;
  }
}

/** The wire form of signed keys (one definition, in shared/src/transport/secagg-wire.ts, for both sides). */
export const toProtoKeys = signedKeysToProto;
export const fromProtoKeys = signedKeysFromProto;

export function toProtoShare(s: EncryptedShare): EncryptedShareMsg {
  return { fromSite: s.from, toSite: s.to, ciphertext: s.ciphertext };
}

export function fromProtoShare(s: { fromSite: string; toSite: string; ciphertext: Uint8Array }): EncryptedShare {
  return { from: s.fromSite, to: s.toSite, ciphertext: Buffer.from(s.ciphertext) };
}

function toWireDp(dp: DpPlan): DpConfig {
  return { ...dp };
}

function toWireSecAgg(attempt: number, r: SecAggRequest): SecAggTask {
  switch (r.stage) {
    case 'advertise':
      // The advertise stage carries its attempt inside the parameters (as it always has on the wire).
      return { advertise: { ...r.params } };
    case 'share-keys':
      return { shareKeys: { keys: r.keys.map(toProtoKeys) }, attempt };
    case 'masked-input':
      return { maskedInput: { shares: r.shares.map(toProtoShare) }, attempt };
    case 'unmask':
      return { unmask: { survivors: r.survivors, dropped: r.dropped }, attempt };
  }
}

export function toWireTask(t: SiteTask): Task {
  return {
    taskId: t.taskId,
    kind: toWireKind(t.kind),
    studyId: t.studyId,
    round: t.round,
    modelVersion: t.modelVersion,
    modelDigest: t.modelDigest,
    modelBytes: t.modelBytes,
    modelSpec: t.modelSpec,
    dataset: t.dataset,
    studyData: t.studyData,
    training:
      t.training === null
        ? null
        : {
            localEpochs: t.training.localEpochs,
            batchSize: t.training.batchSize,
            learningRate: t.training.learningRate,
            optimizer: t.training.optimizer,
            proximalMu: t.training.proximalMu,
            seed: t.training.seed,
            ...(t.training.fedBn === true ? { fedBn: true } : {}),
            ...(t.training.classWeighting !== undefined ? { classWeighting: t.training.classWeighting } : {}),
            ...(t.training.dp ? { dp: toWireDp(t.training.dp) } : {}),
          },
    deadlineMs: t.deadlineMs,
    ...(t.secagg ? { secagg: toWireSecAgg(t.secagg.attempt, t.secagg.request) } : {}),
  };
}

function fromWireSecAgg(s: NonNullable<TaskResult__Output['secagg']>): SecAggReply {
  const reply: SecAggReply = {};
  if (s.keys) reply.keys = fromProtoKeys(s.keys);
  if (s.shares) reply.shares = s.shares.shares.map(fromProtoShare);
  if (s.masked) reply.masked = { length: s.masked.length };
  if (s.reveal) {
    reply.reveal = {
      selfMaskShares: s.reveal.selfMaskShares.map((x) => ({ owner: x.ownerSite, share: Buffer.from(x.share) })),
      maskKeyShares: s.reveal.maskKeyShares.map((x) => ({ owner: x.ownerSite, share: Buffer.from(x.share) })),
    };
  }
  return reply;
}

/** A site's result as the round core sees it; `kind` is the task's (SiteSessions checked the result's against it). */
export function fromWireResult(r: TaskResult__Output, kind: SiteTaskKind): SiteResult {
  return {
    taskId: r.taskId,
    studyId: r.studyId,
    round: r.round,
    kind,
    numExamples: r.numExamples,
    metrics: r.metrics,
    updateSha256: r.updateSha256,
    updateBytes: r.updateBytes,
    ...(r.privacy ? { privacy: { epsilon: r.privacy.epsilon, delta: r.privacy.delta, accountant: r.privacy.accountant, rounds: r.privacy.rounds } } : {}),
    ...(r.secagg ? { secagg: fromWireSecAgg(r.secagg) } : {}),
  };
}
