// Original file: protos/tessera/v1/federation.proto

import type { RevealedShare as _tessera_v1_RevealedShare, RevealedShare__Output as _tessera_v1_RevealedShare__Output } from '../../tessera/v1/RevealedShare.js';

export interface SecAggReveal {
  'selfMaskShares'?: (_tessera_v1_RevealedShare)[];
  'maskKeyShares'?: (_tessera_v1_RevealedShare)[];
}

export interface SecAggReveal__Output {
  'selfMaskShares': (_tessera_v1_RevealedShare__Output)[];
  'maskKeyShares': (_tessera_v1_RevealedShare__Output)[];
}
