// Original file: protos/tessera/v1/federation.proto

import type { Long } from '@grpc/proto-loader';

export interface UploadHeader {
  'taskId'?: (string);
  'studyId'?: (string);
  'round'?: (number);
  'siteId'?: (string);
  'totalBytes'?: (number | string | Long);
  'sha256'?: (Buffer | Uint8Array | string);
  'offset'?: (number | string | Long);
}

export interface UploadHeader__Output {
  'taskId': (string);
  'studyId': (string);
  'round': (number);
  'siteId': (string);
  'totalBytes': (number);
  'sha256': (Buffer);
  'offset': (number);
}
