/**
 * `tessera demo --dataset chest-xray --pacs`: one real Orthanc per hospital (Debian's `Orthanc` with the
 * DICOMweb plugin), on loopback ports picked free, with its storage in the demo's workdir, loaded with that
 * hospital's PACS export. The site agents then pull from it over DICOMweb instead of reading the folder.
 * (test/helpers/orthanc.ts is the tests' launcher; test/ is not shipped, so the demo has this one.)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { freePort } from '../../local-federation/tcp-proxy.js';
import path from 'node:path';

/** `$TESSERA_ORTHANC`, else `Orthanc` on the PATH, else Debian's /usr/sbin/Orthanc. */
export function orthancBinary(): string {
  return process.env['TESSERA_ORTHANC'] ?? (spawnSync('sh', ['-c', 'command -v Orthanc'], { encoding: 'utf8' }).stdout.trim() || '/usr/sbin/Orthanc');
}
const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/** Why `--pacs` cannot run here, or `undefined` when it can. */
export function orthancMissing(): string | undefined {
  const bin = orthancBinary();
  if (!existsSync(bin)) return `Orthanc is not installed (${bin}; Debian: apt-get install orthanc orthanc-dicomweb, or set TESSERA_ORTHANC)`;
  if (!existsSync(DICOMWEB_PLUGIN)) return `the Orthanc DICOMweb plugin is not installed (${DICOMWEB_PLUGIN}; Debian: orthanc-dicomweb)`;
  return undefined;
}


/** One running hospital PACS. */
export interface DemoPacs {
  readonly siteId: string;
  /** `http://127.0.0.1:<port>/dicom-web`. */
  readonly dicomWebUrl: string;
  /** Instances stored. */
  readonly instances: number;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Orthanc exited with ${child.exitCode} before it was ready; see ${logFile}`);
    try {
      const web = await fetch(`${url}/dicom-web/studies?limit=1`, { headers: { accept: 'application/dicom+json' } });
      await web.arrayBuffer();
      if (web.status === 200 || web.status === 204) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Orthanc did not answer within ${timeoutMs} ms; see ${logFile}`);
}

/**
 * Starts an Orthanc for `siteId` with storage under `workDir` and loads every `*.dcm` of `dicomDir`
 * into it (POST /instances, four at a time). Orthanc's output goes to `<workDir>/orthanc.log`.
 */
export async function startDemoPacs(siteId: string, dicomDir: string, workDir: string): Promise<DemoPacs> {
  mkdirSync(workDir, { recursive: true });
  const httpPort = await freePort();
  const dicomPort = await freePort();
  const configFile = path.join(workDir, 'orthanc.json');
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        Name: `${siteId}-PACS`,
        StorageDirectory: path.join(workDir, 'storage'),
        IndexDirectory: path.join(workDir, 'storage'),
        HttpPort: httpPort,
        DicomPort: dicomPort,
        DicomAet: siteId.replace(/\W/g, '').toUpperCase().slice(0, 16),
        HttpBindAddress: '127.0.0.1',
        DicomBindAddress: '127.0.0.1',
        RemoteAccessAllowed: false,
        AuthenticationEnabled: false,
        HttpThreadsCount: 8,
        Plugins: [DICOMWEB_PLUGIN],
        DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, StudiesMetadata: 'MainDicomTags', SeriesMetadata: 'MainDicomTags' },
        StableAge: 1,
        SaveJobs: false,
      },
      null,
      2,
    ),
  );
  const logFile = path.join(workDir, 'orthanc.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(orthancBinary(), [configFile], { stdio: ['ignore', fd, fd] });
  const url = `http://127.0.0.1:${httpPort}`;
  // However the demo ends, its PACS do not outlive it.
  const onExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  child.once('exit', () => process.removeListener('exit', onExit));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitReady(url, child, logFile);
    const files = (await readdir(dicomDir)).filter((f) => f.endsWith('.dcm')).sort();
    let next = 0;
    let stored = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const file = path.join(dicomDir, files[next++] as string);
        const res = await fetch(`${url}/instances`, { method: 'POST', body: await readFile(file), headers: { 'content-type': 'application/dicom' } });
        const body = await res.text();
        if (!res.ok) throw new Error(`Orthanc of ${siteId} refused ${file}: HTTP ${res.status} ${body.slice(0, 200)}`);
        stored++;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return { siteId, dicomWebUrl: `${url}/dicom-web`, instances: stored, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
