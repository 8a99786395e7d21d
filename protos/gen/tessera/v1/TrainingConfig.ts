// Original file: protos/tessera/v1/federation.proto

import type { DpConfig as _tessera_v1_DpConfig, DpConfig__Output as _tessera_v1_DpConfig__Output } from '../../tessera/v1/DpConfig.js';
import type { Long } from '@grpc/proto-loader';

export interface TrainingConfig {
  'localEpochs'?: (number);
  'batchSize'?: (number);
  'learningRate'?: (number | string);
  'proximalMu'?: (number | string);
  'optimizer'?: (string);
  'seed'?: (number | string | Long);
  'dp'?: (_tessera_v1_DpConfig | null);
  'fedBn'?: (boolean);
  'classWeighting'?: (string);
}

export interface TrainingConfig__Output {
  'localEpochs': (number);
  'batchSize': (number);
  'learningRate': (number);
  'proximalMu': (number);
  'optimizer': (string);
  'seed': (number);
  'dp': (_tessera_v1_DpConfig__Output | null);
  'fedBn': (boolean);
  'classWeighting': (string);
}
