import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IdentityError } from '../../../shared/src/errors.js';
import { createRevocationList, revoke, RevocationStore, verifyRevocationList } from '../../../shared/src/pki/index.js';
import { type CaMaterial, createConsortiumCa } from '../../../coordinator/src/pki/index.js';
import { daysFromNow, makeTempDir, NOW } from './pki-fixtures.js';

const SERIAL_A = '4a0b1c2d3e4f50617283940a1b2c3d4e';
const SERIAL_B = '5f0b1c2d3e4f50617283940a1b2c3d4e';

/** Writes via a temp file and rename, as provisioning does, so a reader never sees half a file. */
function writeAtomic(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(value));
  renameSync(`${file}.tmp`, file);
}

describe('signed revocation list', () => {
  let ca: CaMaterial;
  let otherCa: CaMaterial;

  beforeAll(() => {
    ca = createConsortiumCa({ name: 'Nordic Imaging Consortium', validityDays: 3660, now: NOW });
    otherCa = createConsortiumCa({ name: 'Nordic Imaging Consortium', validityDays: 3660, now: NOW });
  });

  it('creates an empty list and revokes a serial, both verifying against the CA', () => {
    // Arrange
    const empty = createRevocationList(ca, NOW);
    // Act
    const list = revoke(empty, ca, { serial: '4A:0B:1C:2D:3E:4F:50:61:72:83:94:0A:1B:2C:3D:4E', id: 'st-olav', reason: 'laptop stolen' }, daysFromNow(1));
    // Assert
    expect(verifyRevocationList(empty, ca.certPem).revoked).toEqual([]);
    expect(verifyRevocationList(list, ca.certPem).revoked).toEqual([
      { serial: SERIAL_A, id: 'st-olav', reason: 'laptop stolen', revokedAt: daysFromNow(1).toISOString() },
    ]);
    expect(list.issuer).toBe('Nordic Imaging Consortium');
    expect(list.updatedAt).toBe(daysFromNow(1).toISOString());
  });

  it.each([
    ['an entry removed', (l: Record<string, unknown>) => ({ ...l, revoked: [] })],
    ['the date changed', (l: Record<string, unknown>) => ({ ...l, updatedAt: daysFromNow(9).toISOString() })],
    ['the signature garbled', (l: Record<string, unknown>) => ({ ...l, signature: 'AAAA' })],
    ['an extra key', (l: Record<string, unknown>) => ({ ...l, note: 'hi' })],
  ])('refuses a tampered list (%s) with CRL_INVALID', (_label, tamper) => {
    // Arrange
    const list = revoke(createRevocationList(ca, NOW), ca, { serial: SERIAL_A, id: 'st-olav', reason: 'test' }, NOW);
    // Act + Assert
    expect(() => verifyRevocationList(tamper(list), ca.certPem)).toThrow(expect.objectContaining({ code: 'TESSERA_IDENTITY_CRL_INVALID' }));
  });

  it('refuses a list signed by a different CA with the same name', () => {
    // Arrange
    const list = createRevocationList(otherCa, NOW);
    // Act + Assert
    expect(() => verifyRevocationList(list, ca.certPem)).toThrow(/signature does not verify/);
  });

  it('will not re-sign a tampered list', () => {
    // Arrange
    const tampered = { ...createRevocationList(ca, NOW), updatedAt: daysFromNow(5).toISOString() };
    // Act + Assert
    expect(() => revoke(tampered, ca, { serial: SERIAL_A, id: 'x', reason: 'y' }, NOW)).toThrow(expect.objectContaining({ code: 'TESSERA_IDENTITY_CRL_INVALID' }));
  });
});

describe('RevocationStore', () => {
  let ca: CaMaterial;
  let dir: string;

  beforeAll(() => {
    ca = createConsortiumCa({ name: 'Nordic Imaging Consortium', validityDays: 3660, now: NOW });
    dir = makeTempDir('crl');
  });

  function setup(name: string): { file: string; clock: { ms: number }; errors: IdentityError[]; store: RevocationStore } {
    const file = path.join(dir, name);
    writeAtomic(file, createRevocationList(ca, NOW));
    const clock = { ms: 0 };
    const errors: IdentityError[] = [];
    const store = RevocationStore.open({ path: file, caCertPem: ca.certPem, nowMs: () => clock.ms, onError: (e) => errors.push(e) });
    return { file, clock, errors, store };
  }

  it('picks up a rewritten file without a restart, checking at most once per second', () => {
    // Arrange
    const { file, clock, errors, store } = setup('pickup.json');
    expect(store.isRevoked(SERIAL_A)).toBe(false);
    // Act
    writeAtomic(file, revoke(store.list, ca, { serial: SERIAL_A, id: 'st-olav', reason: 'compromised' }, daysFromNow(1)));
    clock.ms = 500;
    const withinThrottle = store.isRevoked(SERIAL_A);
    clock.ms = 1000;
    const afterThrottle = store.isRevoked(SERIAL_A.toUpperCase());
    // Assert
    expect(withinThrottle).toBe(false);
    expect(afterThrottle).toBe(true);
    expect(errors).toEqual([]);
  });

  it('keeps the last good list when the new file is tampered, and reports it once', () => {
    // Arrange
    const { file, clock, errors, store } = setup('tampered.json');
    const good = revoke(store.list, ca, { serial: SERIAL_A, id: 'st-olav', reason: 'compromised' }, daysFromNow(1));
    writeAtomic(file, good);
    store.reload();
    // Act: someone removes the entry without being able to re-sign.
    writeAtomic(file, { ...good, revoked: [] });
    clock.ms = 1000;
    const first = store.isRevoked(SERIAL_A);
    clock.ms = 2000;
    const second = store.isRevoked(SERIAL_A);
    // Assert
    expect(first).toBe(true);
    expect(second).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(['TESSERA_IDENTITY_CRL_INVALID']);
    expect(errors[0]!.message).toContain('tampered.json');
    expect(() => store.reload()).toThrow(/signature does not verify/);
  });

  it('keeps the last good list when the file vanishes or is replaced by an older one', () => {
    // Arrange
    const { file, clock, errors, store } = setup('vanish.json');
    const older = store.list;
    writeAtomic(file, revoke(older, ca, { serial: SERIAL_B, id: 'haukeland', reason: 'left consortium' }, daysFromNow(2)));
    store.reload();
    // Act
    rmSync(file);
    clock.ms = 1000;
    const afterLoss = store.isRevoked(SERIAL_B);
    writeAtomic(file, older);
    clock.ms = 2000;
    const afterReplay = store.isRevoked(SERIAL_B);
    // Assert
    expect(afterLoss).toBe(true);
    expect(afterReplay).toBe(true);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('vanished'), expect.stringContaining('older than')]);
  });

  it('fails closed at startup when there is no list', () => {
    // Act + Assert
    expect(() => RevocationStore.open({ path: path.join(dir, 'missing.json'), caCertPem: ca.certPem })).toThrow(
      expect.objectContaining({ code: 'TESSERA_IDENTITY_CRL_INVALID' }),
    );
  });

  it('never throws from isRevoked, even when onError throws', () => {
    // Arrange
    const file = path.join(dir, 'throwing.json');
    writeAtomic(file, createRevocationList(ca, NOW));
    const clock = { ms: 0 };
    const store = RevocationStore.open({ path: file, caCertPem: ca.certPem, nowMs: () => clock.ms, onError: () => { throw new Error('boom'); } });
    writeFileSync(file, '{ not json');
    clock.ms = 5000;
    // Act + Assert
    expect(store.isRevoked(SERIAL_A)).toBe(false);
  });
});
