// Original file: protos/tessera/v1/federation.proto

import type { Long } from '@grpc/proto-loader';

export interface FetchModelRequest {
  'modelVersion'?: (string);
  'offset'?: (number | string | Long);
}

export interface FetchModelRequest__Output {
  'modelVersion': (string);
  'offset': (number);
}
