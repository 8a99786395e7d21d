// Original file: protos/tessera/v1/federation.proto


export interface SecAggUnmaskRequest {
  'survivors'?: (string)[];
  'dropped'?: (string)[];
}

export interface SecAggUnmaskRequest__Output {
  'survivors': (string)[];
  'dropped': (string)[];
}
