/** The site agent's PACS sources: configuration → a {@link PacsSource}, and the incremental pull through the gate. */
import path from 'node:path';
import type { PacsSourceConfig } from '../../../../shared/src/config/agent-config.js';
import { DicomwebSource, dicomwebOptions } from './dicomweb-source.js';
import { DimseSource, dimseOptions } from './dimse-source.js';
import type { PacsSource } from './pacs-source.js';

export { DicomwebSource, type DicomwebSourceOptions } from './dicomweb-source.js';
export { DimseSource, type DimseSourceOptions } from './dimse-source.js';
export { openIncoming } from './incoming.js';
export { syncFromPacs, type AfterGateStep, type PacsSyncEntry, type PacsSyncOptions, type PacsSyncReport } from './pacs-sync.js';
export type { InstanceRef, PacsFailureCode, PacsSearchResult, PacsSource, RetrieveOutcome } from './pacs-source.js';

/** Builds the source `name` of `agent.yaml` (files it names are resolved against `baseDir` and read now). */
export async function createPacsSource(name: string, cfg: PacsSourceConfig, baseDir: string): Promise<PacsSource> {
  if (cfg.kind === 'dicomweb') return new DicomwebSource(await dicomwebOptions(cfg, (p) => path.resolve(baseDir, p), name));
  return new DimseSource(await dimseOptions(cfg, name, (p) => path.resolve(baseDir, p)));
}
