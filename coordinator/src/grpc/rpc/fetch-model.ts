import type * as grpc from '@grpc/grpc-js';
import type { Chunk } from '../../../../protos/gen/tessera/v1/Chunk.js';
import type { FetchModelRequest__Output } from '../../../../protos/gen/tessera/v1/FetchModelRequest.js';
import { ProtocolError } from '../../../../shared/src/errors.js';
import { toGrpcStatus } from '../../../../shared/src/transport/grpc-errors.js';
import type { CoordinatorStore } from '../../store/coordinator-store.js';
import type { RpcContext } from './context.js';

/**
 * Who may fetch a model version: a site with a task open now that starts from it (to train on it, or to evaluate
 * a candidate not yet committed), or a site recorded in one of the rounds of the study the version belongs to
 * (it took part; it may fetch again, e.g. to resume a download).
 */
export function studyParticipants(
  store: Pick<CoordinatorStore, 'getModelVersion' | 'listRounds' | 'listRoundSites'>,
  openTaskOnModel: (siteId: string, modelVersion: string) => boolean,
): (siteId: string, modelVersion: string) => Promise<boolean> {
  return async (siteId, modelVersion) => {
    if (openTaskOnModel(siteId, modelVersion)) return true;
    const version = await store.getModelVersion(modelVersion);
    if (!version) return false;
    for (const r of await store.listRounds(version.studyId)) {
      if ((await store.listRoundSites(version.studyId, r.round, r.attempt)).some((s) => s.siteId === siteId)) return true;
    }
    return false;
  };
}

/** `FetchModel`: a model version in 1 MiB chunks from an offset on the chunk grid (resumable downloads). */
export function fetchModel(ctx: RpcContext, call: grpc.ServerWritableStream<FetchModelRequest__Output, Chunk>): void {
  void (async () => {
    try {
      const who = ctx.authenticate(call, 'FetchModel');
      const { modelVersion, offset } = call.request;
      const size = await ctx.deps.models.size(modelVersion);
      // A version of a study the site takes no part in is answered like an unknown one: its existence is not told.
      const allowed = size !== undefined && (ctx.deps.mayFetchModel === undefined || (await ctx.deps.mayFetchModel(who.siteId, modelVersion)));
      if (size !== undefined && !allowed) ctx.log.warn({ siteId: who.siteId, modelVersion: modelVersion.slice(0, 64) }, 'model fetch refused: not a study the site takes part in');
      if (size === undefined || !allowed) {
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

