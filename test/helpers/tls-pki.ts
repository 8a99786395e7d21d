/**
 * A throw-away hospital PKI for TLS tests, made with the `openssl` command at test time in a temporary folder: a
 * CA, a server certificate for 127.0.0.1/localhost (the PACS: HTTPS and DICOM TLS, also a TLS client for
 * C-MOVE), a client certificate (the site agent, also its storage SCP's server certificate), and a client
 * certificate from another CA (one the PACS must refuse). Keys are unencrypted PKCS#8 PEM, 0600.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Paths of one certificate and its key, and the two concatenated (key first, as Orthanc's SslCertificate wants). */
export interface IssuedPem {
  readonly cert: string;
  readonly key: string;
  readonly pem: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly server: IssuedPem;
  readonly client: IssuedPem;
  /** Signed by another CA: no PACS of this PKI trusts it. */
  readonly rogueClient: IssuedPem;
  /** PEM text of a file. */
  read(file: string): string;
  remove(): void;
}

/** Why the PKI cannot be made here (no openssl), or `undefined`. */
export function opensslSkipReason(): string | undefined {
  return spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed';
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function issue(dir: string, ca: string, name: string, cn: string): IssuedPem {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(
    path.join(dir, `${name}.ext`),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-sha256', '-extfile', `${name}.ext`]);
  const pem = path.join(dir, `${name}.pem`);
  writeFileSync(pem, readFileSync(path.join(dir, `${name}.key`), 'utf8') + readFileSync(path.join(dir, `${name}.crt`), 'utf8'), { mode: 0o600 });
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), pem };
}

/** Makes the PKI in a new temporary folder. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-pki-'));
  makeCa(dir, 'hospital-ca');
  makeCa(dir, 'rogue-ca');
  return {
    dir,
    ca: path.join(dir, 'hospital-ca.crt'),
    server: issue(dir, 'hospital-ca', 'pacs', 'pacs.hospital.test'),
    client: issue(dir, 'hospital-ca', 'site', 'tessera-site'),
    rogueClient: issue(dir, 'rogue-ca', 'rogue', 'someone-else'),
    read: (file) => readFileSync(file, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
