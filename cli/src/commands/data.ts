import { readFileSync } from 'node:fs';
import path from 'node:path';

import { AgentConfigSchema, checkAgentConfig } from '../../../shared/src/config/agent-config.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { errorMessage, InputError, TesseraError } from '../../../shared/src/errors.js';
import { createLogger } from '../../../shared/src/logging.js';
import { runDataCheck } from '../../../site-agent/src/hospital/data-check/data-check.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE = `usage: tessera data check --config agent.yaml --dataset NAME [--study FILE] --out DIR [--tensors] [--json]

  A site's look at an imaging dataset before training: pulls from its PACS source (or reads its folder),
  de-identifies through the gate into its cache, preprocesses without training, and writes
    DIR/report.json         found, fetched, written, quarantined, failed, decoded, used, and each skipped or
                            failed instance with its reason and pseudonymous id (no PHI)
    DIR/contact-sheet.png   the preprocessed inputs as a person would look at them
    DIR/tensors/<id>.npy    with --tensors: one float32 height × width × channels array per used instance

  --config FILE   the site agent's agent.yaml
  --dataset NAME  an imaging dataset of agent.yaml
  --study FILE    a study.yaml to validate and record in the report's study section
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
