// Original file: protos/tessera/v1/federation.proto


export interface PrivacySpend {
  'studyId'?: (string);
  'epsilon'?: (number | string);
  'delta'?: (number | string);
  'accountant'?: (string);
  'rounds'?: (number);
  'noiseMultiplier'?: (number | string);
}

export interface PrivacySpend__Output {
  'studyId': (string);
  'epsilon': (number);
  'delta': (number);
  'accountant': (string);
  'rounds': (number);
  'noiseMultiplier': (number);
}
