/** Differential privacy: accountants, calibration, and the samplers the sites use. */
export { ACCOUNTANT_NAMES, calibrateNoiseMultiplier, epsilonFor, type AccountantName, type CalibrationTarget } from './accountant.js';
export { composeSubsampledGaussian, DEFAULT_PLD_INTERVAL, gaussianDelta, gaussianEpsilon, pldAccountantEpsilon, type ComposedPld, type PldOptions } from './pld.js';
export { createSecureRandom, poissonSample, type SecureRandom } from './noise.js';
export { resolveStudyPrivacy, studySamplingRate, studySteps, type ResolvedStudyPrivacy } from './study-privacy.js';
export { cryptoUniformBigInt, discreteGaussianSampler, exactDiscreteGaussian, type UniformBigInt } from './discrete-gaussian.js';
export {
  addDiscreteGaussianNoise,
  clipUpdate,
  COUNT_UNITS,
  decodeSiteLevelSum,
  distributedNoise,
  encodeSiteLevelInput,
  nextClipNorm,
  NOISE_TAIL_SIGMAS,
  perSiteLimit,
  siteLevelEpsilon,
  siteLevelScale,
  updateNoiseMultiplier,
  updatePartNoiseMultiplier,
  type AdaptiveClipping,
  type ClippedUpdate,
  type CountEncoding,
  type DistributedNoiseParams,
  type SiteLevelAccounting,
  type SiteLevelEncoded,
  type SiteLevelEncoding,
  type SiteLevelScaleParams,
} from './site-level.js';
export { DEFAULT_RDP_ORDERS, rdpEpsilon, rdpToEpsilon, subsampledGaussianRdp, type SubsampledGaussian } from './rdp.js';
