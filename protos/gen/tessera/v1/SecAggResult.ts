// Original file: protos/tessera/v1/federation.proto

import type { SignedSiteKeys as _tessera_v1_SignedSiteKeys, SignedSiteKeys__Output as _tessera_v1_SignedSiteKeys__Output } from '../../tessera/v1/SignedSiteKeys.js';
import type { SecAggShares as _tessera_v1_SecAggShares, SecAggShares__Output as _tessera_v1_SecAggShares__Output } from '../../tessera/v1/SecAggShares.js';
import type { SecAggMaskedInput as _tessera_v1_SecAggMaskedInput, SecAggMaskedInput__Output as _tessera_v1_SecAggMaskedInput__Output } from '../../tessera/v1/SecAggMaskedInput.js';
import type { SecAggReveal as _tessera_v1_SecAggReveal, SecAggReveal__Output as _tessera_v1_SecAggReveal__Output } from '../../tessera/v1/SecAggReveal.js';

export interface SecAggResult {
  'keys'?: (_tessera_v1_SignedSiteKeys | null);
  'shares'?: (_tessera_v1_SecAggShares | null);
  'masked'?: (_tessera_v1_SecAggMaskedInput | null);
  'reveal'?: (_tessera_v1_SecAggReveal | null);
  'stage'?: "keys"|"shares"|"masked"|"reveal";
}

export interface SecAggResult__Output {
  'keys'?: (_tessera_v1_SignedSiteKeys__Output | null);
  'shares'?: (_tessera_v1_SecAggShares__Output | null);
  'masked'?: (_tessera_v1_SecAggMaskedInput__Output | null);
  'reveal'?: (_tessera_v1_SecAggReveal__Output | null);
  'stage'?: "keys"|"shares"|"masked"|"reveal";
}
