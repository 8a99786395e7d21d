// Original file: protos/tessera/v1/federation.proto


export interface Welcome {
  'coordinatorId'?: (string);
  'heartbeatIntervalMs'?: (number);
  'protocolVersion'?: (number);
}

export interface Welcome__Output {
  'coordinatorId': (string);
  'heartbeatIntervalMs': (number);
  'protocolVersion': (number);
}
