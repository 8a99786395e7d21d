// Original file: protos/tessera/v1/federation.proto

import type { Long } from '@grpc/proto-loader';

export interface UploadStatus {
  'receivedBytes'?: (number | string | Long);
  'known'?: (boolean);
}

export interface UploadStatus__Output {
  'receivedBytes': (number);
  'known': (boolean);
}
