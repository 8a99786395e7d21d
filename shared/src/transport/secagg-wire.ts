import type { SignedSiteKeys, SignedSiteKeys__Output } from '../../../protos/gen/tessera/v1/SignedSiteKeys.js';
import type { SignedKeys } from '../secagg/keys.js';

/** A site's signed SecAgg keys on the wire (advertised by the site, relayed to its neighbours by the coordinator). */
export function signedKeysToProto(k: SignedKeys): SignedSiteKeys {
  return { siteId: k.siteId, cipherPublicKey: k.cipherPublicKey, maskPublicKey: k.maskPublicKey, signature: k.signature, certificatePem: k.certificatePem };
}

/** Signed SecAgg keys from the wire; the signature is checked by the receiver (`verifyKeys`), not here. */
export function signedKeysFromProto(
  k: Pick<SignedSiteKeys__Output, 'siteId' | 'certificatePem'> & { cipherPublicKey: Uint8Array; maskPublicKey: Uint8Array; signature: Uint8Array },
): SignedKeys {
  return {
    siteId: k.siteId,
    cipherPublicKey: Buffer.from(k.cipherPublicKey),
    maskPublicKey: Buffer.from(k.maskPublicKey),
    signature: Buffer.from(k.signature),
    certificatePem: k.certificatePem,
  };
}
