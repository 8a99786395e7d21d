import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import type { ProtoGrpcType } from '../../../protos/gen/federation.js';
import { repoRoot } from '../paths.js';

/** proto-loader options; `protos/gen` is generated with the same choices (see scripts/gen-protos.mjs). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * Protocol version carried in Hello/Welcome; bumped on incompatible changes inside tessera.v1.
 * 2: whole-transfer checksums are transfer digests (sha256 over the 1 MiB chunks' sha256, chunks.ts), not
 * flat sha256s of the bytes; chunks sit on the 1 MiB grid; tasks carry `model_digest`.
 * 3: a fresh upload may send its transfer digest last, in an UploadTrailer (header `sha256` empty).
 */
export const PROTOCOL_VERSION = 3;

let cached: ProtoGrpcType | undefined;

/** The loaded `tessera.v1` package (service constructors and message types). */
export function loadFederationProto(): ProtoGrpcType {
  if (cached) return cached;
  const def = protoLoader.loadSync('tessera/v1/federation.proto', {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [path.join(repoRoot(), 'protos')],
  });
  cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  return cached;
}

/** HTTP/2 receive window (per stream and per connection) both ends advertise. */
export const HTTP2_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Channel/server options shared by both ends. The receive limit stays at gRPC's 4 MiB default on purpose:
 * bulk data moves in ≤ 1 MiB chunks, so nothing legitimate needs more.
 */
export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  // HTTP/2 flow control: grpc-js otherwise keeps the 64 KiB default window, which caps one stream at a
  // window per round trip (≈ 100 MB/s on loopback). 8 MiB bounds what a peer may have in flight.
  'grpc-node.flow_control_window': HTTP2_WINDOW_BYTES,
};
