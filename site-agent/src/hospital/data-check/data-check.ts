/**
 * `tessera data check`: a site's look at an imaging dataset before any training. Pulls from the PACS (or reads
 * the folder), de-identifies through the gate into the dataset's cache, preprocesses every cached instance into
 * the model's input, and writes what a person needs to judge it: `report.json` (counts, and each skipped or
 * failed instance with its reason under its pseudonymous id; no PHI), `contact-sheet.png` (the inputs as they
 * look), and with `tensors` one `tensors/<id>.npy` per used instance. The `study` section records the
 * validated study file and, under `contract`, its `data:` evaluated on the cache (suppressed counts only).
 */
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig, AgentImagingDatasetConfig } from '../../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../../shared/src/config/validate.js';
import { ConfigError, InputError } from '../../../../shared/src/errors.js';
import type { Logger } from '../../../../shared/src/logging.js';
import { checkStudySpecData, StudySpecSchema, type StudySpec } from '../../../../shared/src/study/study-spec.js';
import { loadConfidentialityProfile } from '../deid/dicom-profile.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../deid/pseudonym.js';
import { DicomDeidGate } from '../ingest/dicom-deid-gate.js';
import { ingestStudyEmr } from '../ingest/image-study.js';
import { datasetBurnedInPolicy, datasetDeidOptions, fillImagingCache, incomingFolder } from '../ingest/imaging-cache.js';
import { NamedLexiconLabeler } from '../reports/index.js';
import { studyCohortPacsQuery, studyFeasibilityForDataset } from '../study-data/feasibility.js';
import { renderContactSheet } from './contact-sheet.js';
import { PreprocessPool } from '../imaging/preprocess-pool.js';
import { pipelineAfterGate, preprocessCandidates } from './preprocess-candidates.js';
import type { InstancePreprocessor } from './preprocess-step.js';

/** Where an instance stopped. */
export type DataCheckStage = 'retrieve' | 'gate' | 'decode' | 'preprocess';

/** One instance that did not become a model input. */
export interface DataCheckInstance {
  /** Pseudonymous id: the de-identified SOP Instance UID, or `file-<keyed hash>` for a folder file the gate refused. */
  readonly id: string;
  readonly status: 'quarantined' | 'failed' | 'skipped';
  readonly stage: DataCheckStage;
  readonly reasons: readonly { readonly code: string; readonly message: string }[];
}

/** The `study` section: filled from `--study`; the study-data contract adds cohort counts here. */
export interface DataCheckStudySection {
  /** File name of the study spec (not its path). */
  readonly file: string;
  readonly id: string;
  readonly dataset: string;
  readonly model: string;
  /** Whether the study names the dataset checked. */
  readonly datasetMatches: boolean;
  /** Extensions (cohort counts, labels, features) by the study-data contract. */
  readonly [extension: string]: unknown;
}

/** `report.json`. */
export interface DataCheckReport {
  readonly format: 'tessera-data-check/1';
  readonly dataset: string;
  readonly source: { readonly kind: 'folder' | 'dicomweb' | 'dimse'; readonly name?: string };
  readonly inputShape: readonly [number, number, number];
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Instances the PACS listed, or files in the folder. */
  readonly found: number;
  /** Retrieved from the PACS (read from the folder) in this run. */
  readonly fetched: number;
  /** Already in the cache from an earlier pull: not fetched again (PACS sources). */
  readonly cached: number;
  /** Admitted by the gate into the cache in this run. */
  readonly written: number;
  readonly quarantined: number;
  /** Retrieval or gate failures. */
  readonly failed: number;
  /** Cached instances whose pixels decoded. */
  readonly decoded: number;
  /** Instances that became a model input (one tensor each). */
  readonly used: number;
  /** Every instance skipped, quarantined or failed, with its reasons. */
  readonly instances: readonly DataCheckInstance[];
  readonly contactSheet: 'contact-sheet.png';
  /** `tensors/` when `--tensors` wrote them, else null. */
  readonly tensors: 'tensors/' | null;
  readonly study: DataCheckStudySection | null;
}

/** Options of {@link runDataCheck}. */
export interface DataCheckOptions {
  readonly config: AgentConfig;
  /** Folder relative paths in the config resolve against (that of agent.yaml). */
  readonly baseDir: string;
  readonly dataset: string;
  readonly outDir: string;
  readonly tensors?: boolean;
  /** A study spec (study.yaml) to validate and record. */
  readonly studyFile?: string;
  readonly logger?: Logger;
  /** @default the data check's preprocessing step (the image pipeline, on a pool of worker threads) */
  readonly preprocess?: InstancePreprocessor;
  /** Worker threads of the default step. @default min(cores, 4) */
  readonly preprocessThreads?: number;
  /** Most tiles on the contact sheet. @default 100 */
  readonly maxTiles?: number;
}

const RETRIEVE_CODES: ReadonlySet<string> = new Set(['unreachable', 'timeout', 'connection-reset', 'http-status', 'too-large', 'not-dicom', 'multipart', 'dimse-status', 'not-found']);

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function studySection(file: string, dataset: string): Promise<{ section: DataCheckStudySection; spec: StudySpec }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `--study ${file} cannot be read`, { file }, { cause: err });
  }
  const spec = parseConfigText(StudySpecSchema, text, path.basename(file), checkStudySpecData);
  return { section: { file: path.basename(file), id: spec.id, dataset: spec.dataset, model: spec.model, datasetMatches: spec.dataset === dataset }, spec };
}

/** A folder dataset through the gate, file by file, each named in reports by a keyed hash of its path only. */
async function gateFolder(
  cfg: AgentImagingDatasetConfig & { dicom: string },
  name: string,
  baseDir: string,
): Promise<{ cache: string; dicomDir: string; found: number; written: string[]; refused: DataCheckInstance[] }> {
  const cache = path.resolve(baseDir, cfg.cache);
  const dicomDir = path.join(cache, 'dicom');
  const inDir = path.resolve(baseDir, cfg.dicom);
  if (inside(cache, inDir) || inside(inDir, cache)) throw new ConfigError(`'datasets.${name}': the cache must not be inside the dicom folder, nor the folder inside the cache`);
  const pseudonymizer = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(path.resolve(baseDir, cfg.secret)) });
  let files: string[];
  try {
    files = (await readdir(inDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
  } catch (err) {
    throw new InputError('TESSERA_INPUT_DEID_FOLDER', `datasets.${name}.dicom: ${inDir} cannot be read`, { inDir }, { cause: err });
  }
  await rm(dicomDir, { recursive: true, force: true });
  const gate = new DicomDeidGate({ outDir: dicomDir, profile: loadConfidentialityProfile(), pseudonymizer, options: datasetDeidOptions(name, cfg), burnedIn: datasetBurnedInPolicy(cfg) });
  const written: string[] = [];
  const refused: DataCheckInstance[] = [];
  for (const file of files) {
    const id = `file-${pseudonymizer.pseudonym(`file:${path.relative(inDir, file)}`).slice(0, 16)}`;
    const entry = await gate.admitFile(file, id);
    if (entry.status === 'written') written.push(entry.output.slice(0, -'.dcm'.length));
    else refused.push({ id, status: entry.status, stage: 'gate', reasons: entry.reasons.map((r) => ({ code: r.code, message: r.message })) });
  }
  await ingestStudyEmr(cfg.fhir !== undefined ? path.resolve(baseDir, cfg.fhir) : undefined, cache, pseudonymizer);
  return { cache, dicomDir, found: files.length, written, refused };
}


/** Runs the check and writes its files into `outDir`; returns the report (also in `report.json`). */
export async function runDataCheck(opts: DataCheckOptions): Promise<DataCheckReport> {
  const startedAt = new Date().toISOString();
  const cfg = opts.config.datasets[opts.dataset];
  if (cfg === undefined) {
    throw new ConfigError(`--dataset ${opts.dataset} is not in agent.yaml (datasets: ${Object.keys(opts.config.datasets).join(', ') || 'none'})`, { field: 'datasets' });
  }
  if (!('kind' in cfg)) throw new ConfigError(`--dataset ${opts.dataset} is a tabular CSV dataset; tessera data check looks at imaging datasets`, { field: `datasets.${opts.dataset}` });
  if (cfg.kind !== 'imaging-study') throw new ConfigError(`--dataset ${opts.dataset} is an emr dataset: its data check is runStudyDataCheck (data-check/study-data-check.ts)`, { field: `datasets.${opts.dataset}` });
  const outDir = path.resolve(opts.outDir);
  const cache = path.resolve(opts.baseDir, cfg.cache);
  for (const forbidden of [cache, incomingFolder(cfg, opts.baseDir), ...(cfg.dicom !== undefined ? [path.resolve(opts.baseDir, cfg.dicom)] : [])]) {
    if (inside(outDir, forbidden) || inside(forbidden, outDir)) {
      throw new ConfigError(`--out ${outDir} must lie outside the dataset's cache, incoming and dicom folders (and not contain them)`, { field: 'out' });
    }
  }
  const studied = opts.studyFile !== undefined ? await studySection(path.resolve(opts.studyFile), opts.dataset) : null;
  const shape = cfg.inputShape;
  const instances: DataCheckInstance[] = [];
  let candidates: string[];
  let counts: { found: number; fetched: number; cached: number; written: number };
  let dicomDir: string;
  let sourceInfo: DataCheckReport['source'];
  let pool: PreprocessPool | undefined;
  let pipeline: ReturnType<typeof pipelineAfterGate> | undefined;
  if (cfg.dicom !== undefined) {
    const folder = await gateFolder({ ...cfg, dicom: cfg.dicom }, opts.dataset, opts.baseDir);
    dicomDir = folder.dicomDir;
    candidates = folder.written;
    instances.push(...folder.refused);
    counts = { found: folder.found, fetched: folder.found, cached: 0, written: folder.written.length };
    sourceInfo = { kind: 'folder' };
  } else {
    // `pull: study` with a study: only the study's cohort is pulled, as the agent would (study-data/feasibility.ts).
    const cohort = cfg.pull === 'study' && studied?.spec.data !== undefined ? await studyCohortPacsQuery(studied.spec, opts.dataset, opts.config, opts.baseDir, opts.logger) : undefined;
    // The default step overlaps the pull: each written instance goes to the pool's threads as the gate writes it.
    if (opts.preprocess === undefined) {
      pool = PreprocessPool.create(opts.preprocessThreads !== undefined ? { threads: opts.preprocessThreads } : {});
      pipeline = pipelineAfterGate(pool, shape);
    }
    const hooks = { ...(cohort !== undefined ? { pacsQuery: cohort } : {}), ...(pipeline !== undefined ? { afterGate: pipeline.step } : {}) };
    const filled = await fillImagingCache(opts.dataset, cfg, opts.baseDir, opts.config.sources, opts.logger, hooks).catch(async (err: unknown) => {
      await pool?.close();
      throw err;
    });
    const none = { found: 0, fetched: 0, cached: 0, written: 0, entries: [] };
    const pacs = filled.pacs ?? (cohort === null ? none : undefined);
    if (pacs === undefined) throw new ConfigError(`'datasets.${opts.dataset}' has no source`);
    dicomDir = filled.dicomDir;
    candidates = [];
    for (const e of pacs.entries) {
      if (e.status === 'written') candidates.push(e.id);
      else if (e.status === 'cached') candidates.push(e.id);
      else {
        const retrieve = e.reasons.some((r) => RETRIEVE_CODES.has(r.code));
        instances.push({ id: e.id, status: e.status === 'quarantined' ? 'quarantined' : 'failed', stage: retrieve ? 'retrieve' : 'gate', reasons: e.reasons });
      }
    }
    counts = { found: pacs.found, fetched: pacs.fetched, cached: pacs.cached, written: pacs.written };
    const kind = cfg.source !== undefined ? opts.config.sources?.[cfg.source]?.kind : undefined;
    sourceInfo = { kind: kind ?? 'dicomweb', ...(cfg.source !== undefined ? { name: cfg.source } : {}) };
  }
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  await chmod(outDir, 0o700);
  const tensorsDir = path.join(outDir, 'tensors');
  await rm(tensorsDir, { recursive: true, force: true });
  if (opts.tensors === true) await mkdir(tensorsDir, { mode: 0o700 });
  const { tiles, decoded, used, problems } = await preprocessCandidates({
    ids: candidates.sort(),
    dicomDir,
    shape,
    ...(opts.preprocess !== undefined ? { preprocess: opts.preprocess } : {}),
    ...(opts.preprocessThreads !== undefined ? { threads: opts.preprocessThreads } : {}),
    ...(pool !== undefined ? { pool } : {}),
    ...(pipeline !== undefined ? { early: pipeline.early } : {}),
    ...(opts.tensors === true ? { tensorsDir } : {}),
    maxTiles: opts.maxTiles ?? 100,
  }).finally(() => pool?.close());
  instances.push(...problems);
  await writeFile(path.join(outDir, 'contact-sheet.png'), renderContactSheet(tiles), { mode: 0o600 });
  // The study's `data:` contract evaluated on the cache just filled: suppressed counts only (study-data/feasibility.ts).
  const study: DataCheckStudySection | null =
    studied === null
      ? null
      : {
          ...studied.section,
          contract:
            (await studyFeasibilityForDataset(studied.spec, opts.dataset, opts.config, opts.baseDir, {
              ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
              reportLabeler: await NamedLexiconLabeler.create(),
            })) ?? null,
        };
  const report: DataCheckReport = {
    format: 'tessera-data-check/1',
    dataset: opts.dataset,
    source: sourceInfo,
    inputShape: [shape[0], shape[1], shape[2]],
    startedAt,
    finishedAt: new Date().toISOString(),
    ...counts,
    quarantined: instances.filter((i) => i.status === 'quarantined').length,
    failed: instances.filter((i) => i.status === 'failed' && (i.stage === 'retrieve' || i.stage === 'gate')).length,
    decoded,
    used,
    instances,
    contactSheet: 'contact-sheet.png',
    tensors: opts.tensors === true ? 'tensors/' : null,
    study,
  };
  await writeFile(path.join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
  opts.logger?.info({ dataset: opts.dataset, found: report.found, written: report.written, decoded, used, skipped: instances.length }, 'data check written');
  return report;
}
