import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, ConfigError, TesseraError } from '../../shared/src/errors.js';
import { repoRoot } from '../../shared/src/paths.js';
import { exitQuietlyOnEpipe } from './epipe.js';
import { ExitCode } from './exit-codes.js';
import { usePrivateUmask } from './private-files.js';

const USAGE = `tessera <command> [options]

Commands:
  demo          run a whole federation on this machine (coordinator + site agents, mTLS, loopback)
  provision     create a consortium CA, the coordinator certificate, site kits and operator credentials
  revoke        revoke a site or operator certificate (the coordinator reloads the list without restart)
  coordinator   run the coordinator
  agent         run a site agent
  audit         export, verify, cross-check the signed audit ledger; build a study's evidence pack
  export-model  write a global model version in the TensorFlow.js format, with its provenance
  deid          de-identify a folder of DICOM files or a DICOMweb PACS (PS3.15 Basic Profile) into a cache folder, with a JSON report
  study         create, start, watch, pause, resume and abort studies over the REST API (operator token)
  sites         list the federation's sites over the REST API
  data          data check: a site's look at an imaging dataset (pull, de-identify, preprocess) before training
  deid-emr      de-identify a folder of EMR exports (FHIR R4, Synthea CSV) under HIPAA Safe Harbor, with a JSON report
  report-labels label radiology reports (CSV or FHIR DiagnosticReport NDJSON) with a lexicon: positive, negative, uncertain

Run 'tessera <command> --help' for a command's options.`;

/**
 * Each command is imported when it runs: a site agent need not load the coordinator's REST stack, the DICOM
 * codecs or the demo (about 14 MB of resident memory per agent process, which counts when one host runs
 * 100 agents).
 */
const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  demo: async (argv) => (await import('./commands/demo.js')).demoCommand(argv),
  provision: async (argv) => (await import('./commands/provision.js')).provisionCommand(argv),
  revoke: async (argv) => (await import('./commands/revoke.js')).revokeCommand(argv),
  coordinator: async (argv) => (await import('./commands/coordinator.js')).coordinatorCommand(argv),
  agent: async (argv) => (await import('./commands/agent.js')).agentCommand(argv),
  audit: async (argv) => (await import('./commands/audit.js')).auditCommand(argv),
  // Pulls in TF.js, like the agent.
  'export-model': async (argv) => (await import('./commands/export-model.js')).exportModelCommand(argv),
  deid: async (argv) => (await import('./commands/deid.js')).deidCommand(argv),
  study: async (argv) => (await import('./commands/study.js')).studyCommand(argv),
  sites: async (argv) => (await import('./commands/sites.js')).sitesCommand(argv),
  data: async (argv) => (await import('./commands/data.js')).dataCommand(argv),
  'deid-emr': async (argv) => (await import('./commands/deid-emr.js')).deidEmrCommand(argv),
  'report-labels': async (argv) => (await import('./commands/report-labels.js')).reportLabelsCommand(argv),
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
  // Output piped into `head` and the like: a closed reader ends the process quietly instead of a stack trace.
  exitQuietlyOnEpipe();
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
  // Files with secrets or state are the owner's only (0600 in 0700 folders), whatever the shell's umask.
  usePrivateUmask();
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
