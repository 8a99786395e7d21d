import { readFileSync } from 'node:fs';
import path from 'node:path';

import { AgentConfigSchema, checkAgentConfig, type AgentConfig } from '../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { errorMessage, InputError, TesseraError } from '../../../shared/src/errors.js';
import { createLogger, type Logger } from '../../../shared/src/logging.js';
import { runDataCheck } from '../../../site-agent/src/hospital/data-check/data-check.js';
import { runStudyDataCheck } from '../../../site-agent/src/hospital/data-check/study-data-check.js';
import type { StudyFeasibility } from '../../../site-agent/src/hospital/study-data/feasibility.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE = `usage: tessera data check --config agent.yaml --dataset NAME [--study FILE] --out DIR [--tensors] [--json]

  A site's look at a dataset before training. An imaging dataset: pulls from its PACS source (or reads its folder),
  de-identifies through the gate into its cache, preprocesses without training, and writes
    DIR/report.json         found, fetched, written, quarantined, failed, decoded, used, and each skipped or
                            failed instance with its reason and pseudonymous id (no PHI)
    DIR/contact-sheet.png   the preprocessed inputs as a person would look at them
    DIR/tensors/<id>.npy    with --tensors: one float32 height × width × channels array per used instance

  --config FILE   the site agent's agent.yaml
  --dataset NAME  an imaging or emr dataset of agent.yaml
  --study FILE    a study.yaml to validate and record in the report's study section; its data: contract is
                  evaluated on the dataset (cohort, labels per class, features missing, codes unmapped, images
                  skipped: counts only, those under policy.minCellCount shown as <10). An emr dataset
                  (kind: emr) goes through the Safe Harbor gate and gets only this section.
  --out DIR       output folder (outside the dataset's cache and incoming folders)
  --tensors       also write the tensors
  --json          print report.json instead of the summary

  Exit 0 when at least one instance became a model input, 4 when none did (the agent would not offer
  this dataset), 2 for a bad command line or configuration.`;

/** `tessera data <subcommand>`: only `check` today. */
export async function dataCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    io.out(USAGE);
    return ExitCode.Ok;
  }
  if (sub !== 'check') return usageError(io, sub === undefined ? 'a subcommand is required' : `unknown subcommand '${sub}'`, USAGE);
  const args = parseCommandArgs(
    {
      args: rest,
      options: {
        config: { type: 'string' },
        dataset: { type: 'string' },
        study: { type: 'string' },
        out: { type: 'string' },
        tensors: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    USAGE,
    io,
  );
  if (typeof args === 'number') return args;
  if (args.config === undefined || args.dataset === undefined || args.out === undefined) return usageError(io, '--config, --dataset and --out are required', USAGE);
  try {
    const configPath = path.resolve(args.config);
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (err) {
      throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `--config ${configPath} cannot be read`, { file: configPath }, { cause: err });
    }
    const config = parseConfigText(AgentConfigSchema, text, configPath, checkAgentConfig);
    const logger = createLogger({ name: 'data-check', level: process.env['TESSERA_LOG_LEVEL'] ?? 'warn' });
    const picked = config.datasets[args.dataset];
    if (picked !== undefined && 'kind' in picked && picked.kind === 'emr') return await emrCheck(io, { config, configPath, dataset: args.dataset, out: args.out, study: args.study, json: args.json, logger });
    const report = await runDataCheck({
      config,
      baseDir: path.dirname(configPath),
      dataset: args.dataset,
      outDir: args.out,
      tensors: args.tensors,
      ...(args.study !== undefined ? { studyFile: args.study } : {}),
      logger,
    });
    if (args.json) io.out(JSON.stringify(report, null, 2));
    else {
      io.out(
        `tessera data check ${report.dataset} (${report.source.kind}${report.source.name !== undefined ? ` ${report.source.name}` : ''}): ` +
          `${report.found} found, ${report.fetched} fetched, ${report.cached} already cached, ${report.written} written, ${report.quarantined} quarantined, ` +
          `${report.failed} failed, ${report.decoded} decoded, ${report.used} used as ${report.inputShape.join('×')} inputs`,
      );
      for (const i of report.instances) io.out(`  ${i.status.padEnd(11)} ${i.stage.padEnd(10)} ${i.id}: ${i.reasons.map((r) => `${r.code}: ${r.message}`).join('; ')}`);
      if (report.study !== null && !report.study.datasetMatches) io.out(`  note: study ${report.study.id} names dataset '${report.study.dataset}', not '${report.dataset}'`);
      if (report.study !== null) printContract(io, report.study['contract'] as StudyFeasibility | null | undefined);
      io.out(`report: ${path.join(args.out, 'report.json')}; contact sheet: ${path.join(args.out, 'contact-sheet.png')}${args.tensors ? `; tensors: ${path.join(args.out, 'tensors')}/` : ''}`);
    }
    return report.used > 0 ? ExitCode.Ok : ExitCode.InputMissing;
  } catch (err) {
    io.err(`tessera data check: ${errorMessage(err)}`);
    if (err instanceof TesseraError && err.code === 'TESSERA_CONFIG_INVALID') return ExitCode.Usage;
    if (err instanceof TesseraError && (err.code.startsWith('TESSERA_INPUT_') || err.code.startsWith('TESSERA_PACS_'))) return ExitCode.InputMissing;
    return ExitCode.Internal;
  }
}

/** The study contract's counts in a few lines (report.json has them all). */
function printContract(io: CommandIo, c: StudyFeasibility | null | undefined): void {
  if (c === null || c === undefined) return;
  const p = c.patients;
  io.out(`  study ${c.studyId} (data: ${c.kind}): ${p.total} patients, ${p.withIndexEvent} with the index event, ${p.inCohort} in the cohort, ${p.labelled} labelled (counts under ${c.minCellCount} shown as <${c.minCellCount}, counts that would give one away as suppressed)`);
  io.out(`    labels: ${Object.entries(c.labelsPerClass).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (c.images !== undefined) io.out(`    images: ${c.images.used} used, ${c.images.skipped} skipped`);
  const missing = Object.entries(c.featuresMissing);
  if (missing.length > 0) io.out(`    features missing: ${missing.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const unmapped = Object.entries(c.unmapped.resources);
  if (unmapped.length > 0) io.out(`    records with unmapped codes: ${unmapped.map(([k, n]) => `${k} ${n}`).join(', ')} (see the site's mapping file)`);
  if (!c.trainable && c.declined !== undefined) io.out(`    this site would decline: ${c.declined.code}: ${c.declined.reason}`);
}

/** `tessera data check` on an emr dataset: the gate, then the study's `data:` evaluated on the cache. */
async function emrCheck(
  io: CommandIo,
  a: { config: AgentConfig; configPath: string; dataset: string; out: string; study: string | undefined; json: boolean; logger: Logger },
): Promise<number> {
  const report = await runStudyDataCheck({ config: a.config, baseDir: path.dirname(a.configPath), dataset: a.dataset, outDir: a.out, ...(a.study !== undefined ? { studyFile: a.study } : {}), logger: a.logger });
  if (a.json) io.out(JSON.stringify(report, null, 2));
  else {
    io.out(`tessera data check ${report.dataset} (emr)${report.study === null ? ': no --study given, records ingested through the gate only' : ''}`);
    if (report.study !== null && !report.study.datasetMatches) io.out(`  note: study ${report.study.id} names dataset '${report.study.dataset}', not '${report.dataset}'`);
    printContract(io, report.study?.contract);
    io.out(`report: ${path.join(a.out, 'report.json')}`);
  }
  const contract = report.study?.contract;
  return contract === undefined || contract === null || contract.trainable ? ExitCode.Ok : ExitCode.InputMissing;
}
