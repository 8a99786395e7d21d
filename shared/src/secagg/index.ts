/**
 * Secure aggregation (SecAgg / SecAgg+), the parts both roles share: Shamir sharing, X25519 + HKDF key
 * agreement, signed keys, AES-GCM share encryption, AES-CTR masks, quantization and the neighbour graph,
 * plus the per-role state machines. Pure: no I/O besides node:crypto.
 */
export { combineShares, splitSecret, FIELD_PRIME, type Share } from './shamir.js';
export {
  decryptShare,
  encryptShare,
  generateX25519,
  keysPayload,
  pairwiseKey,
  privateKeyObject,
  publicKeyObject,
  graphSeedFor,
  sessionLabel,
  signKeys,
  verifyKeys,
  KEY_BYTES,
  type SessionContext,
  type SignedKeys,
} from './keys.js';
export { addInto, applyMask, applyMasks, keystreamOnly, KEYSTREAM_CHUNK_BYTES } from './mask.js';
export { MaskWorkerPool } from './mask-pool.js';
export { maskKernel, nativeMask } from './native-mask.js';
export { bucketWeight, dequantizeMean, quantize, quantizationScale, type QuantizationParams } from './quantize.js';
export { COMPLETE_GRAPH_UP_TO, defaultDegree, neighbourGraph } from './neighbours.js';
export { binomialTail, degreeForCollusion, dropoutFailureBound, exposureBound, majorityThreshold, SECURITY_BITS } from './security.js';
export {
  checkConfig,
  maskSign,
  SecAggAggregator,
  SecAggSiteSession,
  SECAGG_STAGES,
  type EncryptedShare,
  type Reveal,
  type RevealedShare,
  type SecAggConfig,
  type SecAggStage,
  type SiteSessionOptions,
} from './protocol.js';
