import * as grpc from '@grpc/grpc-js';
import type { Http2SecureServer } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { FederationHandlers } from '../../../protos/gen/tessera/v1/Federation.js';
import type { Logger } from '../../../shared/src/logging.js';
import { GRPC_CHANNEL_OPTIONS, HTTP2_WINDOW_BYTES, loadFederationProto } from '../../../shared/src/transport/proto.js';

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
 */
function tuneHttp2Server(server: grpc.Server, logger: Logger): void {
  const internal = server as unknown as { createHttp2Server: CreateHttp2Server };
  const original = internal.createHttp2Server.bind(server);
  internal.createHttp2Server = (credentials) => {
    const http2Server = original(credentials);
    // grpc-js applies 'grpc-node.flow_control_window' to clients only; give uploads the same window.
    http2Server.updateSettings({ initialWindowSize: HTTP2_WINDOW_BYTES });
    http2Server.on('session', (session) => {
      session.once('remoteSettings', () => session.setLocalWindowSize(HTTP2_WINDOW_BYTES));
    });
    http2Server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      logger.warn(
        { peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, code: err.code ?? 'TLS_ERROR', reason: err.message },
        'refused TLS connection: client certificate rejected in the mTLS handshake',
      );
    });
    return http2Server;
  };
}

/** Starts the Federation service, mTLS only: a client without a certificate from the consortium CA cannot connect. */
export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningGrpcServer> {
  const proto = loadFederationProto();
  const server = new grpc.Server(GRPC_CHANNEL_OPTIONS);
  tuneHttp2Server(server, opts.logger);
  server.addService(proto.tessera.v1.Federation.service, opts.handlers);
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
