/**
 * PACS ingest throughput: instances per second from a real Orthanc (loaded with the shared DICOM corpus) over
 * DICOMweb, through the de-identification gate into the cache and through the preprocessing step to the model
 * input (what `tessera data check` does on a PACS source: the pipeline on a worker pool fed while the pull goes
 * on), next to Orthanc's own WADO-RS download of the same instances with no
 * processing (bodies read and dropped) in the same run. Both walk the same QIDO-RS search first and use the
 * same concurrency; passes alternate (baseline, ours, ours, baseline, …) and each starts from an empty cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sharedDataDir } from '../cli/src/public-data.js';
import { loadConfidentialityProfile } from '../site-agent/src/hospital/deid/dicom-profile.js';
import { PatientPseudonymizer } from '../site-agent/src/hospital/deid/pseudonym.js';
import { pipelineAfterGate } from '../site-agent/src/hospital/data-check/preprocess-candidates.js';
import { PreprocessPool, defaultPreprocessThreads } from '../site-agent/src/hospital/imaging/preprocess-pool.js';
import { DicomDeidGate } from '../site-agent/src/hospital/ingest/dicom-deid-gate.js';
import { DicomwebSource, syncFromPacs, type InstanceRef, type PacsSource } from '../site-agent/src/hospital/pacs/index.js';
import { runPool } from '../site-agent/src/hospital/pacs/limits.js';
import { orthancSkipReason } from '../test/helpers/orthanc.js';
import { orthancWithCorpus } from '../test/helpers/pacs-fixture.js';
import { round } from './report.js';

export interface PacsIngestOptions {
  /** Timed passes per case (alternating). @default 5 */
  runs?: number;
  /** Requests in flight, both cases. @default 4 */
  concurrency?: number;
  /** Model input of the preprocessing step. @default [128, 128, 1] */
  inputShape?: readonly [number, number, number];
  /** Preprocessing threads (0: on the event loop, as before the pool). @default min(cores, 4) */
  threads?: number;
}

export interface PacsIngestRow {
  case: 'pacs-ingest';
  impl: 'orthanc WADO-RS download (baseline)' | 'tessera dicomweb pull → gate → cache → preprocess';
  instances: number;
  /** Instances the gate wrote and the step turned into model inputs (ours only). */
  written: number | '-';
  preprocessed: number | '-';
  /** Preprocessing threads beside the event loop (ours only). */
  threads: number | '-';
  megabytes: number;
  bestMs: number;
  medianMs: number;
  instancesPerSecond: number;
  /** Best-pass rate / the baseline's best-pass rate in this run (1 for the baseline). */
  vsBaseline: number;
  /** The same without the QIDO-RS search each pass starts with (retrieval and processing only). */
  fetchOnlyBestMs: number;
  fetchOnlyInstancesPerSecond: number;
  fetchOnlyVsBaseline: number;
  goal: string;
  skipped?: string;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Plain WADO-RS GETs of every instance, bodies read and dropped; returns bytes downloaded. */
async function rawDownload(base: string, refs: readonly InstanceRef[], concurrency: number, agent: http.Agent): Promise<number> {
  let bytes = 0;
  await runPool(refs, concurrency, async (ref) => {
    const url = `${base}/studies/${encodeURIComponent(ref.studyUid)}/series/${encodeURIComponent(ref.seriesUid)}/instances/${encodeURIComponent(ref.sopUid)}`;
    const n = await new Promise<number>((resolve, reject) => {
      http
        .get(url, { agent, headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } }, (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => (n += c.length));
          res.on('end', () => resolve(n));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    bytes += n;
  });
  return bytes;
}

/** Runs the case; one row per implementation (or one row saying why it was skipped). */
export async function runPacsIngestCase(opts: PacsIngestOptions = {}): Promise<PacsIngestRow[]> {
  const skip = orthancSkipReason();
  const runs = opts.runs ?? 5;
  const concurrency = opts.concurrency ?? 4;
  const shape = opts.inputShape ?? [128, 128, 1];
  if (skip !== undefined) {
    return [{ case: 'pacs-ingest', impl: 'tessera dicomweb pull → gate → cache → preprocess', instances: 0, written: '-', preprocessed: '-', threads: '-', megabytes: 0, bestMs: 0, medianMs: 0, instancesPerSecond: 0, vsBaseline: 0, fetchOnlyBestMs: 0, fetchOnlyInstancesPerSecond: 0, fetchOnlyVsBaseline: 0, goal: '≥ 0.5×', skipped: skip }];
  }
  const { orthanc } = await orthancWithCorpus(path.join(sharedDataDir(), 'dicom'));
  const work = mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-pacs-'));
  const pseudonymizer = new PatientPseudonymizer({ secret: new Uint8Array(32).fill(11) });
  const profile = loadConfidentialityProfile();
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  // One pool for every pass, as an agent keeps one: its threads' codecs and JIT warm up in the untimed pass.
  const pool = PreprocessPool.create({ threads: opts.threads ?? defaultPreprocessThreads() });
  const times = { base: [] as number[], ours: [] as number[] };
  /** Retrieval (and processing) only: the pass minus its QIDO-RS search. */
  const fetchTimes = { base: [] as number[], ours: [] as number[] };
  let instances = 0;
  let bytes = 0;
  let written = 0;
  let preprocessed = 0;
  try {
    const sourceOptions = { url: orthanc.dicomWebUrl, concurrency, requestsPerSecond: 10_000, timeoutMs: 60_000, retries: 0 };
    const baseline = async (): Promise<void> => {
      const source = new DicomwebSource(sourceOptions);
      const t0 = performance.now();
      const { instances: refs } = await source.search({});
      const t1 = performance.now();
      bytes = await rawDownload(orthanc.dicomWebUrl, refs, concurrency, agent);
      times.base.push(performance.now() - t0);
      fetchTimes.base.push(performance.now() - t1);
      instances = refs.length;
      await source.close();
    };
    const ours = async (pass: number): Promise<void> => {
      const cache = path.join(work, `cache-${pass}`);
      const inner = new DicomwebSource(sourceOptions);
      let searchMs = 0;
      const source: PacsSource = {
        kind: inner.kind,
        search: async (q) => {
          const s0 = performance.now();
          const r = await inner.search(q);
          searchMs = performance.now() - s0;
          return r;
        },
        retrieve: (refs, incoming, deliver) => inner.retrieve(refs, incoming, deliver),
        close: () => inner.close(),
      };
      const gate = new DicomDeidGate({ outDir: path.join(cache, 'dicom'), profile, pseudonymizer });
      const t0 = performance.now();
      // Each written instance goes on to the preprocessing step (the pool's threads) as soon as the gate has
      // written it, with the bytes it wrote, overlapping the downloads and the gate still in flight: the data
      // check's own step on a PACS source (pipelineAfterGate).
      const { step, early } = pipelineAfterGate(pool, shape);
      const report = await syncFromPacs({
        afterGate: step,
        source,
        query: {},
        gate,
        incoming: path.join(work, `incoming-${pass}`),
        stateFile: path.join(cache, 'pacs', 'state.jsonl'),
      });
      // Every handed-on instance is through the step when the pull returns; not an image or not decodable: the
      // data check reports it, timed all the same.
      let n = 0;
      for (const slot of early.values()) if ('result' in slot && (await slot.result.then(() => true, () => false))) n++;
      times.ours.push(performance.now() - t0);
      fetchTimes.ours.push(performance.now() - t0 - searchMs);
      written = report.written;
      preprocessed = n;
      await source.close();
      rmSync(cache, { recursive: true, force: true });
    };
    // One untimed pass each (JIT, Orthanc's caches), then alternate.
    await baseline();
    await ours(-1);
    for (const list of [times.base, times.ours, fetchTimes.base, fetchTimes.ours]) list.length = 0;
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        await baseline();
        await ours(i);
      } else {
        await ours(i);
        await baseline();
      }
    }
  } finally {
    await pool.close();
    agent.destroy();
    await orthanc.close();
    rmSync(work, { recursive: true, force: true });
  }
  const best = { base: Math.min(...times.base), ours: Math.min(...times.ours) };
  const bestFetch = { base: Math.min(...fetchTimes.base), ours: Math.min(...fetchTimes.ours) };
  const rate = (ms: number): number => round((instances / ms) * 1000);
  return [
    { case: 'pacs-ingest', impl: 'orthanc WADO-RS download (baseline)', instances, written: '-', preprocessed: '-', threads: '-', megabytes: round(bytes / 1e6, 3), bestMs: round(best.base), medianMs: round(median(times.base)), instancesPerSecond: rate(best.base), vsBaseline: 1, fetchOnlyBestMs: round(bestFetch.base), fetchOnlyInstancesPerSecond: rate(bestFetch.base), fetchOnlyVsBaseline: 1, goal: '-' },
    {
      case: 'pacs-ingest',
      impl: 'tessera dicomweb pull → gate → cache → preprocess',
      instances,
      written,
      preprocessed,
      threads: pool.threads,
      megabytes: round(bytes / 1e6, 3),
      bestMs: round(best.ours),
      medianMs: round(median(times.ours)),
      instancesPerSecond: rate(best.ours),
      vsBaseline: round(best.base / best.ours, 3),
      fetchOnlyBestMs: round(bestFetch.ours),
      fetchOnlyInstancesPerSecond: rate(bestFetch.ours),
      fetchOnlyVsBaseline: round(bestFetch.base / bestFetch.ours, 3),
      goal: '≥ 0.5×',
    },
  ];
}
