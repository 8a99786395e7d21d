// Original file: protos/tessera/v1/federation.proto


export interface SecAggParams {
  'threshold'?: (number);
  'cohort'?: (string)[];
  'degree'?: (number);
  'graphSeed'?: (Buffer | Uint8Array | string);
  'clip'?: (number | string);
  'maxWeight'?: (number);
  'weightBucket'?: (number);
  'attempt'?: (number);
}

export interface SecAggParams__Output {
  'threshold': (number);
  'cohort': (string)[];
  'degree': (number);
  'graphSeed': (Buffer);
  'clip': (number);
  'maxWeight': (number);
  'weightBucket': (number);
  'attempt': (number);
}
