import type * as grpc from '@grpc/grpc-js';
import type { UploadMessage__Output } from '../../../../protos/gen/tessera/v1/UploadMessage.js';
import type { UploadReceipt } from '../../../../protos/gen/tessera/v1/UploadReceipt.js';
import { IdentityError, ProtocolError } from '../../../../shared/src/errors.js';
import { toGrpcStatus } from '../../../../shared/src/transport/grpc-errors.js';
import { asBuffer, type PeerIdentity, type RpcContext } from './context.js';

/**
 * Upload chunks (≤ 1 MiB each) that may be in flight (being verified on the hasher or waiting for their
 * disk write) before the stream pauses.
 */
const MAX_QUEUED_CHUNKS = 8;

/**
 * `UploadUpdate`: a site streams its update for an open fit (or masked-input) task, header → chunks →
 * trailer, resumable from the offset the coordinator holds; a newer stream for the same task takes it over.
 */
export function uploadUpdate(
  ctx: RpcContext,
  call: grpc.ServerReadableStream<UploadMessage__Output, UploadReceipt>,
  callback: grpc.sendUnaryData<UploadReceipt>,
): void {
  let taskId: string | undefined;
  let who: PeerIdentity;
  let failed = false;
  let chain: Promise<void> = Promise.resolve();
  // This stream's token in the upload store (a newer stream for the same task takes the upload over).
  const stream = {};
  const fail = (err: unknown): void => {
    if (failed) return;
    failed = true;
    if (taskId !== undefined) ctx.deps.uploads.release(taskId, stream);
    ctx.log.warn({ siteId: who?.siteId, taskId, problem: toGrpcStatus(err).details }, 'upload refused');
    ctx.identityRefused(call, 'UploadUpdate', err, who);
    callback(toGrpcStatus(err));
  };
  try {
    who = ctx.authenticate(call, 'UploadUpdate');
  } catch (err) {
    callback(toGrpcStatus(err));
    return;
  }
  // Messages are taken strictly in order; a chunk's checksum is verified as soon as it is taken, beside
  // the disk writes of the chunks before it. Up to MAX_QUEUED_CHUNKS may be in flight; beyond that the
  // stream is paused (back-pressure on the sender).
  let queued = 0;
  let paused = false;
  let lastWrite: Promise<void> = Promise.resolve();
  const settle = (): void => {
    queued -= 1;
    if (paused && !failed && queued < MAX_QUEUED_CHUNKS) {
      paused = false;
      call.resume();
    }
  };
  call.on('data', (msg: UploadMessage__Output) => {
    queued += 1;
    if (queued >= MAX_QUEUED_CHUNKS && !paused) {
      paused = true;
      call.pause();
    }
    chain = chain
      .then(async () => {
        if (failed) return;
        if (msg.header) {
          if (taskId !== undefined) throw new ProtocolError('TESSERA_PROTOCOL_DUPLICATE_HEADER', 'header sent twice');
          const h = msg.header;
          if (h.siteId !== who.siteId) {
            throw new IdentityError('TESSERA_IDENTITY_SITE_MISMATCH', `upload claims site '${h.siteId.slice(0, 64)}' but the certificate belongs to '${who.siteId}'`);
          }
          const task = ctx.deps.sessions.pendingTask(h.taskId, who.siteId);
          // Updates come with plaintext fit tasks; under secure aggregation only the masked-input stage uploads.
          const uploads = task?.secagg ? task.kind === 'TASK_KIND_SECAGG' && task.secagg.maskedInput != null : task?.kind === 'TASK_KIND_FIT';
          if (!task || !uploads) {
            throw new ProtocolError('TESSERA_PROTOCOL_UNKNOWN_TASK', `no open fit task ${h.taskId.slice(0, 80)} for site ${who.siteId}`);
          }
          if (h.studyId !== task.studyId || h.round !== task.round) {
            throw new ProtocolError(
              'TESSERA_PROTOCOL_WRONG_ROUND',
              `upload for study ${h.studyId.slice(0, 64)} round ${h.round}; the task is study ${task.studyId} round ${task.round}`,
            );
          }
          const expected = ctx.deps.expectedUpdateBytes(h.taskId);
          if (expected !== undefined && h.totalBytes !== expected) {
            throw new ProtocolError(
              'TESSERA_PROTOCOL_WRONG_SHAPE',
              `update of ${h.totalBytes} bytes does not match the model's ${expected} bytes`,
            );
          }
          // Empty: a fresh upload whose digest comes last, in the trailer.
          if (h.sha256.byteLength !== 32 && h.sha256.byteLength !== 0) throw new ProtocolError('TESSERA_PROTOCOL_BAD_CHECKSUM', 'sha256 must be 32 bytes or empty');
          // Released in `fail` and on end/error/cancel; a stream cancelled before this returns releases it here.
          taskId = h.taskId;
          await ctx.deps.uploads.begin(h.taskId, h.totalBytes, h.sha256.byteLength === 0 ? undefined : Buffer.from(h.sha256), h.offset, stream);
          if (failed) ctx.deps.uploads.release(h.taskId, stream);
          settle();
          return;
        }
        if (msg.chunk) {
          if (taskId === undefined) throw new ProtocolError('TESSERA_PROTOCOL_NO_HEADER', 'chunk before header');
          const c = msg.chunk;
          const bytes = c.data.byteLength;
          // Not awaited: the next chunk is taken while this one is verified and written.
          lastWrite = ctx.deps.uploads.append(taskId, { offset: c.offset, data: asBuffer(c.data), sha256: asBuffer(c.sha256), totalBytes: c.totalBytes }, stream);
          lastWrite.then(() => {
            ctx.deps.onBytes?.('in', bytes);
            settle();
          }, fail);
          return;
        }
        if (msg.trailer) {
          if (taskId === undefined) throw new ProtocolError('TESSERA_PROTOCOL_NO_HEADER', 'trailer before header');
          if (msg.trailer.sha256.byteLength !== 32) throw new ProtocolError('TESSERA_PROTOCOL_BAD_CHECKSUM', 'trailer sha256 must be 32 bytes');
          // Ordered after the chunks' writes by the store; the upload is checked once they are done.
          lastWrite = ctx.deps.uploads.seal(taskId, Buffer.from(msg.trailer.sha256), stream);
          lastWrite.then(settle, fail);
          return;
        }
        throw new ProtocolError('TESSERA_PROTOCOL_EMPTY_MESSAGE', 'upload message carries no body');
      })
      .catch(fail);
  });
  call.on('end', () => {
    void chain
      .then(() => lastWrite)
      .catch(() => undefined)
      .then(() => {
        if (failed) return;
        if (taskId === undefined) {
          fail(new ProtocolError('TESSERA_PROTOCOL_NO_HEADER', 'upload stream ended without a header'));
          return;
        }
        ctx.deps.uploads.release(taskId, stream);
        const progress = ctx.deps.uploads.progress(taskId);
        callback(null, { taskId, receivedBytes: progress?.received ?? 0, complete: progress?.complete ?? false });
      });
  });
  call.on('error', () => {
    if (taskId !== undefined) ctx.deps.uploads.release(taskId, stream);
  });
  call.on('cancelled', () => {
    if (taskId !== undefined) ctx.deps.uploads.release(taskId, stream);
  });
}
