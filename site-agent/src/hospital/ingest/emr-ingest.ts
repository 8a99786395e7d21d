/**
 * Site-side EMR ingest: reads a folder of EMR exports, passes every record through the HIPAA Safe Harbor
 * gate, writes only de-identified records into the site's cache and returns a report.
 *
 * Input folder (searched recursively): FHIR Bundles or single resources (`*.json`), FHIR bulk export
 * (`*.ndjson`), and Synthea CSV exports (any folder holding `patients.csv`). Output folder: one NDJSON
 * file per resource type (`Patient.ndjson`, `Observation.ndjson`, ...), nothing else. Originals are only
 * read. A bad file, resource or row is listed in the report with where and why (never its content) and
 * the rest go on.
 *
 * All records of one run are de-identified as one batch, because a record can only be linked and
 * date-shifted when its Patient is known: Patient resources must be in the same input folder.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PatientPseudonymizer } from '../deid/pseudonym.js';
import { IDENTIFIER_KINDS, patientKey, SafeHarbor, type IdentifierKind } from '../deid/safe-harbor.js';
import type { TextScrubber } from '../deid/text-scrubber.js';
import { mergeParsed, parseFhirJson, parseFhirNdjson, type ParsedExport } from '../emr/fhir-parse.js';
import { SUPPORTED_RESOURCE_TYPES, type EmrIssue } from '../emr/fhir-resource.js';
import { readSyntheaCsvDir } from '../emr/synthea-csv.js';
import { InputError } from '../../../../shared/src/errors.js';

/** Options for {@link ingestEmr}. */
export interface EmrIngestOptions {
  /** Folder of EMR exports (read only). */
  readonly inDir: string;
  /** The site's cache folder for de-identified records; created if absent. Old `*.ndjson` there are replaced. */
  readonly outDir: string;
  /** Keyed pseudonyms and date shifts from the site secret (the DICOM path must use the same secret). */
  readonly pseudonymizer: PatientPseudonymizer;
  /** @default 'shift' (see SafeHarborOptions.dates) */
  readonly dates?: 'shift' | 'year';
  /** Reference date for ages of living patients (ISO date). @default today (UTC) */
  readonly today?: string;
  /** @default a new TextScrubber */
  readonly scrubber?: TextScrubber;
}

/** The ingest report: counts, and every refused item with its reason. Holds no PHI. */
export interface EmrIngestReport {
  readonly inDir: string;
  readonly outDir: string;
  /** Export files read (JSON, NDJSON, CSV). */
  readonly filesRead: number;
  /** Resources of supported types that passed validation. */
  readonly resourcesRead: number;
  /** De-identified resources written, by type. */
  readonly written: Record<string, number>;
  /** Resources of types the gate does not ingest (and CSV tables it does not read), by type: not written. */
  readonly skipped: Record<string, number>;
  /** Files, resources and rows refused: unreadable or invalid input, or refused by the gate. */
  readonly refused: readonly EmrIssue[];
  /** Elements removed or generalised, by Safe Harbor identifier kind. */
  readonly actions: Record<IdentifierKind, number>;
  /** Patients written (pseudonymised). */
  readonly patients: number;
  /** Files written into `outDir`. */
  readonly outputs: readonly string[];
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Reads every export under `inDir`; unreadable files become issues. */
async function readExports(inDir: string): Promise<{ parsed: ParsedExport; filesRead: number }> {
  const files = await listFiles(inDir);
  const parts: ParsedExport[] = [];
  let filesRead = 0;
  const csvDirs = new Set(files.filter((f) => path.basename(f).toLowerCase() === 'patients.csv').map((f) => path.dirname(f)));
  for (const file of files) {
    const lower = file.toLowerCase();
    const isJson = lower.endsWith('.json');
    const isNdjson = lower.endsWith('.ndjson');
    if (!isJson && !isNdjson) continue;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      parts.push({ resources: [], issues: [{ file, location: 'file', reason: 'cannot be read' }], skipped: {} });
      continue;
    }
    filesRead++;
    parts.push(isJson ? parseFhirJson(text, file) : parseFhirNdjson(text, file));
  }
  for (const dir of [...csvDirs].sort()) {
    try {
      const csv = await readSyntheaCsvDir(dir);
      filesRead += (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.csv')).length;
      parts.push(csv);
    } catch {
      parts.push({ resources: [], issues: [{ file: dir, location: 'folder', reason: 'Synthea CSV export cannot be read' }], skipped: {} });
    }
  }
  return { parsed: mergeParsed(parts), filesRead };
}

/**
 * The identified patient keys of the exports under `inDir` (the MRN, else Patient.id: what the DICOM PatientID
 * carries and the pseudonym is keyed on). For turning a study cohort back into the site's own PACS patient IDs;
 * the result is identified: keep it in memory, send it to the site's own PACS only, never log it.
 */
export async function readEmrPatientKeys(inDir: string): Promise<string[]> {
  const { parsed } = await readExports(inDir);
  return [...new Set(parsed.resources.filter((r) => r.resource.resourceType === 'Patient').map((r) => patientKey(r.resource)))];
}

/**
 * Ingests the EMR exports under `options.inDir` into `options.outDir` through the Safe Harbor gate.
 * Throws {@link InputError} only when `inDir` itself cannot be read; everything else is in the report.
 */
export async function ingestEmr(options: EmrIngestOptions): Promise<EmrIngestReport> {
  let exports: Awaited<ReturnType<typeof readExports>>;
  try {
    exports = await readExports(options.inDir);
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `EMR input folder ${options.inDir} cannot be read`, { path: options.inDir }, { cause: err });
  }
  const gate = new SafeHarbor({
    pseudonymizer: options.pseudonymizer,
    ...(options.dates !== undefined ? { dates: options.dates } : {}),
    ...(options.today !== undefined ? { today: options.today } : {}),
    ...(options.scrubber !== undefined ? { scrubber: options.scrubber } : {}),
  });
  const result = gate.deidentify(exports.parsed.resources);

  await mkdir(options.outDir, { recursive: true });
  for (const name of await readdir(options.outDir)) {
    if (name.endsWith('.ndjson')) await rm(path.join(options.outDir, name));
  }
  const written: Record<string, number> = {};
  const outputs: string[] = [];
  for (const type of SUPPORTED_RESOURCE_TYPES) {
    const of = result.resources.filter((r) => r.resourceType === type);
    if (of.length === 0) continue;
    const file = path.join(options.outDir, `${type}.ndjson`);
    await writeFile(file, `${of.map((r) => JSON.stringify(r)).join('\n')}\n`, { mode: 0o600 });
    written[type] = of.length;
    outputs.push(file);
  }
  return {
    inDir: options.inDir,
    outDir: options.outDir,
    filesRead: exports.filesRead,
    resourcesRead: exports.parsed.resources.length,
    written,
    skipped: exports.parsed.skipped,
    refused: [...exports.parsed.issues, ...result.refused],
    actions: Object.fromEntries(IDENTIFIER_KINDS.map((k) => [k, result.actions[k]])) as Record<IdentifierKind, number>,
    patients: written['Patient'] ?? 0,
    outputs,
  };
}

/** Reads the de-identified records a previous {@link ingestEmr} wrote into `cacheDir`. */
export async function readEmrCache(cacheDir: string): Promise<ParsedExport> {
  const parts: ParsedExport[] = [];
  for (const type of SUPPORTED_RESOURCE_TYPES) {
    const file = path.join(cacheDir, `${type}.ndjson`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `EMR cache file ${file} cannot be read`, { path: file }, { cause: err });
    }
    parts.push(parseFhirNdjson(text, file));
  }
  return mergeParsed(parts);
}
