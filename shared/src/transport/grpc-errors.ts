import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../errors.js';

/** Upload refusals the agent answers by querying the coordinator again and resuming (ABORTED). */
const RETRY_AFTER_QUERY: ReadonlySet<string> = new Set(['TESSERA_PROTOCOL_UPLOAD_BUSY', 'TESSERA_PROTOCOL_UPLOAD_OFFSET']);

/**
 * Maps an error to the gRPC status the peer sees. The one place this mapping lives (STYLE: errors map to
 * transports in one place). Details carry `CODE: message`, never data values.
 */
export function toGrpcStatus(err: unknown): Partial<grpc.StatusObject> & { code: grpc.status; details: string } {
  if (err instanceof TesseraError) {
    let code = grpc.status.INTERNAL;
    if (err.code === 'TESSERA_IDENTITY_UNAUTHENTICATED') code = grpc.status.UNAUTHENTICATED;
    else if (err.code.startsWith('TESSERA_IDENTITY_')) code = grpc.status.PERMISSION_DENIED;
    else if (err.code.startsWith('TESSERA_INPUT_')) code = grpc.status.INVALID_ARGUMENT;
    // The upload's state moved under the caller (a broken stream not yet closed, a resume point from before
    // in-flight chunks landed): asking again shortly succeeds, as gRPC's ABORTED means.
    else if (RETRY_AFTER_QUERY.has(err.code)) code = grpc.status.ABORTED;
    else if (err.code.startsWith('TESSERA_PROTOCOL_')) code = grpc.status.FAILED_PRECONDITION;
    else if (err.code.startsWith('TESSERA_STATE_')) code = grpc.status.FAILED_PRECONDITION;
    return { code, details: `${err.code}: ${err.message}` };
  }
  return { code: grpc.status.INTERNAL, details: 'TESSERA_INTERNAL: internal error' };
}

/**
 * Whether a failed call is worth retrying after a backoff. UNAVAILABLE (coordinator restarting, network
 * blip), DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are transient; CANCELLED is what a dropped stream looks
 * like; ABORTED is an upload whose state moved (query again, then resume); grpc-js reports an HTTP/2 stream
 * reset mid-transfer as INTERNAL or UNKNOWN, so those are retried too (bounded by the caller's attempt
 * count). PERMISSION_DENIED, UNAUTHENTICATED, INVALID_ARGUMENT and FAILED_PRECONDITION (bad certificate,
 * invalid message) will fail the same way again and are not.
 */
export function isRetryable(code: grpc.status | undefined): boolean {
  return (
    code === grpc.status.UNAVAILABLE ||
    code === grpc.status.DEADLINE_EXCEEDED ||
    code === grpc.status.RESOURCE_EXHAUSTED ||
    code === grpc.status.CANCELLED ||
    code === grpc.status.ABORTED ||
    code === grpc.status.INTERNAL ||
    code === grpc.status.UNKNOWN
  );
}
