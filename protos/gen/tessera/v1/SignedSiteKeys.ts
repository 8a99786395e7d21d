// Original file: protos/tessera/v1/federation.proto


export interface SignedSiteKeys {
  'siteId'?: (string);
  'cipherPublicKey'?: (Buffer | Uint8Array | string);
  'maskPublicKey'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
  'certificatePem'?: (string);
}

export interface SignedSiteKeys__Output {
  'siteId': (string);
  'cipherPublicKey': (Buffer);
  'maskPublicKey': (Buffer);
  'signature': (Buffer);
  'certificatePem': (string);
}
