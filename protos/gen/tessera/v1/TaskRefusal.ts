// Original file: protos/tessera/v1/federation.proto


export interface TaskRefusal {
  'taskId'?: (string);
  'code'?: (string);
  'reason'?: (string);
}

export interface TaskRefusal__Output {
  'taskId': (string);
  'code': (string);
  'reason': (string);
}
