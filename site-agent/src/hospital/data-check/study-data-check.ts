/**
 * `tessera data check --study FILE` on an EMR dataset (`kind: emr` in agent.yaml): the records go through the
 * Safe Harbor gate into the dataset's cache and the study's `data:` contract is evaluated on them, without
 * training. Writes `DIR/report.json` with the `study` section: the study's identity and, under `contract`,
 * the feasibility counts ({@link studyFeasibility}), each below `policy.minCellCount` shown as `"<10"`.
 * Imaging datasets go through the imaging data check, whose `study` section takes the same `contract` part.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig } from '../../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../../shared/src/config/validate.js';
import { ConfigError, InputError } from '../../../../shared/src/errors.js';
import type { Logger } from '../../../../shared/src/logging.js';
import { checkStudySpecData, StudySpecSchema } from '../../../../shared/src/study/study-spec.js';
import { NamedLexiconLabeler } from '../reports/index.js';
import { studyFeasibilityForDataset, type StudyFeasibility } from '../study-data/feasibility.js';

/** `report.json` of an EMR dataset's data check. */
export interface StudyDataCheckReport {
  readonly format: 'tessera-data-check/1';
  readonly dataset: string;
  readonly source: { readonly kind: 'emr' };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly study: {
    /** File name of the study spec (not its path). */
    readonly file: string;
    readonly id: string;
    readonly dataset: string;
    readonly model: string;
    readonly datasetMatches: boolean;
    /** The contract's feasibility at this site; null when the study declares no `data:`. */
    readonly contract: StudyFeasibility | null;
  } | null;
}

/** Options of {@link runStudyDataCheck}. */
export interface StudyDataCheckOptions {
  readonly config: AgentConfig;
  /** Folder agent.yaml's relative paths resolve against. */
  readonly baseDir: string;
  readonly dataset: string;
  readonly outDir: string;
  readonly studyFile?: string;
  readonly logger?: Logger;
}

/** Runs the check on an `emr` dataset and writes `outDir/report.json`; returns the report. */
export async function runStudyDataCheck(opts: StudyDataCheckOptions): Promise<StudyDataCheckReport> {
  const startedAt = new Date().toISOString();
  const cfg = opts.config.datasets[opts.dataset];
  if (cfg === undefined || !('kind' in cfg) || cfg.kind !== 'emr') {
    throw new ConfigError(`--dataset ${opts.dataset} is not an emr dataset in agent.yaml`, { field: `datasets.${opts.dataset}` });
  }
  const outDir = path.resolve(opts.outDir);
  const cache = path.resolve(opts.baseDir, cfg.cache);
  const rel = path.relative(cache, outDir);
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel)) || !path.relative(outDir, cache).startsWith('..')) {
    throw new ConfigError(`--out ${outDir} must lie outside the dataset's cache (and not contain it)`, { field: 'out' });
  }
  let study: StudyDataCheckReport['study'] = null;
  if (opts.studyFile !== undefined) {
    const file = path.resolve(opts.studyFile);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `--study ${file} cannot be read`, { file }, { cause: err });
    }
    const spec = parseConfigText(StudySpecSchema, text, path.basename(file), checkStudySpecData);
    const contract = await studyFeasibilityForDataset(spec, opts.dataset, opts.config, opts.baseDir, {
      ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
      reportLabeler: await NamedLexiconLabeler.create(),
    });
    study = { file: path.basename(file), id: spec.id, dataset: spec.dataset, model: spec.model, datasetMatches: spec.dataset === opts.dataset, contract: contract ?? null };
  }
  const report: StudyDataCheckReport = { format: 'tessera-data-check/1', dataset: opts.dataset, source: { kind: 'emr' }, startedAt, finishedAt: new Date().toISOString(), study };
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
  return report;
}
