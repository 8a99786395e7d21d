import path from 'node:path';
import type { AgentConfig, AgentDatasetConfig } from '../../../shared/src/config/agent-config.js';
import { getBuiltinSchema, prepareSiteDataset, type SiteDataset } from './datasets/index.js';
import { ConfigError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { loadImageCache } from './ingest/image-study.js';
import { fillImagingCache } from './ingest/imaging-cache.js';

/**
 * Loads one configured dataset. A CSV dataset names its schema (`builtin:<name>` for one shipped with
 * Tessera); an imaging study first goes through the de-identification gate into its cache (from a folder, or
 * pulled incrementally from a PACS in `sources`), and only the cache is read.
 */
export async function loadLocalDataset(
  name: string,
  cfg: AgentDatasetConfig,
  baseDir: string,
  logger?: Logger,
  sources?: AgentConfig['sources'],
): Promise<SiteDataset> {
  if ('kind' in cfg && cfg.kind === 'emr') {
    // EMR records become training data only through a study's `data:` (study-data/study-source.ts).
    throw new ConfigError(`'datasets.${name}' holds EMR records: it trains only studies that declare 'data:'`, { field: `datasets.${name}` });
  }
  if ('kind' in cfg) {
    // A PACS that is down does not take the dataset away: the cache of earlier pulls trains (the log says why).
    // `pull: study`: nothing is pulled at start; each `data:` study pulls its cohort's studies (study-data/study-source.ts).
    const filled = await fillImagingCache(name, cfg, baseDir, sources, logger, { onPacsUnavailable: 'use-cache', ...(cfg.pull === 'study' ? { pacsQuery: null } : {}) });
    return loadImageCache(filled.cache, {
      shape: cfg.inputShape,
      dataset: name,
      ...(cfg.trainSplits !== undefined ? { trainSplits: cfg.trainSplits } : {}),
      ...(cfg.testSplits !== undefined ? { testSplits: cfg.testSplits } : {}),
      ...(cfg.valSplits !== undefined ? { valSplits: cfg.valSplits } : {}),
    });
  }
  const schema = cfg.schema.startsWith('builtin:')
    ? getBuiltinSchema(cfg.schema.slice('builtin:'.length))
    : path.resolve(baseDir, cfg.schema);
  const ds = await prepareSiteDataset({
    csvPath: path.resolve(baseDir, cfg.csv),
    schema,
    testFraction: cfg.testFraction ?? 0.34,
    seed: cfg.seed ?? 42,
    normalize: cfg.normalize ?? 'zscore',
  });
  return { ...ds, dataset: name };
}
