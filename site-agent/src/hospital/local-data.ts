import path from 'node:path';
import type { AgentDatasetConfig } from '../../../shared/src/config/agent-config.js';
import { getBuiltinSchema, prepareSiteDataset, type SiteDataset } from './datasets/index.js';
import { DEID_OPTIONS, type DeidOption } from './deid/dicom-profile.js';
import { ConfigError } from '../../../shared/src/errors.js';
import type { Logger } from '../../../shared/src/logging.js';
import { ingestImageStudy, loadImageCache } from './ingest/image-study.js';

/**
 * Loads one configured dataset. A CSV dataset names its schema (`builtin:<name>` for one shipped with
 * Tessera); an imaging study first goes through the de-identification gate into its cache, and only the
 * cache is read.
 */
export async function loadLocalDataset(name: string, cfg: AgentDatasetConfig, baseDir: string, logger?: Logger): Promise<SiteDataset> {
  if ('kind' in cfg && cfg.kind === 'emr') {
    // EMR records become training data only through a study's `data:` (study-data/study-source.ts).
    throw new ConfigError(`'datasets.${name}' holds EMR records: it trains only studies that declare 'data:'`, { field: `datasets.${name}` });
  }
  if ('kind' in cfg) {
    const options = (cfg.deidOptions ?? []).map((o) => {
      if (!(DEID_OPTIONS as readonly string[]).includes(o)) {
        throw new ConfigError(`'datasets.${name}.deidOptions' has unknown option '${o}' (known: ${DEID_OPTIONS.join(', ')})`, { field: `datasets.${name}.deidOptions` });
      }
      return o as DeidOption;
    });
    const cache = path.resolve(baseDir, cfg.cache);
    await ingestImageStudy(
      { dicom: path.resolve(baseDir, cfg.dicom), fhir: path.resolve(baseDir, cfg.fhir), cache, secret: path.resolve(baseDir, cfg.secret), options },
      logger,
    );
    return loadImageCache(cache, {
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
