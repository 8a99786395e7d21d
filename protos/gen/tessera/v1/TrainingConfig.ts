// Original file: protos/tessera/v1/federation.proto

import type { Long } from '@grpc/proto-loader';

export interface TrainingConfig {
  'localEpochs'?: (number);
  'batchSize'?: (number);
  'learningRate'?: (number | string);
  'proximalMu'?: (number | string);
  'optimizer'?: (string);
  'seed'?: (number | string | Long);
}

export interface TrainingConfig__Output {
  'localEpochs': (number);
  'batchSize': (number);
  'learningRate': (number);
  'proximalMu': (number);
  'optimizer': (string);
  'seed': (number);
}
