// Original file: protos/tessera/v1/federation.proto


export interface UploadTrailer {
  'sha256'?: (Buffer | Uint8Array | string);
}

export interface UploadTrailer__Output {
  'sha256': (Buffer);
}
