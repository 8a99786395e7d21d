/**
 * The site's DICOM de-identification gate: reads every file under an input folder, de-identifies each
 * one (site-agent/src/hospital/deid/dicom-deid.ts) and writes only the de-identified instances into the output folder
 * (the site's cache, what training reads). Originals are opened read-only and never modified. Quarantined
 * and failed files are listed in the report with reasons and are not copied. One bad file never stops
 * the rest.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import { Tags } from '../dicom/dictionary.js';
import { parseDicom } from '../dicom/parse.js';
import { decodeStoredFrame } from '../dicom/pixels.js';
import { concatChunks, sweepAtomicTemporaries, writeFileAtomic } from '../dicom/writer.js';
import { deidentifyDicom, type ChangeLog, type DeidReason } from '../deid/dicom-deid.js';
import type { BurnedInPolicy } from '../deid/burned-in.js';
import type { ConfidentialityProfile, DeidOption } from '../deid/dicom-profile.js';
import type { PatientPseudonymizer } from '../deid/pseudonym.js';
import { InputError } from '../../../../shared/src/errors.js';

/** Options for {@link runDicomDeid}. */
export interface DicomDeidGateOptions {
  /** Folder read recursively; every regular file in it is a candidate. */
  readonly inDir: string;
  /** Output folder: created if absent; may only hold `.dcm` files (earlier runs) already. */
  readonly outDir: string;
  readonly profile: ConfidentialityProfile;
  readonly pseudonymizer: PatientPseudonymizer;
  /** Per-study options. @default [] (Basic Profile only) */
  readonly options?: readonly DeidOption[];
  /**
   * Decode frame 0 of every image before admitting it, and refuse (`undecodable-pixels`) images no bundled
   * codec can read (12-bit JPEG extended, damaged data), so the cache holds only trainable images.
   * @default false
   */
  readonly checkPixels?: boolean;
  /** What the site accepts of images that may carry burned-in text. @default quarantine all of them */
  readonly burnedIn?: BurnedInPolicy;
  /** Called after each file (progress). */
  readonly onFile?: (entry: DeidFileEntry) => void;
}

/** One file's line in the report. `file` is relative to the input folder. */
export type DeidFileEntry =
  | {
      readonly file: string;
      readonly status: 'written';
      /** Output file name, relative to the output folder: `<new SOP Instance UID>.dcm`. */
      readonly output: string;
      readonly transferSyntaxUid: string;
      readonly bytesIn: number;
      readonly bytesOut: number;
      /** Attributes changed, by action (`X`, `Z`, `D`, `U`, `C`, `K`) → `(GGGG,EEEE) Name` → count. */
      readonly changes: ChangeLog;
      /** Its pixels may carry burned-in text and the site's `burnedInAnnotation` policy accepted it: why it was at risk. */
      readonly acceptedRisk?: DeidReason;
    }
  | { readonly file: string; readonly status: 'quarantined' | 'failed'; readonly bytesIn: number; readonly reasons: readonly DeidReason[] };

/** The JSON report of one run (`tessera deid --report FILE`). */
export interface DeidReport {
  readonly profile: 'DICOM PS3.15 E.1-1 Basic Application Level Confidentiality Profile';
  readonly profileRows: number;
  readonly options: readonly DeidOption[];
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Number of files found under the input folder. */
  readonly filesIn: number;
  /** Half-written temporaries a crash left in the output folder, removed before the run. */
  readonly temporariesSwept: number;
  readonly written: readonly DeidFileEntry[];
  readonly quarantined: readonly DeidFileEntry[];
  readonly failed: readonly DeidFileEntry[];
  /** Totals over the written files: action → attribute → how many elements. */
  readonly attributesChangedByAction: ChangeLog;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function checkFolders(inDir: string, outDir: string): Promise<void> {
  const inStat = await stat(inDir).catch(() => undefined);
  if (inStat?.isDirectory() !== true) throw new InputError('TESSERA_INPUT_DEID_FOLDER', `input folder ${inDir} does not exist or is not a folder`, { inDir });
  if (inside(outDir, inDir) || inside(inDir, outDir)) {
    throw new InputError('TESSERA_INPUT_DEID_FOLDER', 'the output folder must not be inside the input folder, nor the input inside the output', { inDir, outDir });
  }
  const existing = await listFiles(outDir).catch(() => [] as string[]);
  const foreign = existing.filter((f) => !f.endsWith('.dcm'));
  if (foreign.length > 0) {
    throw new InputError('TESSERA_INPUT_DEID_FOLDER', `output folder ${outDir} holds ${foreign.length} file(s) that are not de-identified DICOM; use an empty folder`, {
      outDir,
    });
  }
}

function addChanges(total: ChangeLog, changes: ChangeLog): void {
  for (const [action, attrs] of Object.entries(changes)) {
    const into = (total[action] ??= {});
    for (const [attr, n] of Object.entries(attrs)) into[attr] = (into[attr] ?? 0) + n;
  }
}

/** What {@link DicomDeidGate} needs: the cache folder, the profile, the site's pseudonymizer and the options. */
export interface DicomDeidGateConfig {
  /** The de-identified cache folder (created if absent); only `<new SOP Instance UID>.dcm` files are written there. */
  readonly outDir: string;
  readonly profile: ConfidentialityProfile;
  readonly pseudonymizer: PatientPseudonymizer;
  /** @default [] (Basic Profile only) */
  readonly options?: readonly DeidOption[];
  /** See {@link DicomDeidGateOptions.checkPixels}. @default false */
  readonly checkPixels?: boolean;
  /** See {@link DicomDeidGateOptions.burnedIn}. */
  readonly burnedIn?: BurnedInPolicy;
}

/**
 * The gate as an object that admits one instance at a time, from a buffer, a file or a stream: the folder run
 * ({@link runDicomDeid}) and the PACS sources (site-agent/src/hospital/pacs) both go through it. An instance
 * whose output already exists in the cache (an earlier run, an earlier sync) is not written again and is
 * reported as a `duplicate-instance` failure only when the same run admitted it before.
 */
export class DicomDeidGate {
  readonly outDir: string;
  readonly options: readonly DeidOption[];
  readonly #ctx: Parameters<typeof deidentifyDicom>[2];
  readonly #outputs = new Map<string, string>();
  readonly #checkPixels: boolean;
  readonly #pseudonymizer: PatientPseudonymizer;
  #outDirReady: Promise<void> | undefined;

  constructor(config: DicomDeidGateConfig) {
    this.outDir = path.resolve(config.outDir);
    this.options = [...new Set(config.options ?? [])];
    this.#pseudonymizer = config.pseudonymizer;
    this.#ctx = {
      profile: config.profile,
      pseudonymizer: config.pseudonymizer,
      options: new Set(this.options),
      uidCache: new Map<string, string>(),
      ...(config.burnedIn !== undefined ? { burnedIn: config.burnedIn } : {}),
    };
    this.#checkPixels = config.checkPixels ?? false;
  }

  /**
   * The settings a refusal depends on (options, pixel check, burned-in policy), as one string: a pull remembers
   * refusals under it, so a site that changes its policy gets the refused instances fetched and judged again.
   */
  get settingsKey(): string {
    const b = this.#ctx.burnedIn;
    return JSON.stringify({ options: [...this.options].sort(), checkPixels: this.#checkPixels, burnedIn: b === undefined ? null : { unknown: [...b.acceptUnknown].sort(), declared: [...b.acceptDeclared].sort() } });
  }

  /** The cache file name an instance with this original SOP Instance UID gets: `<keyed replacement UID>.dcm`. */
  outputName(originalSopInstanceUid: string): string {
    return `${this.#pseudonymizer.uid(originalSopInstanceUid)}.dcm`;
  }

  /**
   * Removes what a crash mid-write left in the cache folder (`*.<hex>.tmp`, never read as cached: only
   * `.dcm` names are); returns how many. Call once at start, before admitting anything.
   */
  async sweepTemporaries(): Promise<number> {
    return sweepAtomicTemporaries(this.outDir);
  }

  /** Admits one Part 10 instance held in memory; `source` names it in the report (no PHI: a file name or a pseudonymous id). */
  async admit(bytes: Uint8Array, source: string): Promise<DeidFileEntry> {
    return (await this.#admit(bytes, source, false)).entry;
  }

  /**
   * {@link admit}, also handing back what was written into the cache (the de-identified file, one buffer of its
   * own), so the next step (the image pipeline) need not read the file back and the identified input can be
   * dropped at once. `output` is set only for a `written` entry.
   */
  admitWithOutput(bytes: Uint8Array, source: string): Promise<{ entry: DeidFileEntry; output?: Uint8Array }> {
    return this.#admit(bytes, source, true);
  }

  async #admit(bytes: Uint8Array, source: string, keep: boolean): Promise<{ entry: DeidFileEntry; output?: Uint8Array }> {
    const result = deidentifyDicom(bytes, source, this.#ctx);
    if (result.status !== 'written') return { entry: { file: source, status: result.status, bytesIn: bytes.length, reasons: result.reasons } };
    // The chunks' bulk values are views of the identified input: the kept output is a copy, never a view.
    const whole = keep || this.#checkPixels ? concatChunks(result.chunks) : undefined;
    if (this.#checkPixels) {
      const problem = await undecodable(whole ?? concatChunks(result.chunks), source);
      if (problem !== undefined) return { entry: { file: source, status: 'failed', bytesIn: bytes.length, reasons: [{ code: 'undecodable-pixels', message: problem }] } };
    }
    const output = `${result.sopInstanceUid}.dcm`;
    const previous = this.#outputs.get(output);
    if (previous !== undefined) {
      return {
        entry: {
          file: source,
          status: 'failed',
          bytesIn: bytes.length,
          reasons: [{ code: 'duplicate-instance', message: `same SOP Instance UID as ${previous}: written once` }],
        },
      };
    }
    try {
      // Created (0700) once per gate, not once per instance; a folder removed under a running gate is made again.
      this.#outDirReady ??= mkdir(this.outDir, { recursive: true, mode: 0o700 }).then(() => undefined);
      await this.#outDirReady;
      await writeFileAtomic(path.join(this.outDir, output), whole ?? result.chunks, { createParent: false }).catch(async (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(this.outDir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(path.join(this.outDir, output), whole ?? result.chunks);
      });
    } catch {
      this.#outDirReady = undefined;
      return { entry: { file: source, status: 'failed', bytesIn: bytes.length, reasons: [{ code: 'write-failed', message: `cannot write ${output} into the output folder` }] } };
    }
    this.#outputs.set(output, source);
    const entry: DeidFileEntry = {
      file: source,
      status: 'written',
      output,
      transferSyntaxUid: result.transferSyntaxUid,
      bytesIn: bytes.length,
      bytesOut: result.byteLength,
      changes: result.changes,
      ...(result.acceptedRisk !== undefined ? { acceptedRisk: result.acceptedRisk } : {}),
    };
    return keep && whole !== undefined ? { entry, output: whole } : { entry };
  }

  /** Admits one file (opened read-only, never modified); `source` names it in the report. */
  async admitFile(file: string, source: string): Promise<DeidFileEntry> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file, { flag: 'r' });
    } catch {
      return { file: source, status: 'failed', bytesIn: 0, reasons: [{ code: 'unreadable', message: `${source}: cannot be read` }] };
    }
    return this.admit(bytes, source);
  }

  /** Admits one instance arriving as a stream of chunks (collected in memory, then admitted as one buffer). */
  async admitStream(stream: AsyncIterable<Uint8Array>, source: string): Promise<DeidFileEntry> {
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk);
    } catch {
      return { file: source, status: 'failed', bytesIn: chunks.reduce((n, c) => n + c.length, 0), reasons: [{ code: 'unreadable', message: `${source}: the stream broke off` }] };
    }
    return this.admit(concatChunks(chunks), source);
  }
}

/**
 * Runs the gate over `inDir`. Throws {@link InputError} `TESSERA_INPUT_DEID_FOLDER` only for unusable
 * folders; every per-file problem is a report entry.
 */
export async function runDicomDeid(opts: DicomDeidGateOptions): Promise<DeidReport> {
  const inDir = path.resolve(opts.inDir);
  const outDir = path.resolve(opts.outDir);
  const gate = new DicomDeidGate({
    outDir,
    profile: opts.profile,
    pseudonymizer: opts.pseudonymizer,
    options: opts.options ?? [],
    checkPixels: opts.checkPixels ?? false,
    ...(opts.burnedIn !== undefined ? { burnedIn: opts.burnedIn } : {}),
  });
  // Before the folder check, which refuses anything but `.dcm` files in the output: a crash's leftovers are ours.
  const temporariesSwept = inside(outDir, inDir) || inside(inDir, outDir) ? 0 : await gate.sweepTemporaries();
  await checkFolders(inDir, outDir);
  const startedAt = new Date().toISOString();
  const written: DeidFileEntry[] = [];
  const quarantined: DeidFileEntry[] = [];
  const failed: DeidFileEntry[] = [];
  const total: ChangeLog = {};
  const files = await listFiles(inDir);
  for (const file of files) {
    const entry = await gate.admitFile(path.join(inDir, file), file);
    if (entry.status === 'written') {
      written.push(entry);
      addChanges(total, entry.changes);
    } else if (entry.status === 'quarantined') quarantined.push(entry);
    else failed.push(entry);
    opts.onFile?.(entry);
  }
  return {
    profile: 'DICOM PS3.15 E.1-1 Basic Application Level Confidentiality Profile',
    profileRows: opts.profile.rowCount,
    options: gate.options,
    startedAt,
    finishedAt: new Date().toISOString(),
    filesIn: files.length,
    temporariesSwept,
    written,
    quarantined,
    failed,
    attributesChangedByAction: total,
  };
}

/** Why frame 0 of a de-identified image cannot be decoded, or `undefined` (also for instances without pixels). */
async function undecodable(bytes: Uint8Array, file: string): Promise<string | undefined> {
  const parsed = parseDicom(bytes, file);
  if (!parsed.dataset.has(Tags.PixelData)) return undefined;
  try {
    await decodeStoredFrame(parsed, 0, file);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : 'pixel data cannot be decoded';
  }
}
