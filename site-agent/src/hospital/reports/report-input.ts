/**
 * Radiology reports from a file: a CSV with an id column and one or more text columns, or FHIR R4
 * DiagnosticReports as NDJSON (bulk export). Bad rows and lines become {@link ReportInputProblem}s with
 * their line number and the rest goes on; problems never quote report text.
 */
import { canonicalSection, splitSections, type ReportSection } from './text.js';
import { InputError } from '../../../../shared/src/errors.js';
import { parseCsvRecords } from '../emr/csv-records.js';

/** One report read from the file: its id, the line it starts on and its sections. */
export interface ReportInput {
  readonly id: string;
  readonly line: number;
  readonly sections: readonly ReportSection[];
}

/** A row or line that could not be read as a report. */
export interface ReportInputProblem {
  readonly line: number;
  readonly code: 'TESSERA_INPUT_REPORT_INVALID' | 'TESSERA_INPUT_REPORT_NO_FINDINGS';
  readonly reason: string;
}

/** What {@link parseReports} found. */
export interface ReportInputResult {
  readonly format: 'csv' | 'ndjson';
  readonly reports: ReportInput[];
  readonly problems: ReportInputProblem[];
}

/** Options for CSV input. */
export interface ReportCsvOptions {
  /** Id column. @default the first of `id`, `uid`, `report_id` in the header */
  readonly idColumn?: string;
  /** Text columns, in order. @default `findings` and `impression` where present, else `text` or `report` */
  readonly textColumns?: readonly string[];
}

const ID_COLUMNS = ['id', 'uid', 'report_id', 'accession'];
const TEXT_COLUMN_SETS: readonly (readonly string[])[] = [['findings', 'impression'], ['text'], ['report'], ['report_text']];

/** `ndjson` when the file name says so or its first non-blank character is `{`; else `csv`. */
export function detectReportFormat(fileName: string, text: string): 'csv' | 'ndjson' {
  if (/\.(?:ndjson|jsonl|json)$/i.test(fileName)) return 'ndjson';
  if (/\.csv$/i.test(fileName)) return 'csv';
  return text.trimStart().startsWith('{') ? 'ndjson' : 'csv';
}

/** Sections of one text column: findings/impression columns are that section; others are cut at their own headers. */
function columnSections(column: string, text: string): ReportSection[] {
  const name = canonicalSection(column);
  if (name === 'findings' || name === 'impression') return text.trim() === '' ? [] : [{ name, text }];
  return splitSections(text);
}

function invalid(message: string, context: Record<string, string | number>): InputError {
  return new InputError('TESSERA_INPUT_REPORT_INVALID', message, context);
}

/**
 * Reads CSV reports. Throws `TESSERA_INPUT_REPORT_INVALID` when the header lacks the id or a text column
 * (the message lists the header's column names); rows without an id are problems.
 */
export function parseReportCsv(text: string, options: ReportCsvOptions = {}): ReportInputResult {
  const { records, unterminatedAt } = parseCsvRecords(text);
  const [header, ...rows] = records;
  if (!header) throw invalid('report CSV is empty (no header row)', {});
  const names = header.fields.map((f) => f.trim());
  const lower = names.map((n) => n.toLowerCase());
  const find = (col: string): number => lower.indexOf(col.toLowerCase());
  const idName = options.idColumn ?? ID_COLUMNS.find((c) => find(c) >= 0);
  const textNames = options.textColumns ?? TEXT_COLUMN_SETS.map((set) => set.filter((c) => find(c) >= 0)).find((set) => set.length > 0);
  const columns = names.join(', ');
  if (idName === undefined || find(idName) < 0) throw invalid(`report CSV has no id column '${idName ?? ID_COLUMNS.join("' or '")}' (columns: ${columns}); name it with --id-column`, { line: header.line });
  if (textNames === undefined || textNames.length === 0) throw invalid(`report CSV has no text column (columns: ${columns}); name them with --text-columns`, { line: header.line });
  const missing = textNames.filter((c) => find(c) < 0);
  if (missing.length > 0) throw invalid(`report CSV has no column ${missing.map((m) => `'${m}'`).join(', ')} (columns: ${columns})`, { line: header.line });
  const idIndex = find(idName);
  const reports: ReportInput[] = [];
  const problems: ReportInputProblem[] = [];
  for (const row of rows) {
    const id = (row.fields[idIndex] ?? '').trim();
    if (id === '') {
      problems.push({ line: row.line, code: 'TESSERA_INPUT_REPORT_INVALID', reason: `no id in column '${idName}'` });
      continue;
    }
    const sections = textNames.flatMap((c) => columnSections(c, row.fields[find(c)] ?? ''));
    reports.push({ id, line: row.line, sections });
  }
  if (unterminatedAt !== undefined) problems.push({ line: unterminatedAt, code: 'TESSERA_INPUT_REPORT_INVALID', reason: 'unterminated quoted field: the rest of the file is unreadable' });
  return { format: 'csv', reports, problems };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a DiagnosticReport: presentedForm (text/* attachments with data), conclusion, narrative. */
function diagnosticReportSections(resource: Record<string, unknown>): ReportSection[] {
  const sections: ReportSection[] = [];
  const forms = Array.isArray(resource['presentedForm']) ? resource['presentedForm'] : [];
  for (const form of forms) {
    if (!isRecord(form) || typeof form['data'] !== 'string') continue;
    const type = typeof form['contentType'] === 'string' ? form['contentType'].toLowerCase() : 'text/plain';
    if (!type.startsWith('text/')) continue;
    const decoded = Buffer.from(form['data'], 'base64').toString('utf8');
    sections.push(...splitSections(type.startsWith('text/html') ? stripTags(decoded) : decoded));
  }
  if (typeof resource['conclusion'] === 'string' && resource['conclusion'].trim() !== '') sections.push({ name: 'impression', text: resource['conclusion'] });
  const narrative = resource['text'];
  if (sections.length === 0 && isRecord(narrative) && typeof narrative['div'] === 'string') sections.push(...splitSections(stripTags(narrative['div'])));
  return sections;
}

/** XHTML narrative → text; block elements end lines so headers stay at line starts. */
function stripTags(html: string): string {
  return html
    .replace(/<\s*(?:br|\/p|\/div|\/li|\/h\d|\/tr)\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Reads FHIR DiagnosticReports, one JSON resource per line; other resource types and bad lines are problems. */
export function parseReportNdjson(text: string): ReportInputResult {
  const reports: ReportInput[] = [];
  const problems: ReportInputProblem[] = [];
  const problem = (line: number, reason: string): void => void problems.push({ line, code: 'TESSERA_INPUT_REPORT_INVALID', reason });
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let resource: unknown;
    try {
      resource = JSON.parse(raw);
    } catch {
      problem(line, 'malformed JSON');
      return;
    }
    if (!isRecord(resource)) return problem(line, 'not a JSON object');
    if (resource['resourceType'] !== 'DiagnosticReport') return problem(line, `not a DiagnosticReport (resourceType ${typeof resource['resourceType'] === 'string' ? resource['resourceType'] : 'missing'})`);
    const id = typeof resource['id'] === 'string' ? resource['id'].trim() : '';
    if (id === '') return problem(line, 'DiagnosticReport has no id');
    const sections = diagnosticReportSections(resource);
    if (sections.length === 0) return problem(line, 'DiagnosticReport has no conclusion, text/* presentedForm data or narrative');
    reports.push({ id, line, sections });
  });
  return { format: 'ndjson', reports, problems };
}

/** Reads reports from a file's text, CSV or NDJSON by {@link detectReportFormat}. */
export function parseReports(fileName: string, text: string, options: ReportCsvOptions = {}): ReportInputResult {
  return detectReportFormat(fileName, text) === 'ndjson' ? parseReportNdjson(text) : parseReportCsv(text, options);
}
