// Original file: protos/tessera/v1/federation.proto

import type { EncryptedShare as _tessera_v1_EncryptedShare, EncryptedShare__Output as _tessera_v1_EncryptedShare__Output } from '../../tessera/v1/EncryptedShare.js';

export interface SecAggShares {
  'shares'?: (_tessera_v1_EncryptedShare)[];
}

export interface SecAggShares__Output {
  'shares': (_tessera_v1_EncryptedShare__Output)[];
}
