/**
 * The one Orthanc launcher: Debian's `Orthanc` binary (with its DICOMweb plugin) started as a plain child process
 * with its own configuration, on 127.0.0.1 ports picked free (or given, for a restart on the same address), its
 * storage in a folder of its own (or a given one, kept across restarts), C-MOVE peers, and HTTPS / DICOM TLS when
 * asked. The chest-xray demo (`--pacs`), the PACS tests and the imaging bench all start Orthanc through it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './tcp-proxy.js';

/** Debian's DICOMweb plugin of Orthanc. */
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/** `$TESSERA_ORTHANC`, else `Orthanc` on the PATH, else Debian's /usr/sbin/Orthanc. */
export function orthancBinary(): string {
  return process.env['TESSERA_ORTHANC'] ?? (spawnSync('sh', ['-c', 'command -v Orthanc'], { encoding: 'utf8' }).stdout.trim() || '/usr/sbin/Orthanc');
}

/** Why Orthanc cannot be started here (not installed, or no DICOMweb plugin), or `undefined` when it can. */
export function orthancMissing(): string | undefined {
  const bin = orthancBinary();
  if (!existsSync(bin)) return `Orthanc is not installed (${bin}; Debian: apt-get install orthanc orthanc-dicomweb, or set TESSERA_ORTHANC)`;
  if (!existsSync(DICOMWEB_PLUGIN)) return `the Orthanc DICOMweb plugin is not installed (${DICOMWEB_PLUGIN}; Debian: orthanc-dicomweb)`;
  return undefined;
}

/** A DICOM peer Orthanc knows (a C-MOVE destination). */
export interface OrthancPeer {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
  /** Orthanc opens its associations to this peer over DICOM TLS. @default false */
  readonly useDicomTls?: boolean;
}

/** HTTPS and DICOM TLS of an Orthanc (file paths of PEM files). */
export interface OrthancTlsOptions {
  /** HTTPS (`SslEnabled`): `certificateAndKey` is one PEM file holding the server's private key and certificate. */
  readonly https?: {
    readonly certificateAndKey: string;
    /** CA (or certificates) whose clients Orthanc accepts; given, Orthanc requires a client certificate (`SslVerifyPeers`). */
    readonly trustedClientCertificates?: string;
  };
  /** DICOM TLS (`DicomTlsEnabled`): the DICOM port speaks TLS only. */
  readonly dicom?: {
    readonly certificate: string;
    readonly privateKey: string;
    /** Certificates (or a CA) Orthanc trusts for its DICOM peers. */
    readonly trustedCertificates: string;
    /** Peers must present a certificate. @default true */
    readonly remoteCertificateRequired?: boolean;
  };
  /** PEM texts the launcher itself uses to talk to an HTTPS Orthanc (readiness, uploads): its CA, and a client certificate when it asks for one. */
  readonly client?: { readonly ca: string; readonly cert?: string; readonly key?: string };
}

/** Options of {@link startOrthanc}. */
export interface OrthancOptions {
  /** Orthanc's `Name`. @default 'TESSERA' */
  readonly name?: string;
  /** @default 'ORTHANC' */
  readonly aeTitle?: string;
  /** Folder for the configuration (and the storage unless `storageDir`). @default a new temporary folder, removed by `close()` */
  readonly workDir?: string;
  /** Reuse this storage folder (a restart keeps the instances); never removed by `close()`. */
  readonly storageDir?: string;
  /** Reuse these ports (a restart on the same address). @default free ports on 127.0.0.1 */
  readonly httpPort?: number;
  readonly dicomPort?: number;
  /** DICOM peers Orthanc knows (C-MOVE destinations): name → [AE title, host, port] or a peer. */
  readonly modalities?: Readonly<Record<string, readonly [string, string, number] | OrthancPeer>>;
  readonly tls?: OrthancTlsOptions;
  /** Orthanc's output goes to this file (appended). @default kept in memory (last 20,000 characters, shown when it fails to start) */
  readonly logFile?: string;
  /** @default 30000 */
  readonly readyTimeoutMs?: number;
}

/** A running Orthanc. */
export interface Orthanc {
  readonly httpPort: number;
  readonly dicomPort: number;
  readonly aeTitle: string;
  /** `http://127.0.0.1:<port>` (`https://` with HTTPS). */
  readonly url: string;
  /** `<url>/dicom-web`. */
  readonly dicomWebUrl: string;
  readonly storageDir: string;
  readonly configFile: string;
  /** POSTs one file to /instances; Orthanc's status (`Success`, `AlreadyStored`) or the reason it refused. */
  upload(file: string): Promise<{ ok: boolean; status: string; sopInstanceUid?: string }>;
  /** Stops the process (SIGTERM, then SIGKILL after 10 s); keeps the storage. */
  stop(): Promise<void>;
  /** Stops it if it runs, then starts it again with the same configuration (ports, storage, TLS). */
  restart(): Promise<void>;
  /** Stops and removes what the launcher created (its temporary folder; a given `storageDir` or `workDir` stays). */
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: Buffer;
}

/** One request to Orthanc's REST API (node:http/https, so HTTPS with a private CA and a client certificate works). */
function request(url: URL, opts: { method?: string; body?: Buffer; headers?: Record<string, string>; tls?: OrthancTlsOptions['client'] }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t = opts.tls;
    const tlsOptions = url.protocol === 'https:' && t !== undefined ? { ca: t.ca, ...(t.cert !== undefined ? { cert: t.cert } : {}), ...(t.key !== undefined ? { key: t.key } : {}) } : {};
    const req = (url.protocol === 'https:' ? https : http).request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false, ...tlsOptions }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function waitReady(url: string, child: ChildProcess, tls: OrthancTlsOptions['client'], log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Orthanc exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${log()}`);
    try {
      // The DICOMweb plugin answers once it is loaded.
      const web = await request(new URL(`${url}/dicom-web/studies?limit=1`), { headers: { accept: 'application/dicom+json' }, tls });
      if (web.status === 200 || web.status === 204) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Orthanc did not become ready within ${timeoutMs} ms:\n${log()}`);
}

function peer(v: readonly [string, string, number] | OrthancPeer): unknown {
  if (!('aeTitle' in v)) return [...v];
  return v.useDicomTls === true ? { AET: v.aeTitle, Host: v.host, Port: v.port, UseDicomTls: true } : [v.aeTitle, v.host, v.port];
}

function orthancConfig(o: { name: string; aeTitle: string; storageDir: string; httpPort: number; dicomPort: number; opts: OrthancOptions }): Record<string, unknown> {
  const { https: web, dicom } = o.opts.tls ?? {};
  return {
    Name: o.name,
    StorageDirectory: o.storageDir,
    IndexDirectory: o.storageDir,
    HttpPort: o.httpPort,
    DicomPort: o.dicomPort,
    DicomAet: o.aeTitle,
    HttpBindAddress: '127.0.0.1',
    DicomBindAddress: '127.0.0.1',
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpTimeout: 60,
    KeepAlive: true,
    ConcurrentJobs: 2,
    HttpThreadsCount: 8,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, StudiesMetadata: 'MainDicomTags', SeriesMetadata: 'MainDicomTags' },
    DicomAlwaysAllowEcho: true,
    DicomAlwaysAllowFind: true,
    DicomAlwaysAllowGet: true,
    DicomAlwaysAllowMove: true,
    DicomCheckCalledAet: false,
    UnknownSopClassAccepted: true,
    DicomModalities: Object.fromEntries(Object.entries(o.opts.modalities ?? {}).map(([k, v]) => [k, peer(v)])),
    StableAge: 1,
    SaveJobs: false,
    ...(web !== undefined
      ? {
          SslEnabled: true,
          SslCertificate: web.certificateAndKey,
          SslVerifyPeers: web.trustedClientCertificates !== undefined,
          ...(web.trustedClientCertificates !== undefined ? { SslTrustedClientCertificates: web.trustedClientCertificates } : {}),
        }
      : {}),
    ...(dicom !== undefined
      ? {
          DicomTlsEnabled: true,
          DicomTlsCertificate: dicom.certificate,
          DicomTlsPrivateKey: dicom.privateKey,
          DicomTlsTrustedCertificates: dicom.trustedCertificates,
          DicomTlsRemoteCertificateRequired: dicom.remoteCertificateRequired ?? true,
        }
      : {}),
  };
}

/** Starts Orthanc; resolves once HTTP(S) and DICOMweb answer. A start that fails kills the process and removes what it created. */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<Orthanc> {
  const ownWork = opts.workDir === undefined;
  const work = opts.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'tessera-orthanc-'));
  mkdirSync(work, { recursive: true });
  const storageDir = opts.storageDir ?? path.join(work, 'storage');
  const httpPort = opts.httpPort ?? (await freePort());
  const dicomPort = opts.dicomPort ?? (await freePort());
  const aeTitle = opts.aeTitle ?? 'ORTHANC';
  const configFile = path.join(work, 'orthanc.json');
  writeFileSync(configFile, JSON.stringify(orthancConfig({ name: opts.name ?? 'TESSERA', aeTitle, storageDir, httpPort, dicomPort, opts }), null, 2));
  const url = `${opts.tls?.https !== undefined ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  const client = opts.tls?.client;
  let child: ChildProcess | undefined;
  let output = '';
  const log = (): string => (opts.logFile !== undefined ? `see ${opts.logFile}` : output);
  // However the parent ends, its Orthanc does not outlive it.
  const onExit = (): void => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const start = async (): Promise<void> => {
    let fd: number | undefined;
    if (opts.logFile !== undefined) fd = openSync(opts.logFile, 'a');
    const c = spawn(orthancBinary(), [configFile], { stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'] });
    if (fd !== undefined) closeSync(fd);
    child = c;
    c.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    c.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    process.once('exit', onExit);
    c.once('exit', () => process.removeListener('exit', onExit));
    try {
      await waitReady(url, c, client, log, opts.readyTimeoutMs ?? 30_000);
    } catch (err) {
      c.kill('SIGKILL');
      throw err;
    }
  };
  try {
    await start();
  } catch (err) {
    if (ownWork) rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return {
    httpPort,
    dicomPort,
    aeTitle,
    url,
    dicomWebUrl: `${url}/dicom-web`,
    storageDir,
    configFile,
    async upload(file) {
      const res = await request(new URL(`${url}/instances`), { method: 'POST', body: await readFile(file), headers: { 'content-type': 'application/dicom' }, tls: client });
      if (res.status < 200 || res.status >= 300) return { ok: false, status: `HTTP ${res.status}` };
      const body = JSON.parse(res.body.toString('utf8')) as { Status?: string; ID?: string };
      const status = body.Status ?? 'unknown';
      let sopInstanceUid: string | undefined;
      if (body.ID !== undefined) {
        const tags = await request(new URL(`${url}/instances/${body.ID}/simplified-tags`), { tls: client });
        sopInstanceUid = (JSON.parse(tags.body.toString('utf8')) as { SOPInstanceUID?: string }).SOPInstanceUID;
      }
      return { ok: status === 'Success' || status === 'AlreadyStored', status, ...(sopInstanceUid !== undefined ? { sopInstanceUid } : {}) };
    },
    stop,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      if (ownWork) rmSync(work, { recursive: true, force: true });
      else rmSync(configFile, { force: true });
    },
  };
}
