import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createConsortiumCa, issueCertificate, type CaMaterial, type IssuedCertificate } from '../../../coordinator/src/pki/index.js';
import {
  decryptShare,
  encryptShare,
  generateX25519,
  pairwiseKey,
  signKeys,
  verifyKeys,
  type SessionContext,
} from '../../../shared/src/secagg/index.js';

const now = new Date('2026-03-01T12:00:00Z');
const ctx: SessionContext = { studyId: 's1', round: 3, attempt: 1 };

describe('SecAgg keys: X25519 + HKDF, signatures bound to site certificates, AES-GCM shares', () => {
  let ca: CaMaterial;
  let foreignCa: CaMaterial;
  let a: IssuedCertificate;
  let b: IssuedCertificate;
  let operator: IssuedCertificate;
  let foreign: IssuedCertificate;
  beforeAll(() => {
    ca = createConsortiumCa({ name: 'C', validityDays: 365, now });
    foreignCa = createConsortiumCa({ name: 'C', validityDays: 365, now });
    a = issueCertificate({ ca, role: 'site', id: 'site-a', validityDays: 30, now });
    b = issueCertificate({ ca, role: 'site', id: 'site-b', validityDays: 30, now });
    operator = issueCertificate({ ca, role: 'operator', id: 'site-b', validityDays: 30, now });
    foreign = issueCertificate({ ca: foreignCa, role: 'site', id: 'site-a', validityDays: 30, now });
  }, 120_000);

  it('both ends derive the same 256-bit seed; purposes and sessions give different keys', () => {
    const ka = generateX25519();
    const kb = generateX25519();
    const ab = pairwiseKey(ctx, 'mask', { id: 'site-a', privateKey: ka.privateKey }, { id: 'site-b', publicKey: kb.publicKey });
    const ba = pairwiseKey(ctx, 'mask', { id: 'site-b', privateKey: kb.privateKey }, { id: 'site-a', publicKey: ka.publicKey });
    expect(ab.byteLength).toBe(32);
    expect(ab.equals(ba)).toBe(true);
    expect(pairwiseKey(ctx, 'share-encryption', { id: 'site-a', privateKey: ka.privateKey }, { id: 'site-b', publicKey: kb.publicKey }).equals(ab)).toBe(false);
    expect(pairwiseKey({ ...ctx, round: 4 }, 'mask', { id: 'site-a', privateKey: ka.privateKey }, { id: 'site-b', publicKey: kb.publicKey }).equals(ab)).toBe(false);
  });

  it('accepts genuinely signed keys', () => {
    const keys = signKeys(ctx, 'site-a', { cipherPublicKey: generateX25519().publicKey, maskPublicKey: generateX25519().publicKey }, a.keyPem, a.certPem);
    expect(() => verifyKeys(ctx, keys, ca.certPem, now)).not.toThrow();
  });

  it('rejects a substituted key, a tampered key, a replay into another round, a foreign CA, a wrong role and a borrowed certificate', () => {
    const keys = signKeys(ctx, 'site-a', { cipherPublicKey: generateX25519().publicKey, maskPublicKey: generateX25519().publicKey }, a.keyPem, a.certPem);
    // a coordinator swaps in its own mask key
    expect(() => verifyKeys(ctx, { ...keys, maskPublicKey: generateX25519().publicKey }, ca.certPem, now)).toThrow(/signature does not verify/);
    // one bit flipped in the cipher key
    const flipped = Buffer.from(keys.cipherPublicKey);
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(() => verifyKeys(ctx, { ...keys, cipherPublicKey: flipped }, ca.certPem, now)).toThrow(/signature does not verify/);
    // the same signed keys replayed in the next round or attempt
    expect(() => verifyKeys({ ...ctx, round: 4 }, keys, ca.certPem, now)).toThrow(/signature does not verify/);
    expect(() => verifyKeys({ ...ctx, attempt: 2 }, keys, ca.certPem, now)).toThrow(/signature does not verify/);
    // keys signed under a certificate from another consortium
    const foreignKeys = signKeys(ctx, 'site-a', { cipherPublicKey: keys.cipherPublicKey, maskPublicKey: keys.maskPublicKey }, foreign.keyPem, foreign.certPem);
    expect(() => verifyKeys(ctx, foreignKeys, ca.certPem, now)).toThrow(/certificate check failed.*consortium CA/);
    // an operator certificate of the same CN cannot speak for a site
    const opKeys = signKeys(ctx, 'site-b', { cipherPublicKey: keys.cipherPublicKey, maskPublicKey: keys.maskPublicKey }, operator.keyPem, operator.certPem);
    expect(() => verifyKeys(ctx, opKeys, ca.certPem, now)).toThrow(/role/);
    // site-b's certificate presented with keys claiming to be site-a
    const borrowed = signKeys(ctx, 'site-a', { cipherPublicKey: keys.cipherPublicKey, maskPublicKey: keys.maskPublicKey }, b.keyPem, b.certPem);
    expect(() => verifyKeys(ctx, borrowed, ca.certPem, now)).toThrow(/certificate check failed/);
    // an expired certificate
    expect(() => verifyKeys(ctx, keys, ca.certPem, new Date(now.getTime() + 40 * 86_400_000))).toThrow(/expired/);
  });

  it('encrypted shares decrypt only for their (session, sender, receiver) and detect tampering', () => {
    const key = randomBytes(32);
    const plain = randomBytes(68);
    const box = encryptShare(ctx, key, 'site-a', 'site-b', plain);
    expect(box.byteLength).toBe(12 + 68 + 16);
    expect(decryptShare(ctx, key, 'site-a', 'site-b', box).equals(plain)).toBe(true);
    expect(() => decryptShare(ctx, key, 'site-a', 'site-c', box)).toThrow(/does not decrypt/);
    expect(() => decryptShare({ ...ctx, round: 9 }, key, 'site-a', 'site-b', box)).toThrow(/does not decrypt/);
    const bad = Buffer.from(box);
    bad[20] = (bad[20] as number) ^ 0x80;
    expect(() => decryptShare(ctx, key, 'site-a', 'site-b', bad)).toThrow(/does not decrypt/);
  });
});
