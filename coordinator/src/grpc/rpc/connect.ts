import type * as grpc from '@grpc/grpc-js';
import type { CoordinatorMessage } from '../../../../protos/gen/tessera/v1/CoordinatorMessage.js';
import type { Hello__Output } from '../../../../protos/gen/tessera/v1/Hello.js';
import type { SiteMessage__Output } from '../../../../protos/gen/tessera/v1/SiteMessage.js';
import { errorMessage, IdentityError, ProtocolError, TesseraError } from '../../../../shared/src/errors.js';
import { toGrpcStatus } from '../../../../shared/src/transport/grpc-errors.js';
import { PROTOCOL_VERSION } from '../../../../shared/src/transport/proto.js';
import type { SiteSession } from '../../sessions/site-sessions.js';
import { peerCert, type PeerIdentity, type RpcContext } from './context.js';

/**
 * `Connect`: a site's long-lived stream. Hello (site id checked against the certificate, protocol version),
 * heartbeats both ways with the certificate re-checked on each beat, then task results and refusals.
 */
export function connect(ctx: RpcContext, call: grpc.ServerDuplexStream<SiteMessage__Output, CoordinatorMessage>): void {
  let identity: PeerIdentity;
  try {
    identity = ctx.authenticate(call, 'Connect');
  } catch (err) {
    call.emit('error', toGrpcStatus(err));
    return;
  }
  let session: SiteSession | undefined;
  let lastSeen = ctx.now();
  const helloTimer = setTimeout(() => {
    if (!session) {
      ctx.log.warn({ siteId: identity.siteId }, 'closing stream: no hello within 10 s');
      call.emit('error', toGrpcStatus(new ProtocolError('TESSERA_PROTOCOL_NO_HELLO', 'the first message must be hello')));
    }
  }, 10_000);
  const certDer = peerCert(call);
  const beat = setInterval(() => {
    // The certificate was checked when the stream opened; a revocation (the list reloads without a
    // restart) or an expiry since then closes the stream within one heartbeat interval.
    try {
      ctx.deps.auth.authenticate(certDer);
    } catch (err) {
      const code = err instanceof TesseraError ? err.code : 'TESSERA_IDENTITY_UNKNOWN';
      ctx.log.warn({ siteId: identity.siteId, serial: identity.serial, code, reason: errorMessage(err) }, 'closing stream: certificate no longer accepted');
      clearInterval(beat);
      call.write({ goodbye: { reason: code } });
      call.emit('error', toGrpcStatus(err));
      return;
    }
    if (ctx.now() - lastSeen > (ctx.deps.heartbeatTimeoutMs ?? ctx.deps.heartbeatIntervalMs * 4)) {
      ctx.log.warn({ siteId: identity.siteId }, 'site missed heartbeats; closing its stream');
      call.end();
      return;
    }
    call.write({ heartbeat: { sentAtMs: ctx.now() } });
  }, ctx.deps.heartbeatIntervalMs);
  const cleanup = (): void => {
    clearTimeout(helloTimer);
    clearInterval(beat);
    if (session) {
      ctx.deps.sessions.unregister(session);
      ctx.log.info({ siteId: identity.siteId }, 'site disconnected');
      const write = ctx.deps.store.setSiteConnected(identity.siteId, false, ctx.now()).catch((e: unknown) => {
        ctx.log.error({ err: errorMessage(e) }, 'could not record site disconnect');
      });
      ctx.deps.track?.(write);
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
    lastSeen = ctx.now();
    if (session) session.lastSeen = lastSeen;
    try {
      if (msg.hello) {
        if (session) throw new ProtocolError('TESSERA_PROTOCOL_DUPLICATE_HELLO', 'hello sent twice on one stream');
        const hello = msg.hello;
        checkHello(identity, hello);
        clearTimeout(helloTimer);
        const s = openSession(ctx, call, identity, hello, lastSeen);
        session = s;
        ctx.deps.sessions.register(s);
        return;
      }
      if (!session) throw new ProtocolError('TESSERA_PROTOCOL_NO_HELLO', 'the first message must be hello');
      if (msg.heartbeat) return;
      if (msg.result) {
        const problem = ctx.deps.sessions.acceptResult(session.siteId, msg.result);
        if (problem != null) ctx.log.warn({ siteId: session.siteId, taskId: msg.result.taskId, problem }, 'result refused');
        return;
      }
      if (msg.refusal) {
        const r = msg.refusal;
        ctx.log.info({ siteId: session.siteId, taskId: r.taskId, code: r.code, reason: r.reason }, 'site refused task');
        const problem = ctx.deps.sessions.acceptRefusal(session.siteId, r.taskId, r.code, r.reason);
        if (problem != null) ctx.log.warn({ siteId: session.siteId, problem }, 'refusal ignored');
        return;
      }
      throw new ProtocolError('TESSERA_PROTOCOL_EMPTY_MESSAGE', 'site message carries no body');
    } catch (err) {
      const status = toGrpcStatus(err);
      ctx.log.warn({ siteId: identity.siteId, problem: status.details }, 'site message refused');
      ctx.identityRefused(call, 'Connect', err, identity);
      // Identity and handshake errors end the stream; a bad single message is only logged.
      if (!session || err instanceof IdentityError) {
        clearTimeout(helloTimer);
        clearInterval(beat);
        call.emit('error', status);
      }
    }
  });
}

/** A hello is accepted only for the certificate's own site and this coordinator's protocol version. */
function checkHello(identity: PeerIdentity, hello: Hello__Output): void {
  if (hello.siteId !== identity.siteId) {
    throw new IdentityError(
      'TESSERA_IDENTITY_SITE_MISMATCH',
      `hello claims site '${hello.siteId.slice(0, 64)}' but the certificate belongs to '${identity.siteId}'`,
      { siteId: identity.siteId },
    );
  }
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    throw new ProtocolError('TESSERA_PROTOCOL_VERSION', `site speaks protocol ${hello.protocolVersion}, coordinator ${PROTOCOL_VERSION}`);
  }
}

/** After an accepted hello: the session the round core dispatches through, the welcome, and the site's row. */
function openSession(
  ctx: RpcContext,
  call: grpc.ServerDuplexStream<SiteMessage__Output, CoordinatorMessage>,
  identity: PeerIdentity,
  hello: Hello__Output,
  lastSeen: number,
): SiteSession {
  const s: SiteSession = {
    siteId: identity.siteId,
    backend: hello.backend.slice(0, 32),
    agentVersion: hello.agentVersion.slice(0, 32),
    connectedAt: ctx.now(),
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
  call.write({
    welcome: {
      coordinatorId: ctx.deps.coordinatorId,
      heartbeatIntervalMs: ctx.deps.heartbeatIntervalMs,
      protocolVersion: PROTOCOL_VERSION,
    },
  });
  ctx.deps.store
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
    .catch((e: unknown) => ctx.log.error({ err: errorMessage(e) }, 'could not record site'));
  ctx.log.info({ siteId: s.siteId, backend: s.backend, agentVersion: s.agentVersion }, 'site connected');
  return s;
}
