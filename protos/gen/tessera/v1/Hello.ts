// Original file: protos/tessera/v1/federation.proto

import type { PrivacySpend as _tessera_v1_PrivacySpend, PrivacySpend__Output as _tessera_v1_PrivacySpend__Output } from '../../tessera/v1/PrivacySpend.js';

export interface Hello {
  'siteId'?: (string);
  'agentVersion'?: (string);
  'backend'?: (string);
  'protocolVersion'?: (number);
  'datasets'?: ({[key: string]: number});
  'privacyLedger'?: (_tessera_v1_PrivacySpend)[];
}

export interface Hello__Output {
  'siteId': (string);
  'agentVersion': (string);
  'backend': (string);
  'protocolVersion': (number);
  'datasets': ({[key: string]: number});
  'privacyLedger': (_tessera_v1_PrivacySpend__Output)[];
}
