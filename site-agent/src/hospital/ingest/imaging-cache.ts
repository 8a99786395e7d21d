/**
 * Fills an imaging dataset's de-identified cache from where its images live: a folder of original files
 * (the whole cache rebuilt through the gate) or a PACS source (pulled incrementally through the gate, nothing
 * identified kept), then its EMR half. The agent (local-data.ts) and `tessera data check` both start here.
 */
import path from 'node:path';
import type { AgentConfig, AgentImagingDatasetConfig, PacsQuery } from '../../../../shared/src/config/agent-config.js';
import { mkdir, readdir } from 'node:fs/promises';
import { ConfigError, PacsError } from '../../../../shared/src/errors.js';
import type { Logger } from '../../../../shared/src/logging.js';
import { STRICT_BURNED_IN_POLICY, type BurnedInPolicy } from '../deid/burned-in.js';
import { DEID_OPTIONS, loadConfidentialityProfile, type DeidOption } from '../deid/dicom-profile.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../deid/pseudonym.js';
import { createPacsSource, syncFromPacs, type AfterGateStep, type PacsSyncEntry, type PacsSyncReport } from '../pacs/index.js';
import { DicomDeidGate, type DeidReport } from './dicom-deid-gate.js';
import { ingestImageStudy, ingestStudyEmr } from './image-study.js';

/** Where a dataset's cache lives and what filled it this time. */
export interface ImagingCacheResult {
  /** The cache folder (`dicom/`, `emr/`, `pacs/` inside). */
  readonly cache: string;
  /** Folder of the de-identified instances. */
  readonly dicomDir: string;
  readonly pseudonymizer: PatientPseudonymizer;
  /** The folder run's report (`dicom:` datasets). */
  readonly deid?: DeidReport;
  /** The PACS pull's report (`source:` datasets). */
  readonly pacs?: PacsSyncReport;
  /** Why the PACS could not be pulled from, when the cache of earlier pulls was used instead. */
  readonly pacsUnavailable?: string;
  /** Half-written cache files (`*.tmp`) a crash left in `dicomDir`, removed at start. */
  readonly temporariesSwept: number;
}

/** Hooks of {@link fillImagingCache}. */
export interface FillImagingCacheHooks {
  /** Called after each PACS instance. */
  readonly onPacsEntry?: (entry: PacsSyncEntry) => void;
  /** The step after the gate of a PACS pull (the data check's pipeline, overlapping the pull). */
  readonly afterGate?: AfterGateStep;
  /** Decode frame 0 before admitting an image (refuse undecodable pixels at the gate). @default false */
  readonly checkPixels?: boolean;
  /**
   * When the PACS cannot be used at all (`TESSERA_PACS_*`): `throw` (the data check says so), or `use-cache`
   * (the agent trains on what earlier pulls wrote, logging why this one did not run; it still throws when the
   * cache is empty). @default 'throw'
   */
  readonly onPacsUnavailable?: 'throw' | 'use-cache';
  /**
   * What to pull from a PACS source this time instead of the dataset's `query` (a study cohort's narrowed query),
   * or `null` to pull nothing and fill the EMR half only (`pull: study` at agent start). @default the dataset's query
   */
  readonly pacsQuery?: PacsQuery | null;
}

/** The dataset's PS3.15 options, each checked against the known names. */
export function datasetDeidOptions(name: string, cfg: AgentImagingDatasetConfig): DeidOption[] {
  return (cfg.deidOptions ?? []).map((o) => {
    if (!(DEID_OPTIONS as readonly string[]).includes(o)) {
      throw new ConfigError(`'datasets.${name}.deidOptions' has unknown option '${o}' (known: ${DEID_OPTIONS.join(', ')})`, { field: `datasets.${name}.deidOptions` });
    }
    return o as DeidOption;
  });
}

/** The dataset's burned-in annotation policy (agent.yaml `burnedInAnnotation`; strict when absent). */
export function datasetBurnedInPolicy(cfg: AgentImagingDatasetConfig): BurnedInPolicy {
  const b = cfg.burnedInAnnotation;
  return b === undefined ? STRICT_BURNED_IN_POLICY : { acceptUnknown: b.acceptUnknown ?? [], acceptDeclared: b.acceptDeclared ?? [] };
}

/** The incoming folder of a PACS dataset: `incoming`, else `<cache>.incoming` beside the cache. */
export function incomingFolder(cfg: AgentImagingDatasetConfig, baseDir: string): string {
  const cache = path.resolve(baseDir, cfg.cache);
  return cfg.incoming !== undefined ? path.resolve(baseDir, cfg.incoming) : `${cache}.incoming`;
}

/**
 * Runs the gates for dataset `name`. A PACS that cannot be searched at all throws `PacsError` (the cache
 * keeps what earlier pulls wrote); every per-instance problem is in the returned report.
 */
export async function fillImagingCache(
  name: string,
  cfg: AgentImagingDatasetConfig,
  baseDir: string,
  sources: AgentConfig['sources'],
  logger?: Logger,
  hooks: FillImagingCacheHooks = {},
): Promise<ImagingCacheResult> {
  const options = datasetDeidOptions(name, cfg);
  const cache = path.resolve(baseDir, cfg.cache);
  const dicomDir = path.join(cache, 'dicom');
  const secretFile = path.resolve(baseDir, cfg.secret);
  const fhir = cfg.fhir !== undefined ? path.resolve(baseDir, cfg.fhir) : undefined;
  if (cfg.dicom !== undefined) {
    const { deid } = await ingestImageStudy(
      { dicom: path.resolve(baseDir, cfg.dicom), ...(fhir !== undefined ? { fhir } : {}), cache, secret: secretFile, options, burnedIn: datasetBurnedInPolicy(cfg) },
      logger,
    );
    return { cache, dicomDir, pseudonymizer: new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(secretFile) }), deid, temporariesSwept: deid.temporariesSwept };
  }
  const sourceCfg = cfg.source !== undefined ? sources?.[cfg.source] : undefined;
  if (cfg.source === undefined || sourceCfg === undefined) {
    throw new ConfigError(`'datasets.${name}' needs exactly one of dicom (a folder) and source (a PACS in sources)`, { field: `datasets.${name}` });
  }
  const pseudonymizer = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(secretFile) });
  const gate = new DicomDeidGate({ outDir: dicomDir, profile: loadConfidentialityProfile(), pseudonymizer, options, checkPixels: hooks.checkPixels ?? false, burnedIn: datasetBurnedInPolicy(cfg) });
  // The cache outlives the agent here (pulls are incremental): what a crash mid-write left goes first.
  const temporariesSwept = await gate.sweepTemporaries();
  if (temporariesSwept > 0) logger?.warn({ dataset: name, swept: temporariesSwept }, 'removed half-written cache files left by an interrupted write');
  if (hooks.pacsQuery === null) {
    await mkdir(dicomDir, { recursive: true });
    await ingestStudyEmr(fhir, cache, pseudonymizer);
    return { cache, dicomDir, pseudonymizer, temporariesSwept };
  }
  const source = await createPacsSource(cfg.source, sourceCfg, baseDir);
  let pacs: PacsSyncReport | undefined;
  let pacsUnavailable: string | undefined;
  try {
    pacs = await syncFromPacs({
      source,
      query: hooks.pacsQuery ?? cfg.query ?? {},
      gate,
      incoming: incomingFolder(cfg, baseDir),
      stateFile: path.join(cache, 'pacs', 'state.jsonl'),
      ...(logger !== undefined ? { logger: logger.child({ dataset: name, source: cfg.source }) } : {}),
      ...(hooks.onPacsEntry !== undefined ? { onEntry: hooks.onPacsEntry } : {}),
      ...(hooks.afterGate !== undefined ? { afterGate: hooks.afterGate } : {}),
    });
  } catch (err) {
    const cached = (await readdir(dicomDir).catch(() => [] as string[])).filter((f) => f.endsWith('.dcm')).length;
    if (!(err instanceof PacsError) || hooks.onPacsUnavailable !== 'use-cache' || cached === 0) throw err;
    pacsUnavailable = err.message;
    logger?.warn({ dataset: name, source: cfg.source, code: err.code, reason: err.message, cached }, 'PACS unavailable: using the instances earlier pulls put in the cache');
  } finally {
    await source.close();
  }
  await ingestStudyEmr(fhir, cache, pseudonymizer);
  return { cache, dicomDir, pseudonymizer, temporariesSwept, ...(pacs !== undefined ? { pacs } : {}), ...(pacsUnavailable !== undefined ? { pacsUnavailable } : {}) };
}
