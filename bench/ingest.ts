/**
 * DICOM ingest throughput on the shared corpus (`../shared/data/dicom`): a plain `dicom-parser` parse of
 * each file (the baseline), next to Tessera's gate on the same files in the same run: parse +
 * de-identify (Basic Profile) into the encoded chunks (headers packed, bulk values referenced), and parse +
 * de-identify + write the file to disk the way the gate does (temporary file, one writev, rename).
 *
 * The files timed are those the gate writes (quarantined and refused files stop before de-identification,
 * so timing them would flatter the gate); the same list is given to the baseline.
 *
 * Fair timing on a shared machine: every case first runs `warmup` untimed passes (a single pass left the
 * de-identification path half-compiled: its first passes run 2–5× slower than its settled speed, the plain
 * parse's about 2×, which is why 9 timed passes read 2.0–2.7× where 700 read 1.8×). Then the cases take
 * turns pass by pass, in forward order on even rounds and reverse order on odd ones (no case always runs
 * right after the allocation-heavy one, whose garbage the next pass may collect); the fastest pass of each
 * case counts, and the median is reported beside it. The heap is not forced clean between passes: a full
 * `gc()` shrinks the young generation, and the next pass then pays extra scavenges while it grows again,
 * which costs the allocating de-identification far more than the parse (it read 2.6–6.6× that way).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dicomParser from 'dicom-parser';

import { DICOM_PARSER_OPTIONS } from '../site-agent/src/hospital/dicom/parse.js';
import { writeFileAtomic } from '../site-agent/src/hospital/dicom/writer.js';
import { deidentifyDicom, type DicomDeidContext } from '../site-agent/src/hospital/deid/dicom-deid.js';
import { loadConfidentialityProfile, type DeidOption } from '../site-agent/src/hospital/deid/dicom-profile.js';
import { PatientPseudonymizer } from '../site-agent/src/hospital/deid/pseudonym.js';
import { bestOf, round } from './report.js';
import { sharedDataDir } from '../cli/src/public-data.js';

export interface IngestOptions {
  /** Folder of DICOM files. @default `<shared data>/dicom` */
  dir?: string;
  /** Timed passes over the corpus per case (cases interleaved); the fastest counts. @default 40 */
  runs?: number;
  /** Untimed passes per case first (interleaved too), so every path runs optimised code when timed. @default 20 */
  warmup?: number;
  /** At most this many files (smoke tests). @default all */
  maxFiles?: number;
  /** De-identification options. @default [] (Basic Profile) */
  options?: readonly DeidOption[];
}

export interface IngestResult {
  impl: 'dicom-parser parse' | 'parse + de-identify' | 'parse + de-identify + write' | 'file write only (I/O reference)';
  files: number;
  megabytes: number;
  msPerPass: number;
  filesPerSecond: number;
  megabytesPerSecond: number;
  /** Time of this case / time of the plain dicom-parser parse of the same files in the same run (1 for the baseline). */
  costVsParse: number;
  /** Median pass of this case (load spikes included). */
  medianMsPerPass: number;
  /** Median pass / the baseline's median pass. */
  medianCostVsParse: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function listFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => statSync(path.join(dir, f)).isFile())
    .sort();
}

let sink = 0;

/** Runs the suite; see the module comment. */
export async function runIngestSuite(opts: IngestOptions = {}): Promise<IngestResult[]> {
  const dir = opts.dir ?? path.join(sharedDataDir(), 'dicom');
  const runs = opts.runs ?? 40;
  const warmup = opts.warmup ?? 20;
  const ctx: DicomDeidContext = {
    profile: loadConfidentialityProfile(),
    pseudonymizer: new PatientPseudonymizer({ secret: new Uint8Array(32).fill(5) }),
    options: new Set(opts.options ?? []),
    uidCache: new Map(),
  };
  // The files the gate writes, loaded once (the baseline reads the same bytes).
  const files = listFiles(dir)
    .map((f) => new Uint8Array(readFileSync(path.join(dir, f))))
    .filter((bytes) => deidentifyDicom(bytes, 'probe', ctx).status === 'written')
    .slice(0, opts.maxFiles ?? Number.POSITIVE_INFINITY);
  const bytes = files.reduce((n, f) => n + f.length, 0);
  const out = mkdtempSync(path.join(tmpdir(), 'tessera-bench-ingest-'));
  try {
    const cases: [IngestResult['impl'], () => void | Promise<void>][] = [
      [
        'dicom-parser parse',
        () => {
          for (const f of files) sink += Object.keys(dicomParser.parseDicom(f, DICOM_PARSER_OPTIONS).elements).length;
        },
      ],
      [
        'parse + de-identify',
        () => {
          for (const f of files) {
            const r = deidentifyDicom(f, 'bench', ctx);
            if (r.status === 'written') sink += r.byteLength;
          }
        },
      ],
      [
        'parse + de-identify + write',
        async () => {
          for (const [i, f] of files.entries()) {
            const r = deidentifyDicom(f, 'bench', ctx);
            if (r.status === 'written') await writeFileAtomic(path.join(out, `${i}.dcm`), r.chunks);
          }
        },
      ],
      [
        // The same bytes written the same way, without parsing or de-identifying: what the disk costs.
        'file write only (I/O reference)',
        async () => {
          for (const [i, f] of files.entries()) await writeFileAtomic(path.join(out, `io-${i}.dcm`), [f]);
        },
      ],
    ];
    for (let r = 0; r < warmup; r++) for (const [, fn] of cases) await fn();
    const times: number[][] = cases.map(() => []);
    for (let r = 0; r < runs; r++) {
      const order = cases.map((_, i) => (r % 2 === 0 ? i : cases.length - 1 - i));
      for (const i of order) times[i]!.push(await bestOf(1, cases[i]![1]));
    }
    const best = times.map((t) => Math.min(...t));
    const med = times.map(median);
    const results: IngestResult[] = cases.map(([impl], i) => {
      const s = best[i]!;
      return {
        impl,
        files: files.length,
        megabytes: round(bytes / 1e6),
        msPerPass: round(s * 1000),
        filesPerSecond: round(files.length / s),
        megabytesPerSecond: round(bytes / 1e6 / s),
        costVsParse: round(s / best[0]!, 3),
        medianMsPerPass: round(med[i]! * 1000),
        medianCostVsParse: round(med[i]! / med[0]!, 3),
      };
    });
    if (Number.isNaN(sink)) console.error('unexpected NaN');
    return results;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
