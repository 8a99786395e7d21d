// Original file: protos/tessera/v1/federation.proto

import type { SecAggParams as _tessera_v1_SecAggParams, SecAggParams__Output as _tessera_v1_SecAggParams__Output } from '../../tessera/v1/SecAggParams.js';
import type { SecAggShareKeys as _tessera_v1_SecAggShareKeys, SecAggShareKeys__Output as _tessera_v1_SecAggShareKeys__Output } from '../../tessera/v1/SecAggShareKeys.js';
import type { SecAggMaskedInputRequest as _tessera_v1_SecAggMaskedInputRequest, SecAggMaskedInputRequest__Output as _tessera_v1_SecAggMaskedInputRequest__Output } from '../../tessera/v1/SecAggMaskedInputRequest.js';
import type { SecAggUnmaskRequest as _tessera_v1_SecAggUnmaskRequest, SecAggUnmaskRequest__Output as _tessera_v1_SecAggUnmaskRequest__Output } from '../../tessera/v1/SecAggUnmaskRequest.js';

export interface SecAggTask {
  'advertise'?: (_tessera_v1_SecAggParams | null);
  'shareKeys'?: (_tessera_v1_SecAggShareKeys | null);
  'maskedInput'?: (_tessera_v1_SecAggMaskedInputRequest | null);
  'unmask'?: (_tessera_v1_SecAggUnmaskRequest | null);
  'attempt'?: (number);
  'stage'?: "advertise"|"shareKeys"|"maskedInput"|"unmask";
}

export interface SecAggTask__Output {
  'advertise'?: (_tessera_v1_SecAggParams__Output | null);
  'shareKeys'?: (_tessera_v1_SecAggShareKeys__Output | null);
  'maskedInput'?: (_tessera_v1_SecAggMaskedInputRequest__Output | null);
  'unmask'?: (_tessera_v1_SecAggUnmaskRequest__Output | null);
  'attempt': (number);
  'stage'?: "advertise"|"shareKeys"|"maskedInput"|"unmask";
}
