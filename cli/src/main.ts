import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, ConfigError, TesseraError } from '../../shared/src/errors.js';
import { repoRoot } from '../../shared/src/paths.js';
import { agentCommand } from './commands/agent.js';
import { auditCommand } from './commands/audit.js';
import { coordinatorCommand } from './commands/coordinator.js';
import { deidEmrCommand } from './commands/deid-emr.js';
import { deidCommand } from './commands/deid.js';
import { demoCommand } from './commands/demo.js';
import { provisionCommand } from './commands/provision.js';
import { revokeCommand } from './commands/revoke.js';
import { sitesCommand } from './commands/sites.js';
import { studyCommand } from './commands/study.js';
import { ExitCode } from './exit-codes.js';

const USAGE = `tessera <command> [options]

Commands:
  demo          run a whole federation on this machine (coordinator + site agents, mTLS, loopback)
  provision     create a consortium CA, the coordinator certificate, site kits and operator credentials
  revoke        revoke a site or operator certificate (the coordinator reloads the list without restart)
  coordinator   run the coordinator
  agent         run a site agent
  audit         export, verify, cross-check the signed audit ledger; build a study's evidence pack
  export-model  write a global model version in the TensorFlow.js format, with its provenance
  deid          de-identify a folder of DICOM files (PS3.15 Basic Profile) into a cache folder, with a JSON report
  study         create, start, watch, pause, resume and abort studies over the REST API (operator token)
  sites         list the federation's sites over the REST API
  deid-emr      de-identify a folder of EMR exports (FHIR R4, Synthea CSV) under HIPAA Safe Harbor, with a JSON report

Run 'tessera <command> --help' for a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  demo: demoCommand,
  provision: provisionCommand,
  revoke: revokeCommand,
  coordinator: coordinatorCommand,
  agent: agentCommand,
  audit: (argv) => auditCommand(argv),
  // Loaded on demand: it pulls in TF.js, which the other commands' start-up does not need.
  'export-model': async (argv) => (await import('./commands/export-model.js')).exportModelCommand(argv),
  deid: deidCommand,
  study: (argv) => studyCommand(argv),
  sites: (argv) => sitesCommand(argv),
  'deid-emr': deidEmrCommand,
};

/** Exit code for an answer of the REST API (see docs/errors.md, "CLI exit codes"). */
export function apiExitCode(code: string): number {
  if (code === 'TESSERA_API_UNAUTHENTICATED' || code === 'TESSERA_API_FORBIDDEN') return ExitCode.Denied;
  if (code === 'TESSERA_API_UNREACHABLE') return ExitCode.Unreachable;
  if (code === 'TESSERA_API_INVALID_REQUEST') return ExitCode.Usage;
  return ExitCode.Rejected;
}

/** CLI entry point; returns the process exit code (see cli/src/exit-codes.ts). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (name === '--version') {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    console.log(pkg.version);
    return ExitCode.Ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`tessera: unknown command '${name}'\n\n${USAGE}`);
    return ExitCode.Usage;
  }
  const json = rest.includes('--json');
  try {
    return await command(rest);
  } catch (err) {
    if (json && err instanceof TesseraError) console.log(JSON.stringify({ error: { code: err.code, message: err.message } }));
    if (err instanceof ApiError) {
      console.error(`tessera ${name}: ${err.code}: ${err.message}`);
      return apiExitCode(err.code);
    }
    if (err instanceof ConfigError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`tessera ${name}: ${err.message}`);
      return ExitCode.Usage;
    }
    if (err instanceof TesseraError) {
      console.error(`tessera ${name}: ${err.code}: ${err.message}`);
      return err.code.startsWith('TESSERA_INPUT_') ? ExitCode.InputMissing : ExitCode.Internal;
    }
    throw err;
  }
}
