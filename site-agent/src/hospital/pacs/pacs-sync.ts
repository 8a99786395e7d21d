/**
 * One incremental pull from a PACS into the de-identified cache: search, leave out what the cache already
 * holds (keyed by the pseudonymous SOP Instance UID the gate gives the instance, so nothing identifying is
 * stored to remember it) or what the gate refused for good, retrieve the rest within the source's limits,
 * admit each instance through the gate and forget its identified bytes. A pull cut short (PACS restart, agent
 * killed) resumes where it stopped: finished instances are in the cache or in the state file.
 */
import { appendFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PacsQuery } from '../../../../shared/src/config/agent-config.js';
import type { Logger } from '../../../../shared/src/logging.js';
import type { DeidReason } from '../deid/dicom-deid.js';
import type { DicomDeidGate, DeidFileEntry } from '../ingest/dicom-deid-gate.js';
import { openIncoming } from './incoming.js';
import type { InstanceRef, PacsFailureCode, PacsSource } from './pacs-source.js';

/** One instance's line in a sync report: its pseudonymous id (never an original UID) and what happened. */
export interface PacsSyncEntry {
  /** The pseudonymous SOP Instance UID the cache file is named after. */
  readonly id: string;
  readonly status: 'written' | 'cached' | 'quarantined' | 'failed';
  /** Refused by the gate in an earlier pull (remembered in the state file): not fetched again. */
  readonly earlier?: true;
  readonly reasons: readonly { readonly code: PacsFailureCode | DeidReason['code']; readonly message: string }[];
}

/** Counts and entries of one pull. */
export interface PacsSyncReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Instances the search listed. */
  readonly found: number;
  /** Already in the cache, or refused for good by the gate in an earlier pull: not fetched again. */
  readonly cached: number;
  /** Retrieved from the PACS in this pull. */
  readonly fetched: number;
  readonly written: number;
  readonly quarantined: number;
  /** Retrieval or gate failures, this pull's and earlier ones' (retrieval failures are tried again at the next pull). */
  readonly failed: number;
  /** Leftover temporary files removed from the incoming folder at start (a crash or a kill before). */
  readonly swept: number;
  /** Sub-searches that failed (the rest went on). */
  readonly searchProblems: readonly { readonly code: PacsFailureCode; readonly message: string }[];
  readonly entries: readonly PacsSyncEntry[];
}

/** Options of {@link syncFromPacs}. */
export interface PacsSyncOptions {
  readonly source: PacsSource;
  readonly query: PacsQuery;
  readonly gate: DicomDeidGate;
  /** The incoming folder for identified temporaries (created 0700, swept at start). */
  readonly incoming: string;
  /** JSON-lines file remembering instances the gate refused for good (pseudonymous ids and reason codes only). */
  readonly stateFile: string;
  readonly logger?: Logger;
  /** Called after each instance (progress). */
  readonly onEntry?: (entry: PacsSyncEntry) => void;
  /** The step after the gate (the image pipeline on a thread pool), fed while the pull goes on. */
  readonly afterGate?: AfterGateStep;
}

/**
 * A step that takes each instance the gate wrote, as the de-identified bytes written into the cache (so it need
 * not read the file back), overlapping the rest of the pull: later instances are fetched and gated while earlier
 * ones are in it.
 */
export interface AfterGateStep {
  /** Resolves when the step can take one more instance (back-pressure: the retrieval slot waits, memory stays bounded). */
  ready(): Promise<void>;
  /** Takes one written instance (the bytes pass to the step). MUST NOT reject: the step reports its own failures. */
  take(id: string, deidentified: Uint8Array): Promise<void>;
}

/**
 * Gate refusals that a new retrieval of the same instance would not change (the PACS delivered it; the gate said
 * no). Retrieval failures and a cache write that failed are tried again at the next pull.
 */
const FINAL_GATE_CODES: ReadonlySet<string> = new Set([
  'unreadable',
  'dicomdir',
  'missing-uid',
  'invalid-image',
  'burned-in-annotation',
  'burned-in-annotation-unknown',
  'recognizable-visual-features',
  'undecodable-pixels',
  'duplicate-instance',
]);

/** Refusal lines written to the state file at once. */
const STATE_BATCH = 16;

/** A remembered refusal: the entry and the gate settings it was made under. */
type StateLine = PacsSyncEntry & { readonly gate?: string };

async function readState(file: string, gate: string): Promise<Map<string, PacsSyncEntry>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out = new Map<string, PacsSyncEntry>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const { gate: madeUnder, ...e } = JSON.parse(line) as StateLine;
      // A refusal made under other gate settings (options, burned-in policy) is judged again.
      if (madeUnder !== gate) continue;
      if (typeof e.id === 'string' && (e.status === 'quarantined' || e.status === 'failed') && Array.isArray(e.reasons)) out.set(e.id, e);
    } catch {
      // A line cut by a kill: that instance is simply fetched again.
    }
  }
  return out;
}

/** The shortest Part 10 file: 128-byte preamble and `DICM`. */
const MIN_PART10_BYTES = 132;

/** The `.dcm` files of the cache folder, read once per pull (not one stat per instance found). */
async function cachedNames(dir: string): Promise<Set<string>> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return new Set(entries.filter((e) => e.isFile() && e.name.endsWith('.dcm')).map((e) => e.name));
}

/**
 * Whether a file the cache folder lists holds a whole instance. Cache files are flushed before they get their
 * name, so a shorter one is damage from outside (or a file system that lost the data): it is removed and
 * fetched again.
 */
async function wholeInCache(file: string): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  if (st?.isFile() !== true) return false;
  if (st.size >= MIN_PART10_BYTES) return true;
  await rm(file, { force: true });
  return false;
}

function fromGate(id: string, entry: DeidFileEntry): PacsSyncEntry {
  if (entry.status === 'written') return { id, status: 'written', reasons: [] };
  return { id, status: entry.status, reasons: entry.reasons.map((r) => ({ code: r.code, message: r.message })) };
}

/** Pulls `query` from `source` through `gate`. Throws `PacsError` only when the PACS cannot be searched at all. */
export async function syncFromPacs(opts: PacsSyncOptions): Promise<PacsSyncReport> {
  const startedAt = new Date().toISOString();
  const { dir: incoming, swept } = await openIncoming(opts.incoming);
  if (swept > 0) opts.logger?.warn({ swept }, 'removed identified temporaries left in the incoming folder by an interrupted pull');
  await mkdir(path.dirname(opts.stateFile), { recursive: true, mode: 0o700 });
  const refused = await readState(opts.stateFile, opts.gate.settingsKey);
  const search = await opts.source.search(opts.query);
  for (const p of search.problems) opts.logger?.warn({ code: p.code, reason: p.message }, 'PACS search problem');
  const entries: PacsSyncEntry[] = [];
  const todo: { ref: InstanceRef; id: string }[] = [];
  const seen = new Set<string>();
  const inCache = await cachedNames(opts.gate.outDir);
  for (const ref of search.instances) {
    const output = opts.gate.outputName(ref.sopUid);
    const id = output.slice(0, -'.dcm'.length);
    if (seen.has(id)) continue;
    seen.add(id);
    const before = refused.get(id);
    if (inCache.has(output) && (await wholeInCache(path.join(opts.gate.outDir, output)))) entries.push({ id, status: 'cached', reasons: [] });
    else if (before !== undefined && before.reasons.some((r) => FINAL_GATE_CODES.has(r.code))) entries.push({ id, status: before.status, earlier: true, reasons: before.reasons });
    else todo.push({ ref, id });
  }
  const cached = entries.length;
  const ids = new Map(todo.map((t) => [t.ref.sopUid, t.id]));
  let fetched = 0;
  const inStep = new Set<Promise<void>>();
  // Refusals are remembered in batches (one append per STATE_BATCH lines and one at the end): a pull killed in
  // between only fetches those few instances again, to be refused again.
  let stateLines: string[] = [];
  const flushState = async (): Promise<void> => {
    if (stateLines.length === 0) return;
    const text = stateLines.join('');
    stateLines = [];
    await appendFile(opts.stateFile, text, { mode: 0o600 });
  };
  const record = async (entry: PacsSyncEntry): Promise<void> => {
    entries.push(entry);
    if (entry.status !== 'written') {
      opts.logger?.warn({ instance: entry.id, status: entry.status, reasons: entry.reasons.map((r) => r.code) }, 'PACS instance not admitted to the cache');
      if (entry.reasons.some((r) => FINAL_GATE_CODES.has(r.code))) {
        stateLines.push(`${JSON.stringify({ ...entry, gate: opts.gate.settingsKey })}\n`);
        if (stateLines.length >= STATE_BATCH) await flushState();
      }
    }
    opts.onEntry?.(entry);
  };
  await opts.source.retrieve(
    todo.map((t) => t.ref),
    incoming,
    async (ref, outcome) => {
      const id = ids.get(ref.sopUid) ?? opts.gate.outputName(ref.sopUid).slice(0, -4);
      if (!outcome.ok) {
        await record({ id, status: 'failed', reasons: [{ code: outcome.code, message: outcome.message }] });
        return;
      }
      fetched++;
      const step = opts.afterGate;
      if (step === undefined) {
        await record(fromGate(id, await opts.gate.admit(outcome.bytes, id)));
        return;
      }
      const { entry, output } = await opts.gate.admitWithOutput(outcome.bytes, id);
      await record(fromGate(id, entry));
      if (output !== undefined) {
        await step.ready();
        const taken: Promise<void> = step.take(id, output).finally(() => inStep.delete(taken));
        inStep.add(taken);
      }
    },
  );
  await flushState();
  // Every instance handed on is through the step before the pull reports.
  await Promise.all(inStep);
  const count = (s: PacsSyncEntry['status']): number => entries.filter((e) => e.status === s).length;
  const report: PacsSyncReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    found: seen.size,
    cached,
    fetched,
    written: count('written'),
    quarantined: count('quarantined'),
    failed: count('failed'),
    swept,
    searchProblems: search.problems,
    entries,
  };
  opts.logger?.info(
    { found: report.found, cached, fetched, written: report.written, quarantined: report.quarantined, failed: report.failed, searchProblems: search.problems.length },
    'PACS pull through the de-identification gate finished',
  );
  return report;
}
