import type * as grpc from '@grpc/grpc-js';
import type { AuthContext } from '@grpc/grpc-js/build/src/auth-context.js';
import type { FederationHandlers } from '../../../protos/gen/tessera/v1/Federation.js';
import type { Chunk } from '../../../protos/gen/tessera/v1/Chunk.js';
import type { CoordinatorMessage } from '../../../protos/gen/tessera/v1/CoordinatorMessage.js';
import type { FetchModelRequest__Output } from '../../../protos/gen/tessera/v1/FetchModelRequest.js';
import type { SiteMessage__Output } from '../../../protos/gen/tessera/v1/SiteMessage.js';
import type { UploadMessage__Output } from '../../../protos/gen/tessera/v1/UploadMessage.js';
import type { UploadReceipt } from '../../../protos/gen/tessera/v1/UploadReceipt.js';
import { errorMessage, IdentityError, ProtocolError, TesseraError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { toGrpcStatus } from '../../../shared/src/transport/grpc-errors.js';
import { PROTOCOL_VERSION } from '../../../shared/src/transport/proto.js';
import type { ModelRepository, UploadStore } from '../store/blob-store.js';
import type { CoordinatorStore } from '../store/coordinator-store.js';
import type { SiteSession, SiteSessions } from '../sessions/site-sessions.js';

/**
 * Upload chunks (≤ 1 MiB each) that may be in flight (being verified on the hasher or waiting for their
 * disk write) before the stream pauses.
 */
const MAX_QUEUED_CHUNKS = 8;

/** A Buffer view of decoded protobuf bytes, without copying them. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Who is calling, established from the client certificate. */
export interface PeerIdentity {
  siteId: string;
  serial: string;
  /** Certificate expiry, epoch ms. */
  notAfter: number;
}

/** Verifies a caller's certificate (CA, validity, revocation, role); throws an IdentityError when refused. */
export interface PeerAuthenticator {
  authenticate(certDer: Buffer | undefined, claimedSiteId?: string): PeerIdentity;
}

export interface FederationEndpointDeps {
  sessions: SiteSessions;
  uploads: UploadStore;
  models: ModelRepository;
  store: CoordinatorStore;
  auth: PeerAuthenticator;
  logger: Logger;
  coordinatorId: string;
  /** @default 5000 ms */
  heartbeatIntervalMs: number;
  /** Silence after which a site's stream is closed. @default 4 × heartbeatIntervalMs */
  heartbeatTimeoutMs?: number;
  /** Expected byte length of the update for a pending fit task (its model's size). */
  expectedUpdateBytes(taskId: string): number | undefined;
  /** Observer for bytes moved (benchmarks, metrics). */
  onBytes?: (direction: 'in' | 'out', bytes: number) => void;
  now?: () => number;
  /** Receives store writes that run after a stream ends, so shutdown can wait for them before closing the store. */
  track?: (write: Promise<void>) => void;
}

function peerCert(call: { getAuthContext(): AuthContext | null }): Buffer | undefined {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  return raw != null ? Buffer.from(raw) : undefined;
}

/** The gRPC handlers of `tessera.v1.Federation`. Every call is authenticated before anything else. */
export function createFederationHandlers(deps: FederationEndpointDeps): FederationHandlers {
  const now = deps.now ?? Date.now;
  const log = deps.logger;

  function authenticate(call: { getAuthContext(): AuthContext | null; getPeer(): string }, method: string, claimed?: string): PeerIdentity {
    try {
      return deps.auth.authenticate(peerCert(call), claimed);
    } catch (err) {
      const code = err instanceof TesseraError ? err.code : 'TESSERA_IDENTITY_UNKNOWN';
      log.warn({ peer: call.getPeer(), method, code, reason: errorMessage(err) }, 'refused call: identity check failed');
      throw err;
    }
  }

  function connect(call: grpc.ServerDuplexStream<SiteMessage__Output, CoordinatorMessage>): void {
    let identity: PeerIdentity;
    try {
      identity = authenticate(call, 'Connect');
    } catch (err) {
      call.emit('error', toGrpcStatus(err));
      return;
    }
    let session: SiteSession | undefined;
    let lastSeen = now();
    const helloTimer = setTimeout(() => {
      if (!session) {
        log.warn({ siteId: identity.siteId }, 'closing stream: no hello within 10 s');
        call.emit('error', toGrpcStatus(new ProtocolError('TESSERA_PROTOCOL_NO_HELLO', 'the first message must be hello')));
      }
    }, 10_000);
    const certDer = peerCert(call);
    const beat = setInterval(() => {
      // The certificate was checked when the stream opened; a revocation (the list reloads without a
      // restart) or an expiry since then closes the stream within one heartbeat interval.
      try {
        deps.auth.authenticate(certDer);
      } catch (err) {
        const code = err instanceof TesseraError ? err.code : 'TESSERA_IDENTITY_UNKNOWN';
        log.warn({ siteId: identity.siteId, serial: identity.serial, code, reason: errorMessage(err) }, 'closing stream: certificate no longer accepted');
        clearInterval(beat);
        call.write({ goodbye: { reason: code } });
        call.emit('error', toGrpcStatus(err));
        return;
      }
      if (now() - lastSeen > (deps.heartbeatTimeoutMs ?? deps.heartbeatIntervalMs * 4)) {
        log.warn({ siteId: identity.siteId }, 'site missed heartbeats; closing its stream');
        call.end();
        return;
      }
      call.write({ heartbeat: { sentAtMs: now() } });
    }, deps.heartbeatIntervalMs);
    const cleanup = (): void => {
      clearTimeout(helloTimer);
      clearInterval(beat);
      if (session) {
        deps.sessions.unregister(session);
        log.info({ siteId: identity.siteId }, 'site disconnected');
        const write = deps.store.setSiteConnected(identity.siteId, false, now()).catch((e: unknown) => {
          log.error({ err: errorMessage(e) }, 'could not record site disconnect');
        });
        deps.track?.(write);
        session = undefined;
      }
    };
    call.on('end', () => {
      cleanup();
      call.end();
    });
    call.on('cancelled', cleanup);
    call.on('error', cleanup);
    call.on('close', cleanup);

    call.on('data', (msg: SiteMessage__Output) => {
      lastSeen = now();
      if (session) session.lastSeen = lastSeen;
      try {
        if (msg.hello) {
          if (session) throw new ProtocolError('TESSERA_PROTOCOL_DUPLICATE_HELLO', 'hello sent twice on one stream');
          const hello = msg.hello;
          if (hello.siteId !== identity.siteId) {
            throw new IdentityError(
              'TESSERA_IDENTITY_SITE_MISMATCH',
              `hello claims site '${hello.siteId.slice(0, 64)}' but the certificate belongs to '${identity.siteId}'`,
              { siteId: identity.siteId },
            );
          }
          if (hello.protocolVersion !== PROTOCOL_VERSION) {
            throw new ProtocolError(
              'TESSERA_PROTOCOL_VERSION',
              `site speaks protocol ${hello.protocolVersion}, coordinator ${PROTOCOL_VERSION}`,
            );
          }
          clearTimeout(helloTimer);
          const s: SiteSession = {
            siteId: identity.siteId,
            backend: hello.backend.slice(0, 32),
            agentVersion: hello.agentVersion.slice(0, 32),
            connectedAt: now(),
            lastSeen,
            send: (m) => {
              if (call.cancelled || call.destroyed || call.writableEnded) return false;
              return call.write(m) || true;
            },
            close: (reason) => {
              call.write({ goodbye: { reason } });
              call.end();
            },
          };
          session = s;
          call.write({
            welcome: {
              coordinatorId: deps.coordinatorId,
              heartbeatIntervalMs: deps.heartbeatIntervalMs,
              protocolVersion: PROTOCOL_VERSION,
            },
          });
          deps.store
            .upsertSite({
              id: s.siteId,
              connected: true,
              firstSeen: s.connectedAt,
              lastSeen: s.connectedAt,
              backend: s.backend,
              agentVersion: s.agentVersion,
              certSerial: identity.serial,
              certNotAfter: identity.notAfter,
            })
            .catch((e: unknown) => log.error({ err: errorMessage(e) }, 'could not record site'));
          log.info({ siteId: s.siteId, backend: s.backend, agentVersion: s.agentVersion }, 'site connected');
          deps.sessions.register(s);
          return;
        }
        if (!session) throw new ProtocolError('TESSERA_PROTOCOL_NO_HELLO', 'the first message must be hello');
        if (msg.heartbeat) return;
        if (msg.result) {
          const problem = deps.sessions.acceptResult(session.siteId, msg.result);
          if (problem != null) log.warn({ siteId: session.siteId, taskId: msg.result.taskId, problem }, 'result refused');
          return;
        }
        if (msg.refusal) {
          const r = msg.refusal;
          log.info({ siteId: session.siteId, taskId: r.taskId, code: r.code, reason: r.reason }, 'site refused task');
          const problem = deps.sessions.acceptRefusal(session.siteId, r.taskId, r.code, r.reason);
          if (problem != null) log.warn({ siteId: session.siteId, problem }, 'refusal ignored');
          return;
        }
        throw new ProtocolError('TESSERA_PROTOCOL_EMPTY_MESSAGE', 'site message carries no body');
      } catch (err) {
        const status = toGrpcStatus(err);
        log.warn({ siteId: identity.siteId, problem: status.details }, 'site message refused');
        // Identity and handshake errors end the stream; a bad single message is only logged.
        if (!session || err instanceof IdentityError) {
          clearTimeout(helloTimer);
          clearInterval(beat);
          call.emit('error', status);
        }
      }
    });
  }

  function fetchModel(call: grpc.ServerWritableStream<FetchModelRequest__Output, Chunk>): void {
    void (async () => {
      try {
        const who = authenticate(call, 'FetchModel');
        const { modelVersion, offset } = call.request;
        const size = await deps.models.size(modelVersion);
        if (size === undefined) {
          throw new ProtocolError('TESSERA_PROTOCOL_UNKNOWN_MODEL', `no model version ${modelVersion.slice(0, 64)}`, {
            siteId: who.siteId,
          });
        }
        if (offset > size) throw new ProtocolError('TESSERA_PROTOCOL_BAD_OFFSET', `offset ${offset} is past the end (${size})`);
        // An offset off the 1 MiB grid is refused by the repository (TESSERA_PROTOCOL_BAD_OFFSET).
        for (const chunk of await deps.models.chunks(modelVersion, offset)) {
          if (call.cancelled) return;
          deps.onBytes?.('out', chunk.data.byteLength);
          if (!call.write(chunk)) await new Promise((r) => call.once('drain', r));
        }
        call.end();
      } catch (err) {
        call.emit('error', toGrpcStatus(err));
      }
    })();
  }

  function uploadUpdate(
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
      if (taskId !== undefined) deps.uploads.release(taskId, stream);
      log.warn({ siteId: who?.siteId, taskId, problem: toGrpcStatus(err).details }, 'upload refused');
      callback(toGrpcStatus(err));
    };
    try {
      who = authenticate(call, 'UploadUpdate');
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
            const task = deps.sessions.pendingTask(h.taskId, who.siteId);
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
            const expected = deps.expectedUpdateBytes(h.taskId);
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
            await deps.uploads.begin(h.taskId, h.totalBytes, h.sha256.byteLength === 0 ? undefined : Buffer.from(h.sha256), h.offset, stream);
            if (failed) deps.uploads.release(h.taskId, stream);
            settle();
            return;
          }
          if (msg.chunk) {
            if (taskId === undefined) throw new ProtocolError('TESSERA_PROTOCOL_NO_HEADER', 'chunk before header');
            const c = msg.chunk;
            const bytes = c.data.byteLength;
            // Not awaited: the next chunk is taken while this one is verified and written.
            lastWrite = deps.uploads.append(taskId, { offset: c.offset, data: asBuffer(c.data), sha256: asBuffer(c.sha256), totalBytes: c.totalBytes }, stream);
            lastWrite.then(() => {
              deps.onBytes?.('in', bytes);
              settle();
            }, fail);
            return;
          }
          if (msg.trailer) {
            if (taskId === undefined) throw new ProtocolError('TESSERA_PROTOCOL_NO_HEADER', 'trailer before header');
            if (msg.trailer.sha256.byteLength !== 32) throw new ProtocolError('TESSERA_PROTOCOL_BAD_CHECKSUM', 'trailer sha256 must be 32 bytes');
            // Ordered after the chunks' writes by the store; the upload is checked once they are done.
            lastWrite = deps.uploads.seal(taskId, Buffer.from(msg.trailer.sha256), stream);
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
          deps.uploads.release(taskId, stream);
          callback(null, { taskId, receivedBytes: uploadedBytes(taskId), complete: isComplete(taskId) });
        });
    });
    call.on('error', () => {
      if (taskId !== undefined) deps.uploads.release(taskId, stream);
    });
    call.on('cancelled', () => {
      if (taskId !== undefined) deps.uploads.release(taskId, stream);
    });
  }

  function uploadedBytes(taskId: string): number {
    return deps.uploads.progress(taskId)?.received ?? 0;
  }
  function isComplete(taskId: string): boolean {
    return deps.uploads.progress(taskId)?.complete ?? false;
  }

  function queryUpload(
    call: grpc.ServerUnaryCall<{ taskId: string; sha256: Buffer }, { receivedBytes: number; known: boolean }>,
    callback: grpc.sendUnaryData<{ receivedBytes: number; known: boolean }>,
  ): void {
    try {
      const who = authenticate(call, 'QueryUpload');
      const { taskId, sha256 } = call.request;
      if (!deps.sessions.pendingTask(taskId, who.siteId)) {
        callback(null, { receivedBytes: 0, known: false });
        return;
      }
      deps.uploads.held(taskId, Buffer.from(sha256)).then(
        (received) => callback(null, { receivedBytes: received, known: received > 0 }),
        (err: unknown) => callback(toGrpcStatus(err)),
      );
    } catch (err) {
      callback(toGrpcStatus(err));
    }
  }

  return {
    Connect: connect,
    FetchModel: fetchModel,
    UploadUpdate: uploadUpdate,
    QueryUpload: queryUpload,
  };
}
