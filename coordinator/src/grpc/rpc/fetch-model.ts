import type * as grpc from '@grpc/grpc-js';
import type { Chunk } from '../../../../protos/gen/tessera/v1/Chunk.js';
import type { FetchModelRequest__Output } from '../../../../protos/gen/tessera/v1/FetchModelRequest.js';
import { ProtocolError } from '../../../../shared/src/errors.js';
import { toGrpcStatus } from '../../../../shared/src/transport/grpc-errors.js';
import type { RpcContext } from './context.js';

/** `FetchModel`: a model version in 1 MiB chunks from an offset on the chunk grid (resumable downloads). */
export function fetchModel(ctx: RpcContext, call: grpc.ServerWritableStream<FetchModelRequest__Output, Chunk>): void {
  void (async () => {
    try {
      const who = ctx.authenticate(call, 'FetchModel');
      const { modelVersion, offset } = call.request;
      const size = await ctx.deps.models.size(modelVersion);
      if (size === undefined) {
        throw new ProtocolError('TESSERA_PROTOCOL_UNKNOWN_MODEL', `no model version ${modelVersion.slice(0, 64)}`, {
          siteId: who.siteId,
        });
      }
      if (offset > size) throw new ProtocolError('TESSERA_PROTOCOL_BAD_OFFSET', `offset ${offset} is past the end (${size})`);
      // An offset off the 1 MiB grid is refused by the repository (TESSERA_PROTOCOL_BAD_OFFSET).
      for (const chunk of await ctx.deps.models.chunks(modelVersion, offset)) {
        if (call.cancelled) return;
        ctx.deps.onBytes?.('out', chunk.data.byteLength);
        if (!call.write(chunk)) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    } catch (err) {
      call.emit('error', toGrpcStatus(err));
    }
  })();
}

