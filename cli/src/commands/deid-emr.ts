import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../../../site-agent/src/hospital/deid/pseudonym.js';
import { errorMessage, TesseraError } from '../../../shared/src/errors.js';
import { ingestEmr } from '../../../site-agent/src/hospital/ingest/emr-ingest.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE = 'usage: tessera deid-emr --in DIR --out DIR [--report FILE] [--secret FILE] [--dates shift|year]';

/**
 * `tessera deid-emr`: runs the EMR de-identification gate (HIPAA Safe Harbor) on a folder of FHIR R4
 * Bundles / NDJSON and Synthea CSV exports, writing de-identified NDJSON per resource type into `--out`
 * and the JSON report (counts, refused items with reasons, elements changed per identifier kind) to
 * `--report`. `--secret` is the site secret file (created, mode 0600, if absent; default
 * `<out>/../site-secret.hex`): use the same file for `tessera deid` so imaging and EMR link and shift
 * dates alike. Returns 0 when the run completed (refused items are in the report), 2 for bad arguments,
 * 4 when the input folder cannot be read.
 */
export async function deidEmrCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const args = parseCommandArgs(
    {
      args: argv,
      options: {
        in: { type: 'string' },
        out: { type: 'string' },
        report: { type: 'string' },
        secret: { type: 'string' },
        dates: { type: 'string', default: 'shift' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    USAGE,
    io,
  );
  if (typeof args === 'number') return args;
  if (args.in === undefined || args.out === undefined || (args.dates !== 'shift' && args.dates !== 'year')) {
    return usageError(io, '--in and --out are required; --dates is shift or year', USAGE);
  }
  const outDir = path.resolve(args.out);
  if (path.resolve(args.in) === outDir) {
    return usageError(io, '--out must differ from --in: the output folder holds only de-identified records', USAGE);
  }
  try {
    const secret = await loadOrCreateSiteSecret(args.secret ?? path.join(path.dirname(outDir), 'site-secret.hex'));
    const report = await ingestEmr({ inDir: args.in, outDir, pseudonymizer: new PatientPseudonymizer({ secret }), dates: args.dates, today: io.now().toISOString().slice(0, 10) });
    const written = Object.values(report.written).reduce((a, b) => a + b, 0);
    io.out(`read ${report.filesRead} files, ${report.resourcesRead} resources; wrote ${written} de-identified resources of ${report.patients} patients to ${outDir}`);
    io.out(`refused ${report.refused.length} items; skipped types: ${Object.keys(report.skipped).join(', ') || 'none'}`);
    if (args.report !== undefined) {
      await writeFile(args.report, `${JSON.stringify(report, null, 2)}\n`);
      io.out(`report: ${args.report}`);
    }
    return ExitCode.Ok;
  } catch (err) {
    io.err(`deid-emr failed: ${errorMessage(err)}`);
    if (err instanceof TesseraError) return err.code.startsWith('TESSERA_INPUT_') ? ExitCode.InputMissing : ExitCode.Usage;
    return ExitCode.Internal;
  }
}
