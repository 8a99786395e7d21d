// Original file: protos/tessera/v1/federation.proto


export interface EncryptedShare {
  'fromSite'?: (string);
  'toSite'?: (string);
  'ciphertext'?: (Buffer | Uint8Array | string);
}

export interface EncryptedShare__Output {
  'fromSite': (string);
  'toSite': (string);
  'ciphertext': (Buffer);
}
