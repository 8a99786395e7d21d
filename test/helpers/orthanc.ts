/**
 * A real Orthanc for PACS tests and benchmarks: Debian's `Orthanc` binary started as a plain child process
 * with its own temporary storage, HTTP and DICOM ports picked free on 127.0.0.1, the DICOMweb plugin and an
 * AE title; instances are loaded by POSTing them to /instances. `orthancSkipReason()` says why tests must
 * skip (Orthanc or its DICOMweb plugin is not installed); everything else fails loudly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { freePort } from '../../cli/src/local-federation/tcp-proxy.js';
import os from 'node:os';
import path from 'node:path';

/** `$TESSERA_ORTHANC`, else `Orthanc` on the PATH, else Debian's /usr/sbin/Orthanc. */
export const ORTHANC_BIN =
  process.env['TESSERA_ORTHANC'] ?? (spawnSync('sh', ['-c', 'command -v Orthanc'], { encoding: 'utf8' }).stdout.trim() || '/usr/sbin/Orthanc');
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/** Why Orthanc tests cannot run here, or `undefined` when they can. */
export function orthancSkipReason(): string | undefined {
  if (!existsSync(ORTHANC_BIN)) return 'Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb; .ci/run installs it)';
  if (!existsSync(DICOMWEB_PLUGIN)) return `the Orthanc DICOMweb plugin is not installed (${DICOMWEB_PLUGIN}; Debian: orthanc-dicomweb)`;
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound and released; Orthanc takes it right after): the launcher's. */
export { freePort };

/** Options of {@link startOrthanc}. */
export interface OrthancOptions {
  /** @default 'ORTHANC' */
  readonly aeTitle?: string;
  /** DICOM peers Orthanc knows (C-MOVE destinations): name → [AE title, host, port]. */
  readonly modalities?: Readonly<Record<string, readonly [string, string, number]>>;
  /** Reuse this storage folder (a restart keeps the instances). */
  readonly storageDir?: string;
  /** Reuse these ports (a restart on the same address). */
  readonly httpPort?: number;
  readonly dicomPort?: number;
}

/** A running Orthanc. */
export interface Orthanc {
  readonly httpPort: number;
  readonly dicomPort: number;
  readonly aeTitle: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>/dicom-web`. */
  readonly dicomWebUrl: string;
  readonly storageDir: string;
  /** POSTs one file to /instances; Orthanc's status (`Success`, `AlreadyStored`) or the reason it refused. */
  upload(file: string): Promise<{ ok: boolean; status: string; sopInstanceUid?: string }>;
  /** Stops the process (SIGTERM, then SIGKILL); keeps the storage. */
  stop(): Promise<void>;
  /** Stops and removes the storage and configuration. */
  close(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, log: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Orthanc exited with ${child.exitCode} before it was ready:\n${log()}`);
    try {
      const res = await fetch(`${url}/system`);
      if (res.ok) {
        await res.arrayBuffer();
        // The DICOMweb plugin answers once it is loaded.
        const web = await fetch(`${url}/dicom-web/studies?limit=1`, { headers: { accept: 'application/dicom+json' } });
        await web.arrayBuffer();
        if (web.status === 200 || web.status === 204) return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Orthanc did not become ready within ${timeoutMs} ms:\n${log()}`);
}

/** Starts Orthanc on free loopback ports with its own storage; resolves once HTTP and DICOMweb answer. */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<Orthanc> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'tessera-orthanc-'));
  const storageDir = opts.storageDir ?? path.join(work, 'storage');
  const httpPort = opts.httpPort ?? (await freePort());
  const dicomPort = opts.dicomPort ?? (await freePort());
  const aeTitle = opts.aeTitle ?? 'ORTHANC';
  const config = {
    Name: 'TESSERA-TEST',
    StorageDirectory: storageDir,
    IndexDirectory: storageDir,
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: aeTitle,
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
    DicomModalities: Object.fromEntries(Object.entries(opts.modalities ?? {}).map(([k, v]) => [k, [...v]])),
    StableAge: 1,
    SaveJobs: false,
  };
  const configFile = path.join(work, 'orthanc.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  let output = '';
  const child = spawn(ORTHANC_BIN, [configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await waitReady(url, child, () => output);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    httpPort,
    dicomPort,
    aeTitle,
    url,
    dicomWebUrl: `${url}/dicom-web`,
    storageDir,
    async upload(file) {
      const res = await fetch(`${url}/instances`, { method: 'POST', body: await readFile(file), headers: { 'content-type': 'application/dicom' } });
      const text = await res.text();
      if (!res.ok) return { ok: false, status: `HTTP ${res.status}` };
      const body = JSON.parse(text) as { Status?: string; ID?: string };
      const status = body.Status ?? 'unknown';
      let sopInstanceUid: string | undefined;
      if (body.ID !== undefined) {
        const tags = (await (await fetch(`${url}/instances/${body.ID}/simplified-tags`)).json()) as { SOPInstanceUID?: string };
        sopInstanceUid = tags.SOPInstanceUID;
      }
      return { ok: status === 'Success' || status === 'AlreadyStored', status, ...(sopInstanceUid !== undefined ? { sopInstanceUid } : {}) };
    },
    stop,
    async close() {
      await stop();
      rmSync(work, { recursive: true, force: true });
      if (opts.storageDir === undefined) rmSync(storageDir, { recursive: true, force: true });
    },
  };
}
