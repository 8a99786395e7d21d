import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
  X509Certificate,
  constants,
  type KeyObject,
} from 'node:crypto';
import { SecAggError } from '../errors.js';
import { verifyPeerCertificate, type RevocationChecker } from '../pki/verify-peer.js';

/** Raw X25519 keys are 32 bytes; these DER prefixes wrap them as SPKI / PKCS#8 for node:crypto. */
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
export const KEY_BYTES = 32;

/**
 * The context every key, seed and ciphertext of one SecAgg session is bound to: a key signed for
 * (study, round, attempt) cannot be replayed into another round or attempt, and a share encrypted for
 * one (sender, receiver) pair does not decrypt for another.
 */
export interface SessionContext {
  studyId: string;
  round: number;
  attempt: number;
}

export function sessionLabel(ctx: SessionContext): string {
  return `${ctx.studyId}/r${ctx.round}/a${ctx.attempt}`;
}

/**
 * The public per-round seed of the SecAgg+ neighbour graph: a hash of the session label, so no party chooses
 * it. The coordinator sends it; each site recomputes it and refuses a round whose seed differs.
 */
export function graphSeedFor(ctx: SessionContext): Buffer {
  return createHash('sha256').update(`tessera/secagg/v1/graph\0${sessionLabel(ctx)}`).digest();
}

/** A fresh X25519 key pair, raw 32-byte halves. The private half never leaves the site except as Shamir shares. */
export interface X25519KeyPair {
  publicKey: Buffer;
  privateKey: Buffer;
}

export function generateX25519(): X25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length),
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length),
  };
}

/** A raw 32-byte X25519 public key as a KeyObject (parse once, agree many times). */
export function publicKeyObject(raw: Uint8Array | KeyObject): KeyObject {
  if (!(raw instanceof Uint8Array)) return raw;
  if (raw.byteLength !== KEY_BYTES) throw new SecAggError('TESSERA_SECAGG_BAD_KEY', `X25519 public key must be ${KEY_BYTES} bytes, got ${raw.byteLength}`);
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' });
}

/** A raw 32-byte X25519 private key as a KeyObject; parsing costs far more than one agreement, so cache it. */
export function privateKeyObject(raw: Uint8Array | KeyObject): KeyObject {
  if (!(raw instanceof Uint8Array)) return raw;
  if (raw.byteLength !== KEY_BYTES) throw new SecAggError('TESSERA_SECAGG_BAD_KEY', `X25519 private key must be ${KEY_BYTES} bytes`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
}

/** What a pairwise key is for; each purpose gets its own HKDF `info`, so one agreement never yields two uses. */
export type KeyPurpose = 'mask' | 'share-encryption';

/**
 * X25519 agreement then HKDF-SHA256 (RFC 5869): salt = sha256(session label), info names the purpose and
 * the unordered pair of sites. Both ends derive the same 256-bit key.
 */
export function pairwiseKey(ctx: SessionContext, purpose: KeyPurpose, self: { id: string; privateKey: Uint8Array | KeyObject }, peer: { id: string; publicKey: Uint8Array | KeyObject }): Buffer {
  const shared = diffieHellman({ privateKey: privateKeyObject(self.privateKey), publicKey: publicKeyObject(peer.publicKey) });
  if (shared.every((b) => b === 0)) throw new SecAggError('TESSERA_SECAGG_BAD_KEY', `key agreement with site ${peer.id} gave the all-zero secret`, { siteId: peer.id });
  const [a, b] = self.id < peer.id ? [self.id, peer.id] : [peer.id, self.id];
  const salt = createHash('sha256').update(sessionLabel(ctx)).digest();
  return Buffer.from(hkdfSync('sha256', shared, salt, `tessera/secagg/v1/${purpose}\0${a}\0${b}`, KEY_BYTES));
}

/** The public keys one site advertises for a session, with the signature made by its site certificate's key. */
export interface SignedKeys {
  siteId: string;
  cipherPublicKey: Buffer;
  maskPublicKey: Buffer;
  /** RSA-PSS/SHA-256 over {@link keysPayload}. */
  signature: Buffer;
  /** The site's certificate (PEM), checked against the consortium CA by every peer. */
  certificatePem: string;
}

/** Length-prefixed, unambiguous bytes that a site signs: domain, session, site id and both keys. */
export function keysPayload(ctx: SessionContext, siteId: string, cipherPublicKey: Uint8Array, maskPublicKey: Uint8Array): Buffer {
  const parts = [Buffer.from('tessera/secagg/v1/advertise-keys'), Buffer.from(sessionLabel(ctx)), Buffer.from(siteId), cipherPublicKey, maskPublicKey];
  const out: Buffer[] = [];
  for (const p of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.byteLength);
    out.push(len, Buffer.from(p));
  }
  return Buffer.concat(out);
}

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };

/** Signs a site's two public keys with the private key of its site certificate (PEM, as `tessera provision` writes it). */
export function signKeys(ctx: SessionContext, siteId: string, keys: { cipherPublicKey: Buffer; maskPublicKey: Buffer }, siteKeyPem: string, certificatePem: string): SignedKeys {
  const signature = sign('sha256', keysPayload(ctx, siteId, keys.cipherPublicKey, keys.maskPublicKey), { key: siteKeyPem, ...PSS });
  return { siteId, ...keys, signature, certificatePem };
}

/**
 * Verifies a peer's advertised keys: the certificate chains to the consortium CA, is in its validity window,
 * not revoked (when a list is given), has the site role and names `keys.siteId`; and the signature over this
 * session's payload verifies with the certificate's key. A coordinator that substitutes or alters a key
 * cannot produce that signature.
 * @throws SecAggError `TESSERA_SECAGG_BAD_SIGNATURE` (wrapping the identity error, if any) when any check fails.
 */
export function verifyKeys(ctx: SessionContext, keys: SignedKeys, caCertPem: string, now: Date, revocations?: RevocationChecker): void {
  const where = { siteId: keys.siteId, round: ctx.round };
  try {
    verifyPeerCertificate({ certPem: keys.certificatePem, caCertPem, now, expectedRole: 'site', claimedId: keys.siteId, ...(revocations ? { revocations } : {}) });
  } catch (err) {
    throw new SecAggError('TESSERA_SECAGG_BAD_SIGNATURE', `keys of site ${keys.siteId} refused: certificate check failed (${err instanceof Error ? err.message : String(err)})`, where, { cause: err });
  }
  if (keys.cipherPublicKey.byteLength !== KEY_BYTES || keys.maskPublicKey.byteLength !== KEY_BYTES) {
    throw new SecAggError('TESSERA_SECAGG_BAD_KEY', `keys of site ${keys.siteId} refused: public keys must be ${KEY_BYTES} bytes`, where);
  }
  const ok = verify('sha256', keysPayload(ctx, keys.siteId, keys.cipherPublicKey, keys.maskPublicKey), { key: new X509Certificate(keys.certificatePem).publicKey, ...PSS }, keys.signature);
  if (!ok) throw new SecAggError('TESSERA_SECAGG_BAD_SIGNATURE', `keys of site ${keys.siteId} refused: signature does not verify for round ${ctx.round}`, where);
}

const NONCE = 12;
const TAG = 16;

function shareAad(ctx: SessionContext, from: string, to: string): Buffer {
  return Buffer.from(`tessera/secagg/v1/share\0${sessionLabel(ctx)}\0${from}\0${to}`);
}

/** AES-256-GCM with a random nonce; the ciphertext is `nonce ‖ ct ‖ tag`, bound to (session, sender, receiver) as AAD. */
export function encryptShare(ctx: SessionContext, key: Buffer, from: string, to: string, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(shareAad(ctx, from, to));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]);
}

/** @throws SecAggError `TESSERA_SECAGG_BAD_SHARE` when the ciphertext was altered, misrouted or replayed from another session. */
export function decryptShare(ctx: SessionContext, key: Buffer, from: string, to: string, box: Uint8Array): Buffer {
  if (box.byteLength < NONCE + TAG) throw new SecAggError('TESSERA_SECAGG_BAD_SHARE', `share from site ${from} is too short`, { siteId: from });
  const b = Buffer.from(box);
  try {
    const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, NONCE));
    d.setAAD(shareAad(ctx, from, to));
    d.setAuthTag(b.subarray(b.byteLength - TAG));
    return Buffer.concat([d.update(b.subarray(NONCE, b.byteLength - TAG)), d.final()]);
  } catch (err) {
    throw new SecAggError('TESSERA_SECAGG_BAD_SHARE', `share from site ${from} to ${to} does not decrypt for this session`, { siteId: from }, { cause: err });
  }
}
