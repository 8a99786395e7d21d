// Original file: protos/tessera/v1/federation.proto

import type { SignedSiteKeys as _tessera_v1_SignedSiteKeys, SignedSiteKeys__Output as _tessera_v1_SignedSiteKeys__Output } from '../../tessera/v1/SignedSiteKeys.js';

export interface SecAggShareKeys {
  'keys'?: (_tessera_v1_SignedSiteKeys)[];
}

export interface SecAggShareKeys__Output {
  'keys': (_tessera_v1_SignedSiteKeys__Output)[];
}
