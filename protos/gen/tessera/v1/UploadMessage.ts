// Original file: protos/tessera/v1/federation.proto

import type { UploadHeader as _tessera_v1_UploadHeader, UploadHeader__Output as _tessera_v1_UploadHeader__Output } from '../../tessera/v1/UploadHeader.js';
import type { Chunk as _tessera_v1_Chunk, Chunk__Output as _tessera_v1_Chunk__Output } from '../../tessera/v1/Chunk.js';
import type { UploadTrailer as _tessera_v1_UploadTrailer, UploadTrailer__Output as _tessera_v1_UploadTrailer__Output } from '../../tessera/v1/UploadTrailer.js';

export interface UploadMessage {
  'header'?: (_tessera_v1_UploadHeader | null);
  'chunk'?: (_tessera_v1_Chunk | null);
  'trailer'?: (_tessera_v1_UploadTrailer | null);
  'body'?: "header"|"chunk"|"trailer";
}

export interface UploadMessage__Output {
  'header'?: (_tessera_v1_UploadHeader__Output | null);
  'chunk'?: (_tessera_v1_Chunk__Output | null);
  'trailer'?: (_tessera_v1_UploadTrailer__Output | null);
  'body'?: "header"|"chunk"|"trailer";
}
