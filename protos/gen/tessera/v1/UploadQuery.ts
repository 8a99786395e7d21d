// Original file: protos/tessera/v1/federation.proto


export interface UploadQuery {
  'taskId'?: (string);
  'sha256'?: (Buffer | Uint8Array | string);
}

export interface UploadQuery__Output {
  'taskId': (string);
  'sha256': (Buffer);
}
