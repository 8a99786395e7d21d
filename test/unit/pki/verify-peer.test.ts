import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { IdentityError } from '../../../shared/src/errors.js';
import { verifyPeerCertificate } from '../../../shared/src/pki/index.js';
import { type CaMaterial, createConsortiumCa, type IssuedCertificate, issueCertificate } from '../../../coordinator/src/pki/index.js';
import { daysFromNow, NOW } from './pki-fixtures.js';

function expectIdentityError(fn: () => unknown, code: string, ...fragments: string[]): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(IdentityError);
  const error = thrown as IdentityError;
  expect(error.code).toBe(code);
  for (const fragment of fragments) expect(error.message).toContain(fragment);
}

describe('verifyPeerCertificate', () => {
  let ca: CaMaterial;
  let foreignCa: CaMaterial;
  let site: IssuedCertificate;

  beforeAll(() => {
    ca = createConsortiumCa({ name: 'Nordic Imaging Consortium', validityDays: 3660, now: NOW });
    foreignCa = createConsortiumCa({ name: 'Somebody Else', validityDays: 3660, now: NOW });
    site = issueCertificate({ ca, role: 'site', id: 'st-olav', displayName: 'St. Olavs hospital', validityDays: 365, now: NOW });
  });

  it('accepts a site certificate from our CA and reads back id, role and serial', () => {
    // Arrange: site certificate issued in beforeAll.
    // Act
    const identity = verifyPeerCertificate({ certPem: site.certPem, caCertPem: ca.certPem, now: NOW, expectedRole: 'site', claimedId: 'st-olav' });
    // Assert
    expect(identity.id).toBe('st-olav');
    expect(identity.role).toBe('site');
    expect(identity.serial).toBe(site.serial);
    expect(identity.serial).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(identity.notAfter).toEqual(daysFromNow(365));
    expect(identity.fingerprint256).toBe(new X509Certificate(site.certPem).fingerprint256);
  });

  it('accepts the DER form as well as PEM', () => {
    // Arrange
    const der = new X509Certificate(site.certPem).raw;
    // Act
    const identity = verifyPeerCertificate({ certDer: der, caCertPem: ca.certPem, now: NOW });
    // Assert
    expect(identity.id).toBe('st-olav');
  });

  it('builds a CA with CA:true and leaves with the right extensions (read by OpenSSL)', () => {
    // Arrange
    const coordinator = issueCertificate({ ca, role: 'coordinator', id: 'coordinator', validityDays: 30, now: NOW, dnsNames: ['fl.example.org'], ipAddresses: ['10.0.0.5'] });
    // Act
    const caX509 = new X509Certificate(ca.certPem);
    const coordX509 = new X509Certificate(coordinator.certPem);
    const siteX509 = new X509Certificate(site.certPem);
    // Assert
    expect(caX509.ca).toBe(true);
    expect(siteX509.ca).toBe(false);
    expect(coordX509.checkHost('localhost')).toBe('localhost');
    expect(coordX509.checkHost('fl.example.org')).toBe('fl.example.org');
    expect(coordX509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(coordX509.checkIP('10.0.0.5')).toBe('10.0.0.5');
    expect(coordX509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(siteX509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(siteX509.subject).toContain('OU=site');
    expect(siteX509.subject).toContain('CN=st-olav');
  });

  it('chains correctly under a non-ASCII consortium name and keeps a non-ASCII display name', () => {
    // Arrange
    const accentedCa = createConsortiumCa({ name: 'Hôpitaux Réunis', validityDays: 3660, now: NOW });
    const leaf = issueCertificate({ ca: accentedCa, role: 'site', id: 'st-louis', displayName: 'Hôpital Saint-Louis', validityDays: 30, now: NOW });
    // Act
    const identity = verifyPeerCertificate({ certPem: leaf.certPem, caCertPem: accentedCa.certPem, now: NOW });
    const x509 = new X509Certificate(leaf.certPem);
    // Assert
    expect(identity.id).toBe('st-louis');
    expect(x509.issuer).toBe(new X509Certificate(accentedCa.certPem).subject);
    expect(x509.subject).toContain('Hôpital Saint-Louis');
  });

  it('refuses a certificate from another CA with UNKNOWN_CA', () => {
    // Arrange
    const impostor = issueCertificate({ ca: foreignCa, role: 'site', id: 'st-olav', validityDays: 365, now: NOW });
    // Act + Assert
    expectIdentityError(
      () => verifyPeerCertificate({ certPem: impostor.certPem, caCertPem: ca.certPem, now: NOW }),
      'TESSERA_IDENTITY_UNKNOWN_CA',
      'CN=st-olav',
      impostor.serial,
      'not issued by the consortium CA',
    );
  });

  it('refuses the CA certificate itself as a peer', () => {
    // Act + Assert
    expectIdentityError(() => verifyPeerCertificate({ certPem: ca.certPem, caCertPem: ca.certPem, now: NOW }), 'TESSERA_IDENTITY_MALFORMED');
  });

  it('refuses an expired certificate with EXPIRED', () => {
    // Arrange
    const old = issueCertificate({ ca, role: 'site', id: 'old-site', validityDays: 1, now: NOW, notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
    // Act + Assert
    expectIdentityError(
      () => verifyPeerCertificate({ certPem: old.certPem, caCertPem: ca.certPem, now: NOW }),
      'TESSERA_IDENTITY_EXPIRED',
      "site certificate 'old-site'",
      old.serial,
      'expired at',
    );
  });

  it('refuses a not-yet-valid certificate with NOT_YET_VALID', () => {
    // Arrange
    const future = issueCertificate({ ca, role: 'site', id: 'future-site', validityDays: 1, now: NOW, notBefore: daysFromNow(2), notAfter: daysFromNow(30) });
    // Act + Assert
    expectIdentityError(
      () => verifyPeerCertificate({ certPem: future.certPem, caCertPem: ca.certPem, now: NOW }),
      'TESSERA_IDENTITY_NOT_YET_VALID',
      "'future-site'",
      'not valid until',
    );
  });

  it('refuses a revoked certificate with REVOKED', () => {
    // Arrange
    const revocations = { isRevoked: (serial: string): boolean => serial === site.serial };
    // Act + Assert
    expectIdentityError(
      () => verifyPeerCertificate({ certPem: site.certPem, caCertPem: ca.certPem, now: NOW, revocations }),
      'TESSERA_IDENTITY_REVOKED',
      "site certificate 'st-olav'",
      site.serial,
      'revoked',
    );
  });

  it('refuses a site certificate where an operator is expected with WRONG_ROLE', () => {
    // Act + Assert
    expectIdentityError(
      () => verifyPeerCertificate({ certPem: site.certPem, caCertPem: ca.certPem, now: NOW, expectedRole: 'operator' }),
      'TESSERA_IDENTITY_WRONG_ROLE',
      "role 'site' where 'operator' is required",
    );
  });

  it('refuses a peer claiming another site id with SITE_MISMATCH', () => {
    // Act + Assert
    expectIdentityError(
      () => verifyPeerCertificate({ certPem: site.certPem, caCertPem: ca.certPem, now: NOW, claimedId: 'haukeland' }),
      'TESSERA_IDENTITY_SITE_MISMATCH',
      "claims to be 'haukeland'",
      "for 'st-olav'",
    );
  });

  it('refuses to issue a certificate that outlives the CA', () => {
    // Act + Assert
    expectIdentityError(
      () => issueCertificate({ ca, role: 'site', id: 'x', validityDays: 5000, now: NOW }),
      'TESSERA_IDENTITY_MALFORMED',
      "after the CA's",
    );
  });

  it('refuses garbage input with MALFORMED', () => {
    // Act + Assert
    expectIdentityError(() => verifyPeerCertificate({ certPem: 'not a cert', caCertPem: ca.certPem, now: NOW }), 'TESSERA_IDENTITY_MALFORMED');
  });
});
