import * as grpc from '@grpc/grpc-js';
import type { Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FederationHandlers } from '../../../protos/gen/tessera/v1/Federation.js';
import { errorMessage } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { GRPC_CHANNEL_OPTIONS, HTTP2_WINDOW_BYTES, loadFederationProto } from '../../../shared/src/transport/proto.js';
import { createChunkSerializer } from './chunk-serializer.js';

export interface GrpcServerOptions {
  handlers: FederationHandlers;
  caPem: Buffer;
  certPem: Buffer;
  keyPem: Buffer;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  logger: Logger;
  /** Told of every client certificate refused in the TLS handshake (the coordinator audits them). */
  onTlsRefusal?: (refusal: { peer: string; code: string; reason: string }) => void;
}

export interface RunningGrpcServer {
  port: number;
  close(): Promise<void>;
}

type CreateHttp2Server = (credentials: grpc.ServerCredentials) => Http2SecureServer;

/**
 * OpenSSL refuses a client certificate from another CA or an expired one during the handshake, before
 * any gRPC code runs, and grpc-js keeps such failures to its trace output. We hook the HTTP/2 server that
 * grpc-js creates so each refused handshake gets a clear log line of its own.
 *
 * Node completes the TLS handshake, then finds the verification error, stores its code in
 * `socket.authorizationError` and destroys the socket; `tlsClientError` then only carries a generic
 * ECONNRESET "socket hang up", and the destroyed socket no longer knows its peer address. So the peer is
 * recorded when the TCP connection arrives, and the reason logged is the verification error
 * (e.g. CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE) whenever there is one.
 */
function tuneHttp2Server(server: grpc.Server, logger: Logger, onTlsRefusal?: GrpcServerOptions['onTlsRefusal']): void {
  const internal = server as unknown as { createHttp2Server: CreateHttp2Server };
  const original = internal.createHttp2Server.bind(server);
  internal.createHttp2Server = (credentials) => {
    const http2Server = original(credentials);
    // grpc-js applies 'grpc-node.flow_control_window' to clients only; give uploads the same window.
    http2Server.updateSettings({ initialWindowSize: HTTP2_WINDOW_BYTES });
    http2Server.on('session', (session) => {
      session.once('remoteSettings', () => session.setLocalWindowSize(HTTP2_WINDOW_BYTES));
    });
    const peers = new WeakMap<object, string>();
    http2Server.on('connection', (raw: Socket) => {
      peers.set(raw, `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`);
    });
    http2Server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      // `_parent` is the TCP socket the TLS socket wraps (not in Node's typings).
      const raw = (socket as TLSSocket & { _parent?: object })._parent;
      const peer = (raw && peers.get(raw)) ?? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      const verifyError = (socket.authorizationError as string | Error | null | undefined) ?? undefined;
      const code = verifyError !== undefined ? String(verifyError instanceof Error ? verifyError.message : verifyError) : (err.code ?? 'TLS_ERROR');
      const reason =
        verifyError !== undefined
          ? `client certificate failed verification: ${describeVerifyError(code)}`
          : err.message;
      logger.warn({ peer, code, reason }, 'refused TLS connection: client certificate rejected in the mTLS handshake');
      onTlsRefusal?.({ peer, code, reason });
    });
    return http2Server;
  };
}

/** OpenSSL verification codes a refused site is likely to hit, in words (others are logged as the code). */
function describeVerifyError(code: string): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return 'certificate has expired (CERT_HAS_EXPIRED)';
    case 'CERT_NOT_YET_VALID':
      return 'certificate is not yet valid (CERT_NOT_YET_VALID)';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return `certificate not issued by the consortium CA (${code})`;
    default:
      return code;
  }
}

/**
 * FetchModel's chunks are encoded by hand into a reused buffer (`createChunkSerializer`).
 *
 * grpc-js answers a request message that does not decode as protobuf with INTERNAL "Error deserializing
 * request" before any handler (or interceptor) runs, and logs nothing. Wrap each method's deserializer so
 * such a refusal gets a log line naming the method (the peer is not known at this layer; the bytes are
 * never logged).
 */
function withSerializers(service: grpc.ServiceDefinition, logger: Logger): grpc.ServiceDefinition {
  const wrapped: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const deserialize = method.requestDeserialize;
    wrapped[name] = {
      ...method,
      ...(name === 'FetchModel' ? { responseSerialize: createChunkSerializer(method.responseSerialize) } : {}),
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return deserialize(bytes);
        } catch (err) {
          logger.warn(
            { method: method.path, bytes: bytes.byteLength, reason: errorMessage(err) },
            'refused call: request message is not valid protobuf',
          );
          throw err;
        }
      },
    };
  }
  return wrapped;
}

/** Starts the Federation service, mTLS only: a client without a certificate from the consortium CA cannot connect. */
export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningGrpcServer> {
  const proto = loadFederationProto();
  const server = new grpc.Server(GRPC_CHANNEL_OPTIONS);
  tuneHttp2Server(server, opts.logger, opts.onTlsRefusal);
  server.addService(withSerializers(proto.tessera.v1.Federation.service, opts.logger), opts.handlers);
  const credentials = grpc.ServerCredentials.createSsl(opts.caPem, [{ cert_chain: opts.certPem, private_key: opts.keyPem }], true);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host ?? '127.0.0.1'}:${opts.port}`, credentials, (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
