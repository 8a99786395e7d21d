/**
 * A conservative free-text scrubber for DICOM descriptors (Clean Descriptors option, PS3.15 §E.3.5):
 * the text is kept, identifiers in it are replaced. Two layers: the project's free-text scrubber
 * ({@link TextScrubber}, shared with the EMR gate: patterns and, as it grows, dictionaries and context rules;
 * spans become `[KIND]`), then the stricter DICOM layer below (spans become `***`).
 *
 * What it removes: every word of the identifying values found in the same instance's header (patient
 * and other person names, patient and other IDs, accession number, institution, address, telephone,
 * birth date), dates in common numeric and month-name forms, runs of four or more digits (record
 * numbers, phone numbers, years), e-mail addresses, URLs, IP addresses, and capitalised words that
 * follow a title (Dr, Mr, Mrs, Ms, Prof). What it cannot see: a name that appears nowhere in the header
 * and carries no title. Sites whose descriptors hold such text should not enable the option.
 */

import { TextScrubber } from './text-scrubber.js';

/** The replacement for a span the DICOM layer scrubs. */
export const SCRUBBED = '***';

const MONTH = '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?';
const PATTERNS: readonly RegExp[] = [
  /\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/gi,
  /\b(?:https?|ftp):\/\/\S+/gi,
  /\bwww\.\S+/gi,
  /\b\d{1,3}(?:\.\d{1,3}){3}\b/g,
  /\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b/g,
  new RegExp(`\\b\\d{1,2}(?:st|nd|rd|th)?\\s+${MONTH}(?:,?\\s+\\d{2,4})?\\b`, 'gi'),
  new RegExp(`\\b${MONTH}\\s+\\d{1,2}(?:st|nd|rd|th)?(?:,?\\s+\\d{2,4})?\\b`, 'gi'),
  /\+?\(?\d[\d\s().-]{6,}\d/g,
  /\d{4,}/g,
  /\b(?:dr|mr|mrs|ms|miss|prof|sir)\b\.?\s+[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?/gi,
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Words of identifying header values worth matching (two characters or more, not purely punctuation). */
export function identifierWords(values: Iterable<string>): string[] {
  const words = new Set<string>();
  for (const v of values) {
    for (const w of v.split(/[\s^=,\\/]+/)) {
      const word = w.trim();
      if (word.length >= 2 && /[\p{L}\p{N}]/u.test(word)) words.add(word);
    }
  }
  return [...words].sort((a, b) => b.length - a.length);
}

let sharedInstance: TextScrubber | undefined;
function sharedScrubber(): TextScrubber {
  sharedInstance ??= new TextScrubber();
  return sharedInstance;
}

/** Builds a scrubber for one instance, given the identifying values read from its header. */
export function makeTextScrubber(identifyingValues: Iterable<string>): (text: string) => string {
  const words = identifierWords(identifyingValues);
  const known = words.length === 0 ? undefined : new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}])`, 'giu');
  const shared = sharedScrubber();
  return (text: string): string => {
    let out = shared.scrub(text, { knownIdentifiers: words });
    if (known !== undefined) out = out.replace(known, SCRUBBED);
    for (const re of PATTERNS) out = out.replace(re, SCRUBBED);
    return out;
  };
}
