// Original file: protos/tessera/v1/federation.proto


export interface DpConfig {
  'mode'?: (string);
  'noiseMultiplier'?: (number | string);
  'clipNorm'?: (number | string);
  'samplingRate'?: (number | string);
  'stepsPerRound'?: (number);
  'plannedRounds'?: (number);
  'targetEpsilon'?: (number | string);
  'delta'?: (number | string);
  'accountant'?: (string);
  'noiseShares'?: (number);
  'quantizationScale'?: (number | string);
  'secureAggregation'?: (boolean);
  'countNoise'?: (number | string);
}

export interface DpConfig__Output {
  'mode': (string);
  'noiseMultiplier': (number);
  'clipNorm': (number);
  'samplingRate': (number);
  'stepsPerRound': (number);
  'plannedRounds': (number);
  'targetEpsilon': (number);
  'delta': (number);
  'accountant': (string);
  'noiseShares': (number);
  'quantizationScale': (number);
  'secureAggregation': (boolean);
  'countNoise': (number);
}
