/**
 * RFC 4180 CSV records with their starting line numbers: quoted fields may hold commas, doubled quotes
 * and line breaks. Used by the Synthea CSV reader, whose exports quote free-text descriptions.
 */

/** One record: its 1-based starting line and its fields. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/** Thrown internally for an unterminated quote; the caller reports the line. */
export interface CsvParseResult {
  readonly records: CsvRecord[];
  /** Line where an unterminated quoted field starts, if any (the rest of the file is unusable). */
  readonly unterminatedAt?: number;
}

/** Splits CSV text into records. A trailing empty line does not make a record. */
export function parseCsvRecords(text: string): CsvParseResult {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let quoteStartLine = 0;
  let fieldStarted = false;
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (quoted) {
      if (ch === '"') {
        if (body[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
      quoteStartLine = line;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      fieldStarted = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && body[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (quoted) return { records, unterminatedAt: quoteStartLine };
  if (field !== '' || fields.length > 0) endRecord();
  return { records };
}
