// Original file: protos/tessera/v1/federation.proto

import type { Long } from '@grpc/proto-loader';

export interface Chunk {
  'offset'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  'sha256'?: (Buffer | Uint8Array | string);
  'totalBytes'?: (number | string | Long);
}

export interface Chunk__Output {
  'offset': (number);
  'data': (Buffer);
  'sha256': (Buffer);
  'totalBytes': (number);
}
