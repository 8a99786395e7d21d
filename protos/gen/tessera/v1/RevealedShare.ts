// Original file: protos/tessera/v1/federation.proto


export interface RevealedShare {
  'ownerSite'?: (string);
  'share'?: (Buffer | Uint8Array | string);
}

export interface RevealedShare__Output {
  'ownerSite': (string);
  'share': (Buffer);
}
