import { readFile, writeFile } from 'node:fs/promises';
import { errorMessage, InputError, TesseraError } from '../../../shared/src/errors.js';
import { labelSections } from '../../../site-agent/src/hospital/reports/labeler.js';
import { loadLexicon } from '../../../site-agent/src/hospital/reports/lexicon.js';
import { parseReports, type ReportInputProblem } from '../../../site-agent/src/hospital/reports/report-input.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE = 'usage: tessera report-labels --in FILE (CSV or FHIR NDJSON DiagnosticReports) [--id-column C] [--text-columns A,B] --lexicon NAME|FILE --out FILE.jsonl';

/** Most problem lines printed; the count of the rest follows. */
const MAX_PRINTED_PROBLEMS = 50;

/**
 * `tessera report-labels`: labels radiology reports with a lexicon (`chest-xray` ships; or a YAML/JSON
 * file) and writes one JSON line per report, `{"id": "...", "labels": {"cardiomegaly": "positive", ...}}`
 * (findings not mentioned are absent). Reports come from a CSV (`--id-column`, default id/uid/report_id;
 * `--text-columns`, default findings,impression or text) or from FHIR DiagnosticReport NDJSON
 * (presentedForm text, conclusion, narrative). Rows and lines that cannot be labelled are printed with their
 * line number (never their text) and skipped. Returns 0 when the run completed, 2 for bad arguments, 4 when
 * the input or the lexicon cannot be read or is invalid.
 */
export async function reportLabelsCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const args = parseCommandArgs(
    {
      args: argv,
      options: {
        in: { type: 'string' },
        out: { type: 'string' },
        lexicon: { type: 'string' },
        'id-column': { type: 'string' },
        'text-columns': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    USAGE,
    io,
  );
  if (typeof args === 'number') return args;
  if (args.in === undefined || args.out === undefined || args.lexicon === undefined) return usageError(io, '--in, --lexicon and --out are required', USAGE);
  const textColumns = args['text-columns']?.split(',').map((c) => c.trim());
  if (textColumns?.some((c) => c === '')) return usageError(io, '--text-columns takes column names separated by commas', USAGE);
  try {
    const lexicon = await loadLexicon(args.lexicon);
    const text = await readInput(args.in);
    const input = parseReports(args.in, text, { ...(args['id-column'] !== undefined ? { idColumn: args['id-column'] } : {}), ...(textColumns ? { textColumns } : {}) });
    if (input.format === 'ndjson' && (args['id-column'] !== undefined || textColumns !== undefined)) {
      return usageError(io, '--id-column and --text-columns apply to CSV input only', USAGE);
    }
    const problems: ReportInputProblem[] = [...input.problems];
    const lines: string[] = [];
    for (const report of input.reports) {
      try {
        lines.push(JSON.stringify({ id: report.id, labels: labelSections(report.sections, lexicon).labels }));
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        problems.push({ line: report.line, code: 'TESSERA_INPUT_REPORT_NO_FINDINGS', reason: err.message });
      }
    }
    await writeFile(args.out, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    problems.sort((a, b) => a.line - b.line);
    for (const p of problems.slice(0, MAX_PRINTED_PROBLEMS)) io.err(`${args.in}:${p.line}: ${p.code}: ${p.reason} (skipped)`);
    if (problems.length > MAX_PRINTED_PROBLEMS) io.err(`... and ${problems.length - MAX_PRINTED_PROBLEMS} more skipped`);
    io.out(`labelled ${lines.length} reports with lexicon ${lexicon.name}; skipped ${problems.length}; wrote ${args.out}`);
    return ExitCode.Ok;
  } catch (err) {
    io.err(`report-labels failed: ${errorMessage(err)}`);
    if (err instanceof TesseraError) return err.code.startsWith('TESSERA_INPUT_') ? ExitCode.InputMissing : ExitCode.Usage;
    return ExitCode.Internal;
  }
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError('TESSERA_INPUT_FILE_UNREADABLE', `cannot read --in ${file}: ${errorMessage(err)}`, { path: file });
  }
}
