import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../../shared/src/audit/index.js';
import { parseConsortiumConfig } from '../../../shared/src/config/consortium-config.js';
import { RevocationStore, verifyPeerCertificate } from '../../../shared/src/pki/index.js';
import { type ProvisionSummary, provisionConsortium, revokeCertificate } from '../../../coordinator/src/pki/index.js';
import { daysFromNow, makeTempDir, NOW } from './pki-fixtures.js';

const CONFIG = parseConsortiumConfig(
  `
name: Nordic Imaging Consortium
coordinator:
  host: fl.example.org
  port: 9443
sites:
  - id: st-olav
    displayName: St. Olavs hospital
  - id: haukeland
operators:
  - { id: ana, role: operator }
  - { id: bo, role: site-admin, site: haukeland }
validityDays: 90
`,
  'consortium.yaml',
);

function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

describe('provisionConsortium', () => {
  let base: string;
  let out: string;
  let summary: ProvisionSummary;

  beforeAll(() => {
    base = makeTempDir('provision');
    out = path.join(base, 'out');
    summary = provisionConsortium(CONFIG, out, NOW);
  });

  it('writes the CA, coordinator, a kit per site and per operator, with keys 0600', () => {
    // Arrange
    const f = (rel: string): string => path.join(out, rel);
    const keys = ['ca/ca.key', 'coordinator/server.key', 'sites/st-olav/site.key', 'sites/haukeland/site.key', 'operators/ana/operator.key', 'operators/bo/operator.key', 'operators/ana/token'];
    const publicFiles = ['ca/ca.crt', 'ca/revocations.json', 'coordinator/server.crt', 'coordinator/ca.crt', 'coordinator/revocations.json', 'coordinator/operators.json', 'sites/st-olav/site.crt', 'sites/st-olav/ca.crt', 'sites/st-olav/kit.json', 'operators/bo/ca.crt', 'manifest.json'];
    // Act
    const missing = [...keys, ...publicFiles].filter((rel) => !existsSync(f(rel)));
    // Assert
    expect(missing).toEqual([]);
    for (const key of keys) expect(modeOf(f(key)), key).toBe(0o600);
    expect(readdirSync(f('sites')).sort()).toEqual(['haukeland', 'st-olav']);
    expect(readJson(f('sites/st-olav/kit.json'))).toEqual({
      siteId: 'st-olav',
      coordinator: 'fl.example.org:9443',
      consortium: 'Nordic Imaging Consortium',
      certificate: 'site.crt',
      key: 'site.key',
      ca: 'ca.crt',
    });
  });

  it('issues certificates that verify with the right role and a coordinator SAN naming the host', () => {
    // Arrange
    const caCertPem = readFileSync(path.join(out, 'sites/haukeland/ca.crt'), 'utf8');
    const server = new X509Certificate(readFileSync(path.join(out, 'coordinator/server.crt')));
    // Act
    const site = verifyPeerCertificate({ certPem: readFileSync(path.join(out, 'sites/haukeland/site.crt'), 'utf8'), caCertPem, now: NOW, expectedRole: 'site', claimedId: 'haukeland' });
    const operator = verifyPeerCertificate({ certPem: readFileSync(path.join(out, 'operators/bo/operator.crt'), 'utf8'), caCertPem, now: NOW, expectedRole: 'operator' });
    // Assert
    expect(site.notAfter).toEqual(daysFromNow(90));
    expect(operator.id).toBe('bo');
    expect(server.checkHost('fl.example.org')).toBe('fl.example.org');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('stores token hashes, never tokens, and a manifest without secrets', () => {
    // Arrange
    const token = readFileSync(path.join(out, 'operators/ana/token'), 'utf8').trim();
    const operatorsJson = readFileSync(path.join(out, 'coordinator/operators.json'), 'utf8');
    const manifestJson = readFileSync(path.join(out, 'manifest.json'), 'utf8');
    // Act
    const hashes = JSON.parse(operatorsJson) as { operators: { id: string; tokenSha256: string }[] };
    // Assert
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(hashes.operators.find((o) => o.id === 'ana')?.tokenSha256).toBe(createHash('sha256').update(token).digest('hex'));
    expect(operatorsJson).not.toContain(token);
    expect(manifestJson).not.toContain(token);
    expect(manifestJson).not.toContain('PRIVATE KEY');
    expect(summary.manifest.certificates.map((c) => `${c.role}:${c.id}`)).toEqual(['coordinator:coordinator', 'site:st-olav', 'site:haukeland', 'operator:ana', 'operator:bo']);
    expect(summary.manifest.certificates.find((c) => c.id === 'bo')).toMatchObject({ accessRole: 'site-admin', site: 'haukeland' });
  });

  it('refuses a non-empty output folder unless forced, and keeps unrelated files when forced', () => {
    // Arrange
    const dir = path.join(base, 'occupied');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
    // Act + Assert
    expect(() => provisionConsortium(CONFIG, dir, NOW)).toThrow(expect.objectContaining({ code: 'TESSERA_PROVISION_OUT_DIR_NOT_EMPTY' }));
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    provisionConsortium(CONFIG, dir, NOW, { force: true });
    expect(readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(path.join(dir, 'manifest.json'))).toBe(true);
  });

  it('revokes by id: signed list updated in ca/ and coordinator/, and a running store sees it', () => {
    // Arrange
    const caCertPem = readFileSync(path.join(out, 'ca/ca.crt'), 'utf8');
    const clock = { ms: 0 };
    const store = RevocationStore.open({ path: path.join(out, 'coordinator/revocations.json'), caCertPem, nowMs: () => clock.ms });
    const serial = summary.manifest.certificates.find((c) => c.id === 'st-olav')!.serial;
    // Act
    const result = revokeCertificate({ caDir: path.join(out, 'ca'), id: 'st-olav', reason: 'key compromised', now: daysFromNow(1) });
    clock.ms = 1000;
    // Assert
    expect(result).toMatchObject({ id: 'st-olav', serial, alreadyRevoked: false });
    expect(result.written).toHaveLength(4);
    expect(result.ledgerProblem).toBeUndefined();
    // The provisioning ledger, signed by the CA, records every certificate issued and now the revocation.
    const ledger = verifyLedger(readFileSync(path.join(out, 'coordinator/provision-ledger.jsonl'), 'utf8'), { caPem: caCertPem });
    expect(ledger.report.firstBad).toBeNull();
    expect(ledger.entries.filter((e) => e.kind === 'provision.certificate').map((e) => e.details['id'])).toEqual(summary.manifest.certificates.map((c) => c.id));
    expect(ledger.entries.at(-1)).toMatchObject({ kind: 'certificate.revoked', actor: 'ca', details: { id: 'st-olav', serial, reason: 'key compromised' } });
    expect(readFileSync(path.join(out, 'ca/revocations.json'), 'utf8')).toBe(readFileSync(path.join(out, 'coordinator/revocations.json'), 'utf8'));
    expect(store.isRevoked(serial)).toBe(true);
    expect(() =>
      verifyPeerCertificate({ certPem: readFileSync(path.join(out, 'sites/st-olav/site.crt'), 'utf8'), caCertPem, now: NOW, revocations: store }),
    ).toThrow(expect.objectContaining({ code: 'TESSERA_IDENTITY_REVOKED' }));
    expect(revokeCertificate({ caDir: out, serial: serial.toUpperCase(), reason: 'again', now: daysFromNow(2) }).alreadyRevoked).toBe(true);
  });

  it('refuses a hand-built config whose site id would escape the output folder', () => {
    // Arrange
    const evil = { ...CONFIG, sites: [{ id: '../escape' }] };
    // Act + Assert
    expect(() => provisionConsortium(evil, path.join(base, 'evil'), NOW)).toThrow(expect.objectContaining({ code: 'TESSERA_CONFIG_INVALID' }));
    expect(existsSync(path.join(base, 'evil'))).toBe(false);
  });

  it('refuses to revoke an id that is not in the manifest', () => {
    // Act + Assert
    expect(() => revokeCertificate({ caDir: out, id: 'nobody', reason: 'x', now: NOW })).toThrow(expect.objectContaining({ code: 'TESSERA_PROVISION_NOT_FOUND' }));
  });
});
