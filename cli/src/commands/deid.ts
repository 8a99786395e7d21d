import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { DEID_OPTIONS, loadConfidentialityProfile, type DeidOption } from '../../../site-agent/src/hospital/deid/dicom-profile.js';
import { loadOrCreateSiteSecret, PatientPseudonymizer } from '../../../site-agent/src/hospital/deid/pseudonym.js';
import { errorMessage, InputError, TesseraError } from '../../../shared/src/errors.js';
import { DicomDeidGate, runDicomDeid } from '../../../site-agent/src/hospital/ingest/dicom-deid-gate.js';
import { DicomwebSource, syncFromPacs } from '../../../site-agent/src/hospital/pacs/index.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE = `usage: tessera deid --in DIR|URL --out DIR [--options LIST] [--report FILE] [--secret FILE] [--profile FILE] [--check-pixels]

  --in DIR        folder of DICOM files (read recursively; never modified)
  --in URL        or a DICOMweb root (http(s)://host/dicom-web, no auth): every instance its QIDO-RS lists is
                  retrieved with WADO-RS straight into the gate; identified temporaries only in <out>.incoming
                  (0700, emptied as each instance is through); a second run fetches only what is new
  --out DIR       where de-identified files are written (only those; created if absent)
  --options LIST  comma-separated PS3.15 options: ${DEID_OPTIONS.join(', ')}
  --report FILE   JSON report: files in, written, quarantined and failed with reasons, attributes by action
  --secret FILE   site secret for pseudonyms, UIDs and date shifts (created, mode 0600, if absent)
                  default: $TESSERA_SITE_SECRET_FILE or <out>/../site-secret.hex (as tessera deid-emr)
  --profile FILE  PS3.15 Table E.1-1 as JSON (default: the table shipped with Tessera, PS3.15 2024b)
  --check-pixels  decode frame 0 of each image and refuse those no bundled codec can read`;

/** Parses `--options`: comma-separated option names, each known, no repeats. */
export function parseDeidOptions(list: string | undefined): DeidOption[] {
  if (list === undefined || list.trim() === '') return [];
  const names = list.split(',').map((s) => s.trim());
  const out: DeidOption[] = [];
  for (const name of names) {
    if (!(DEID_OPTIONS as readonly string[]).includes(name)) {
      throw new InputError('TESSERA_INPUT_DEID_OPTION', `unknown de-identification option '${name}' (known: ${DEID_OPTIONS.join(', ')})`, { option: name });
    }
    if (!out.includes(name as DeidOption)) out.push(name as DeidOption);
  }
  return out;
}

/** `$TESSERA_SITE_SECRET_FILE`, else `<out>/../site-secret.hex`: the default `tessera deid-emr` uses too, so both link. */
function defaultSecretPath(outDir: string): string {
  const fromEnv = process.env['TESSERA_SITE_SECRET_FILE'];
  return fromEnv != null && fromEnv !== '' ? fromEnv : path.join(path.dirname(path.resolve(outDir)), 'site-secret.hex');
}

/** `tessera deid --in URL`: a DICOMweb pull through the gate (no auth, default limits). */
async function deidFromDicomweb(
  url: string,
  outDir: string,
  reportFile: string | undefined,
  pseudonymizer: PatientPseudonymizer,
  profile: ReturnType<typeof loadConfidentialityProfile>,
  options: DeidOption[],
  checkPixels: boolean,
  io: CommandIo,
): Promise<number> {
  if (!/^https?:\/\//i.test(url)) {
    throw new InputError('TESSERA_INPUT_DEID_FOLDER', `--in ${new URL(url).protocol} URLs are not supported: give a folder or a DICOMweb root (http:// or https://)`);
  }
  const parsedUrl = new URL(url);
  const source = new DicomwebSource({ url: `${parsedUrl.origin}${parsedUrl.pathname}`, concurrency: 4, requestsPerSecond: 50, timeoutMs: 60_000, retries: 2 });
  const gate = new DicomDeidGate({ outDir, profile, pseudonymizer, options, checkPixels });
  const swept = await gate.sweepTemporaries();
  if (swept > 0) io.out(`tessera deid: removed ${swept} half-written file(s) an interrupted run left in ${outDir}`);
  try {
    const report = await syncFromPacs({
      source,
      query: {},
      gate,
      incoming: `${outDir}.incoming`,
      stateFile: path.join(path.dirname(outDir), `.${path.basename(outDir)}.pacs-state.jsonl`),
    });
    if (reportFile !== undefined) await writeFile(reportFile, `${JSON.stringify({ source: parsedUrl.host, ...report }, null, 2)}\n`, { mode: 0o600 });
    io.out(
      `tessera deid: ${report.found} listed by ${parsedUrl.host}, ${report.cached} already in the cache, ${report.fetched} fetched, ${report.written} written, ${report.quarantined} quarantined, ${report.failed} failed`,
    );
    for (const e of report.entries.filter((x) => x.status === 'failed' || x.status === 'quarantined')) {
      io.out(`  ${e.status.padEnd(11)} ${e.id}: ${e.reasons.map((r) => r.message).join('; ')}`);
    }
    if (reportFile !== undefined) io.out(`report: ${reportFile}`);
    return ExitCode.Ok;
  } finally {
    await source.close();
  }
}

/**
 * `tessera deid`: runs the DICOM de-identification gate over a folder (see site-agent/src/hospital/ingest/dicom-deid-gate.ts).
 * Exit 0 when the run completed (whatever was quarantined or failed: the report says), 2 for bad arguments or
 * options, 4 for an unusable folder, 1 for anything else.
 */
export async function deidCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const args = parseCommandArgs(
    {
      args: argv,
      options: {
        in: { type: 'string' },
        out: { type: 'string' },
        options: { type: 'string' },
        report: { type: 'string' },
        secret: { type: 'string' },
        profile: { type: 'string' },
        'check-pixels': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    USAGE,
    io,
  );
  if (typeof args === 'number') return args;
  if (args.in === undefined || args.out === undefined) {
    return usageError(io, '--in and --out are required', USAGE);
  }
  try {
    const options = parseDeidOptions(args.options);
    if (args.report !== undefined) {
      const rel = path.relative(path.resolve(args.out), path.resolve(args.report));
      if (!rel.startsWith('..') && !path.isAbsolute(rel)) {
        throw new InputError('TESSERA_INPUT_DEID_OPTION', '--report must not be inside --out (the output folder holds only de-identified files)');
      }
    }
    const profile = loadConfidentialityProfile(args.profile);
    const secretPath = args.secret ?? defaultSecretPath(args.out);
    const pseudonymizer = new PatientPseudonymizer({ secret: await loadOrCreateSiteSecret(secretPath) });
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(args.in)) {
      return await deidFromDicomweb(args.in, path.resolve(args.out), args.report, pseudonymizer, profile, options, args['check-pixels'], io);
    }
    const report = await runDicomDeid({ inDir: args.in, outDir: args.out, profile, pseudonymizer, options, checkPixels: args['check-pixels'] });
    if (report.temporariesSwept > 0) io.out(`tessera deid: removed ${report.temporariesSwept} half-written file(s) an interrupted run left in ${args.out}`);
    if (args.report !== undefined) await writeFile(args.report, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
    io.out(
      `tessera deid: ${report.filesIn} in, ${report.written.length} written, ${report.quarantined.length} quarantined, ${report.failed.length} failed` +
        (options.length > 0 ? ` (options: ${options.join(', ')})` : ''),
    );
    for (const e of [...report.quarantined, ...report.failed]) {
      if (e.status !== 'written') io.out(`  ${e.status.padEnd(11)} ${e.file}: ${e.reasons.map((r) => r.message).join('; ')}`);
    }
    if (args.report !== undefined) io.out(`report: ${args.report}`);
    return ExitCode.Ok;
  } catch (err) {
    io.err(`tessera deid: ${errorMessage(err)}`);
    if (err instanceof TesseraError && err.code.startsWith('TESSERA_PACS_')) return ExitCode.InputMissing;
    if (err instanceof InputError) return err.code === 'TESSERA_INPUT_DEID_OPTION' ? ExitCode.Usage : ExitCode.InputMissing;
    if (err instanceof TesseraError && err.code === 'TESSERA_CONFIG_INVALID') return ExitCode.Usage;
    return ExitCode.Internal;
  }
}
