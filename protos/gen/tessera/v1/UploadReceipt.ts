// Original file: protos/tessera/v1/federation.proto

import type { Long } from '@grpc/proto-loader';

export interface UploadReceipt {
  'taskId'?: (string);
  'receivedBytes'?: (number | string | Long);
  'complete'?: (boolean);
}

export interface UploadReceipt__Output {
  'taskId': (string);
  'receivedBytes': (number);
  'complete': (boolean);
}
