import path from 'node:path';
import type { AgentDatasetConfig } from '../../shared/src/config/agent-config.js';
import { getBuiltinSchema, prepareSiteDataset, type SiteDataset } from '../../shared/src/data/index.js';

/** Loads one configured dataset; `builtin:<name>` names a schema shipped with Tessera. */
export async function loadLocalDataset(name: string, cfg: AgentDatasetConfig, baseDir: string): Promise<SiteDataset> {
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
