// Original file: protos/tessera/v1/federation.proto


export interface Hello {
  'siteId'?: (string);
  'agentVersion'?: (string);
  'backend'?: (string);
  'protocolVersion'?: (number);
  'datasets'?: ({[key: string]: number});
}

export interface Hello__Output {
  'siteId': (string);
  'agentVersion': (string);
  'backend': (string);
  'protocolVersion': (number);
  'datasets': ({[key: string]: number});
}
