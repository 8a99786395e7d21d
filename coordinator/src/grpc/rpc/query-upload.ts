import type * as grpc from '@grpc/grpc-js';
import { toGrpcStatus } from '../../../../shared/src/transport/grpc-errors.js';
import type { RpcContext } from './context.js';

/** `QueryUpload`: how many bytes of an update the coordinator already holds for one of the caller's open tasks. */
export function queryUpload(
  ctx: RpcContext,
  call: grpc.ServerUnaryCall<{ taskId: string; sha256: Buffer }, { receivedBytes: number; known: boolean }>,
  callback: grpc.sendUnaryData<{ receivedBytes: number; known: boolean }>,
): void {
  try {
    const who = ctx.authenticate(call, 'QueryUpload');
    const { taskId, sha256 } = call.request;
    if (!ctx.deps.sessions.pendingTask(taskId, who.siteId)) {
      callback(null, { receivedBytes: 0, known: false });
      return;
    }
    ctx.deps.uploads.held(taskId, Buffer.from(sha256)).then(
      (received) => callback(null, { receivedBytes: received, known: received > 0 }),
      (err: unknown) => callback(toGrpcStatus(err)),
    );
  } catch (err) {
    callback(toGrpcStatus(err));
  }
}

