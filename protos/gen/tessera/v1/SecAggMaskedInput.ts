// Original file: protos/tessera/v1/federation.proto

import type { Long } from '@grpc/proto-loader';

export interface SecAggMaskedInput {
  'length'?: (number | string | Long);
}

export interface SecAggMaskedInput__Output {
  'length': (number);
}
