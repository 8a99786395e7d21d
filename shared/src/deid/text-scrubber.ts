/**
 * Free-text PHI scrubber (v0: patterns and known identifiers; dictionaries and context rules follow).
 */

/** Kinds of PHI the scrubber marks. */
export type PhiKind = 'name' | 'date' | 'phone' | 'email' | 'ssn' | 'id' | 'url' | 'ip' | 'location' | 'age';

/** One PHI span: `text.slice(start, end)`. */
export interface PhiSpan {
  readonly start: number;
  readonly end: number;
  readonly kind: PhiKind;
}

/** Per-call context: identifiers known to belong to the record's patient (names, MRN, address, phone). */
export interface ScrubContext {
  readonly knownIdentifiers?: readonly string[];
}

const PATTERNS: readonly { kind: PhiKind; re: RegExp }[] = [
  { kind: 'email', re: /\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g },
  { kind: 'url', re: /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi },
  { kind: 'ip', re: /\b(?:\d{1,3}\.){3}\d{1,3}\b/g },
  { kind: 'ssn', re: /\b\d{3}-\d{2}-\d{4}\b/g },
  { kind: 'phone', re: /(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b/g },
  // GS1 device identifiers (UDI) and vehicle identification numbers.
  { kind: 'id', re: /\(01\)\d{14}(?:\(\d{2,4}\)[^\s()]+)*/g },
  { kind: 'id', re: /\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b/g },
  // A number or code after a word that announces an identifier.
  {
    kind: 'id',
    re: /(?<=\b(?:MRN|MR#|medical record(?: number)?|record #|acct|account|ssn|licen[cs]e|plate|VIN|serial|S\/N|SN|UDI|member|policy|ID)(?:\s*(?:no\.?|number|#))?[:#\s]\s*)[A-Z0-9][A-Z0-9-]{3,}\b/gi,
  },
  { kind: 'date', re: /\b\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?\b/g },
  { kind: 'date', re: /\b\d{1,2}\/\d{1,2}(?:\/\d{2,4})?\b/g },
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Finds and replaces PHI in free text. */
export class TextScrubber {
  /** PHI spans in `text`, sorted and merged. */
  find(text: string, context: ScrubContext = {}): PhiSpan[] {
    const spans: PhiSpan[] = [];
    for (const { kind, re } of PATTERNS) {
      for (const m of text.matchAll(re)) spans.push({ start: m.index, end: m.index + m[0].length, kind });
    }
    for (const known of context.knownIdentifiers ?? []) {
      for (const part of known.split(/\s+/)) {
        if (part.length < 2) continue;
        const re = new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(part)}(?![\\p{L}\\p{N}])`, 'giu');
        for (const m of text.matchAll(re)) spans.push({ start: m.index, end: m.index + m[0].length, kind: 'name' });
      }
    }
    return mergeSpans(spans);
  }

  /** `text` with every PHI span replaced by `[KIND]`. */
  scrub(text: string, context: ScrubContext = {}): string {
    return redact(text, this.find(text, context));
  }
}

/** Sorts spans and merges overlapping or touching ones (the first span's kind wins). */
export function mergeSpans(spans: readonly PhiSpan[]): PhiSpan[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: PhiSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s.start <= last.end) {
      if (s.end > last.end) out[out.length - 1] = { ...last, end: s.end };
    } else out.push(s);
  }
  return out;
}

/** Replaces each span with `[KIND]`. */
export function redact(text: string, spans: readonly PhiSpan[]): string {
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += `${text.slice(at, s.start)}[${s.kind.toUpperCase()}]`;
    at = s.end;
  }
  return out + text.slice(at);
}
