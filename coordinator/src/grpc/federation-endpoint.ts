import type { FederationHandlers } from '../../../protos/gen/tessera/v1/Federation.js';
import { connect } from './rpc/connect.js';
import { createRpcContext, type FederationEndpointDeps } from './rpc/context.js';
import { fetchModel } from './rpc/fetch-model.js';
export { studyParticipants } from './rpc/fetch-model.js';
import { queryUpload } from './rpc/query-upload.js';
import { uploadUpdate } from './rpc/upload-update.js';

export type { FederationEndpointDeps, IdentityRefusal, PeerAuthenticator, PeerIdentity } from './rpc/context.js';

/** The gRPC handlers of `tessera.v1.Federation`, one file per RPC under rpc/. Every call is authenticated before anything else. */
export function createFederationHandlers(deps: FederationEndpointDeps): FederationHandlers {
  const ctx = createRpcContext(deps);
  return {
    Connect: (call) => connect(ctx, call),
    FetchModel: (call) => fetchModel(ctx, call),
    UploadUpdate: (call, callback) => uploadUpdate(ctx, call, callback),
    QueryUpload: (call, callback) => queryUpload(ctx, call, callback),
  };
}
