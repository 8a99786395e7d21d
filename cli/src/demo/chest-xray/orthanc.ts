/**
 * `tessera demo --dataset chest-xray --pacs`: one real Orthanc per hospital, started by the shared launcher
 * (cli/src/local-federation/orthanc.ts) on loopback ports picked free, with its storage and log in the demo's
 * workdir, loaded with that hospital's PACS export. The site agents then pull from it over DICOMweb instead of
 * reading the folder.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { orthancMissing, startOrthanc } from '../../local-federation/orthanc.js';

export { orthancMissing };

/** One running hospital PACS. */
export interface DemoPacs {
  readonly siteId: string;
  /** `http://127.0.0.1:<port>/dicom-web`. */
  readonly dicomWebUrl: string;
  /** Instances stored. */
  readonly instances: number;
  stop(): Promise<void>;
}

/**
 * Starts an Orthanc for `siteId` with storage under `workDir` and loads every `*.dcm` of `dicomDir`
 * into it (POST /instances, four at a time). Orthanc's output goes to `<workDir>/orthanc.log`.
 */
export async function startDemoPacs(siteId: string, dicomDir: string, workDir: string): Promise<DemoPacs> {
  const pacs = await startOrthanc({
    name: `${siteId}-PACS`,
    aeTitle: siteId.replace(/\W/g, '').toUpperCase().slice(0, 16),
    workDir,
    storageDir: path.join(workDir, 'storage'),
    logFile: path.join(workDir, 'orthanc.log'),
    readyTimeoutMs: 60_000,
  });
  try {
    const files = (await readdir(dicomDir)).filter((f) => f.endsWith('.dcm')).sort();
    let next = 0;
    let stored = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const file = path.join(dicomDir, files[next++] as string);
        const res = await pacs.upload(file);
        if (!res.ok) throw new Error(`Orthanc of ${siteId} refused ${file}: ${res.status}`);
        stored++;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return { siteId, dicomWebUrl: pacs.dicomWebUrl, instances: stored, stop: () => pacs.stop() };
  } catch (err) {
    await pacs.stop();
    throw err;
  }
}
