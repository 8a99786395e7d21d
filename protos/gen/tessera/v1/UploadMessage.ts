// Original file: protos/tessera/v1/federation.proto

import type { UploadHeader as _tessera_v1_UploadHeader, UploadHeader__Output as _tessera_v1_UploadHeader__Output } from '../../tessera/v1/UploadHeader.js';
import type { Chunk as _tessera_v1_Chunk, Chunk__Output as _tessera_v1_Chunk__Output } from '../../tessera/v1/Chunk.js';

export interface UploadMessage {
  'header'?: (_tessera_v1_UploadHeader | null);
  'chunk'?: (_tessera_v1_Chunk | null);
  'body'?: "header"|"chunk";
}

export interface UploadMessage__Output {
  'header'?: (_tessera_v1_UploadHeader__Output | null);
  'chunk'?: (_tessera_v1_Chunk__Output | null);
  'body'?: "header"|"chunk";
}
