/**
 * Free-text PHI scrubber for clinical notes, report text and DICOM descriptors ("Clean Descriptors").
 *
 * Three layers, all local (no network, no model weights):
 * 1. patterns: dates (numeric, dotted, ISO, year-first, ranges, month names, two-digit years in history
 *    context), phone and pager numbers with extensions, e-mail, URLs, IP addresses, SSNs, device (GS1 UDI)
 *    and vehicle (VIN) identifiers, numbers announced by an identifier word (MRN, account, licence...),
 *    ZIP codes after a ZIP cue or a state code, ages over 89 (digits or words);
 * 2. dictionaries: US Census first names and surnames that are not also English words ({@link lexicon});
 * 3. context rules: a word after a title (Dr, Mr, Mrs), a relation (wife, son, daughter) or a verb of
 *    contact (paged, called, per), before "MD"/"RN" or "aware"; place names before a facility word
 *    (HOSPITAL, REHAB, MEMORIAL) or after "St."; places after a movement verb ("transferred from X"),
 *    before a ward number ("to X 6"), after "lives in" or "works for"; names before a relation ("X (daughter)"),
 *    after "HCP is" or a role ("NP X", "Covering MD: X"), initials ("k. vasquez", "R OKAFOR ORDERED"),
 *    words right before a phone number, and capitalised pairs of listed names; a state on its own is left
 *    (Safe Harbor keeps it); plus per-record known identifiers (the patient's own names, MRN, phone and
 *    address from the structured record).
 *
 * Measured on the PhysioNet deid 1.1 gold standard by `npm run bench -- deid-text` (see
 * docs/explanation/safe-harbor.md for the figures and the known gaps).
 */
import { lexicon, US_STATES, type Lexicon } from './lexicon.js';
import {
  BEFORE_NUMBER,
  CLINICAL,
  CONTACT_VERBS,
  FACILITY,
  MOVED,
  NAMED_ROLES,
  PLACE_BEFORE,
  RELATIONS,
  ROLES_AFTER,
  ROLES_BEFORE,
  SIGNATURE_ROLES,
  STATE_ABBREVIATIONS,
  STOP,
  TITLES,
  UNITS,
  WEEKDAYS,
} from './scrubber-words.js';

const US_STATE_NAMES: ReadonlySet<string> = new Set(US_STATES);

/** Kinds of PHI the scrubber marks. */
export type PhiKind = 'name' | 'date' | 'phone' | 'email' | 'ssn' | 'id' | 'url' | 'ip' | 'location' | 'age';

/** One PHI span: `text.slice(start, end)`. */
export interface PhiSpan {
  readonly start: number;
  readonly end: number;
  readonly kind: PhiKind;
}

/** Per-call context: identifiers known to belong to the record (patient names, MRN, address, phone). */
export interface ScrubContext {
  readonly knownIdentifiers?: readonly string[];
}

/** Options for {@link TextScrubber}. */
export interface TextScrubberOptions {
  /** Site-specific words that are always PHI (staff roster, local place names), matched case-insensitively. */
  readonly extraNames?: readonly string[];
}

const MONTH = '(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)';
const DAY = '(?:0?[1-9]|[12]\\d|3[01])';
const MON = '(?:0?[1-9]|1[0-2])';

const PATTERNS: readonly { kind: PhiKind; re: RegExp }[] = [
  { kind: 'email', re: /\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g },
  { kind: 'url', re: /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi },
  { kind: 'ip', re: /\b(?:\d{1,3}\.){3}\d{1,3}\b/g },
  { kind: 'ssn', re: /\b\d{3}-\d{2}-\d{4}\b/g },
  // Phone numbers: (201) 223-4567, 201-223-4567, 201/324/1423, 212- 476- 8356, (240444-1243), 202 2671093.
  { kind: 'phone', re: /(?:\+?1[\s.-]?)?\(?\b\d{3}\)?[\s./-]{0,2}\d{3}[\s./-]{1,2}\d{4}\b\)?/g },
  { kind: 'phone', re: /\(?\b\d{3}[\s-]?\d{3}-\d{4}\b\)?/g },
  { kind: 'phone', re: /\b\d{3}[\s./-]\d{7}\b|\b[2-9]\d{2}[2-9]\d{6}\b/g },
  // Odd layouts: "(301 273 45166)", and any 7 to 11 digits in groups after a phone word ("cell# 410 5551234",
  // "phone: 4105551234", "home # 555 1234 x12").
  { kind: 'phone', re: /(?<=\(\s?)\d{3}[\s.]\d{3}[\s.]\d{4,5}(?=\s?\))/g },
  {
    kind: 'phone',
    re: /(?:\b(?:phone|telephone|tel|cell|cellphone|mobile|home|work|office|beeper|pager|number|contact|ph|fax|call|reached|reach)s?\b|#)\.?\s*(?:#|no\.?|number|at)?\s*[:#=-]?\s*((?:\(?\d{3}\)?[\s./-]{0,2})?\d{3}[\s./-]{0,2}\d{4,5}\b(?:\s*(?:x|ext\.?)\s*\d{1,5}\b)?)/dgi,
  },
  { kind: 'phone', re: /\b[2-9]\d{2}-\d{4}\b(?![\s-]*(?:cc|ml|mg|units?|mcg|hrs?)\b)/gi },
  { kind: 'phone', re: /\b(?:pager|pgr|pg|beeper|bpr|page|ext|x)\.?\s*(?:(?:number|no\.?|num)\s*)?[:#]?\s*#?\s*(\d{4,6})\b/dgi },
  // An extension written after a phone number: "555 321 0987 x45", "(555) 321-0987 ext. 2210".
  { kind: 'phone', re: /(?:\b\d{3}[\s./-]{1,2}\d{4}|\b\d{10})\s{0,2}((?:x|ext\.?)\s?\d{1,5})\b/dgi },
  // ZIP codes: after a ZIP cue, or after a state's postal code ("Towson, MD 21204").
  { kind: 'location', re: /\b(?:zip|zipcode|zip code|postal code)\s*[:#]?\s*(\d{5}(?:-\d{4})?)\b/dgi },
  {
    kind: 'location',
    re: /\b(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY),?\s{1,2}(\d{5}(?:-\d{4})?)\b/dg,
  },
  // GS1 device identifiers (UDI) and vehicle identification numbers.
  { kind: 'id', re: /\(01\)\d{14}(?:\(\d{2,4}\)[^\s()]+)*/g },
  { kind: 'id', re: /\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b/g },
  {
    kind: 'id',
    re: /\b(?:MRN|MR#|medical record(?: number)?|record #|acct|account|ssn|licen[cs]e|plate|VIN|serial|S\/N|SN|UDI|member|policy|ID)(?:\s*(?:no\.?|number|#)\s*[:#]?|[:#\s])\s*((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,})\b/dgi,
  },
  // Dates.
  { kind: 'date', re: /\b\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?\b/g },
  { kind: 'date', re: new RegExp(`(?<![\\d,/])(?<![^A-Za-z]\\.)(?<!\\d-)${MON}/${DAY}(?:/\\d{2}(?:\\d{2})?)?(?:/${MON}/${DAY})?(?![\\d/]|\\.\\d)`, 'g') },
  { kind: 'date', re: new RegExp(`(?<![\\d.,/-])${MON}/${DAY}\\.\\d{2}\\b`, 'g') },
  { kind: 'date', re: new RegExp(`(?<![\\d.-])${MON}-${DAY}-(?:\\d{4}|\\d{2})\\b`, 'g') },
  { kind: 'date', re: new RegExp(`(?<![\\d.,/-])${MON}/(?:(?:19|20)\\d{2}|[5-9]\\d)\\b(?![/.]\\d)`, 'g') },
  {
    kind: 'date',
    re: new RegExp(
      `\\b(?:${MONTH}\\.?\\s*(?:${DAY}(?:st|nd|rd|th|,|(?=\\s*(?:19|20)\\d{2}\\b)|(?=\\s*$))|(?:of\\s+)?(?:19|20)\\d{2}\\b)|(?:january|february|march|april|june|july|august|september|october|november|december)\\s+${DAY}\\b)(?:,?\\s*(?:19|20)\\d{2}\\b)?`,
      'gim',
    ),
  },
  { kind: 'date', re: new RegExp(`\\b${DAY}(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH}\\b\\.?(?:,?\\s*(?:19|20)\\d{2}\\b|,\\s?'?\\d{2}\\b(?![.:/]\\d|\\s*(?:mg|mcg|cc|ml|units?|%|mm|cm|kg|l\\b)))?`, 'gi') },
  // Dotted, day-month-year and year-first dates: "03.14.2021", "14-Mar-2021", "2021/03/14", "Jan '19".
  { kind: 'date', re: new RegExp(`(?<![\\d.])${MON}\\.${DAY}\\.(?:19|20)\\d{2}\\b`, 'g') },
  { kind: 'date', re: new RegExp(`\\b${DAY}([-/])${MONTH}\\1(?:(?:19|20)\\d{2}|\\d{2})\\b(?![.:]\\d)`, 'gi') },
  { kind: 'date', re: new RegExp(`\\b(?:19|20)\\d{2}/${MON}/${DAY}\\b`, 'g') },
  { kind: 'date', re: new RegExp(`\\b${MONTH}\\.?\\s?'\\d{2}\\b`, 'gi') },
  // A range of numeric dates: "4/28-5/2" (the second date alone is refused after a digit and a dash).
  { kind: 'date', re: new RegExp(`(?<![\\d.,/])${MON}/${DAY}\\s?-\\s?${MON}/${DAY}(?![\\d/%]|\\.\\d)`, 'g') },
  { kind: 'date', re: /\b(?:january|february|april|june|july|august|september|october|november|december)\b/gi },
  { kind: 'date', re: /(?<=\b(?:the|on)\s+)(?:[4-9]|[12]\d|3[01])(?:st|nd|rd|th)\b/gi },
  { kind: 'date', re: /(?<=\b(?:in|since|of|early|late|mid|until)\s+)(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?(?=[\s.,;]|$)/gi },
  // "in may", "since may 3": the month after a preposition of time, unless "may" is the verb ("in may be").
  { kind: 'date', re: /(?<=\b(?:in|since|early|late|mid|until)\s+)may\b(?!\s+(?:be|have|need|require|not|also|help|benefit|want|go|need|take))/gi },
  // Years: four digits that are not clock times (no "at 2130", "1900 hrs").
  {
    kind: 'date',
    re: /(?<!\b(?:at|@|until|till|til|by|approx\.?|around|about|after|before|from|~)\s*)(?<![\d:.-])(?:19[0-9]\d|20[0-3]\d)(?:'?s)?\b(?!\s*(?:hrs?|hours|h\b|pm|am|:|-\s*\d{4}|cc|ml|mg|units?|kcal|cal))/gi,
  },
  { kind: 'date', re: /(?<=\s)'\d{2}\b(?!')|(?<=[\s(,])\d{2}'(?![sS\d])/g },
  // Common US hospital names.
  {
    kind: 'location',
    re: /\b(?:holy\s+(?:cross|family|name|spirit|redeemer)|sacred\s+heart|good\s+samaritan|mercy\s+(?:hospital|medical)|johns\s+hopkins|mass(?:achusetts)?\s+general|beth\s+israel|mount\s+sinai|mt\.?\s+sinai|kaiser\s+permanente|mayo\s+clinic|cleveland\s+clinic|shriners|(?:lutheran|methodist|baptist|presbyterian|adventist)\s+(?:hospital|medical|hosp))\b/gi,
  },
  // Universities: "University of Maryland", "U of MD", "U Maryland".
  { kind: 'location', re: /\b(?:University|UNIVERSITY|Univ\.?|UNIV\.?|U\.?)\s+(?:[Oo][Ff]\s+)(?:[A-Z][a-z]+|[A-Z]{2,})\b(?:\s+[A-Z][a-z]+)?|\b(?:University|Univ\.?)\s+(?:[A-Z][a-z]+)\b/g },
  // Street addresses: "19 Clover St.", "568 Hills Branch Unit 86", "2400 EAST 4TH ST".
  {
    kind: 'location',
    re: /\b\d{1,5}\s+(?:[A-Z][a-z]+\.?\s+){1,3}(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Ln|Lane|Dr|Drive|Way|Ct|Court|Pl|Place|Terrace|Ter|Pkwy|Parkway|Hwy|Highway|Path|Trace|Wynd|Circle|Cir)\b\.?(?:\s+(?:Apt|Unit|Suite|Ste|#)\.?\s*\w+)?/g,
  },
  {
    kind: 'location',
    re: /\b\d{1,5}\s+(?:[A-Z0-9]+\s+){1,3}(?:STREET|AVE|AVENUE|ROAD|BLVD|BOULEVARD|LANE|DRIVE|COURT|TERRACE|PKWY|PARKWAY|HWY|HIGHWAY)\b/g,
  },
  { kind: 'location', re: /\buniversity\s+of\s+[a-z]+\b/gi },
  // Two-digit year after a procedure or event: "MI 92", "CABG 81", "s/p AVR 84".
  {
    kind: 'date',
    re: /(?<=\b(?:mi|cabg|avr|mvr|cva|ptca|pci|stent|redo|tia|dx|dx'd|diagnosed|appy|chole|turp|ca|ablation|surgery|fx|repair|resection|pacer|pacemaker|icd|cath|since)\s*(?:x\s?\d\s*)?(?:in\s+)?)'?\d{2}\b(?!\s*(?:%|mg|mcg|cc|ml|units?|hrs?|min|mm|cm|y\/?o|yrs?|years?|-|\/|\.\d))/gi,
  },
  // Ages over 89.
  { kind: 'age', re: /\b(?:9\d|1[0-4]\d)(?=\s*(?:-?\s*y\/?o\b|-?\s*y\.\s?o\.?|-?\s*yrs?\b|-?\s*years?[\s-]old|-?year-old|yo[mf]?\b|years of age|-?\s*yr-old))/gi },
  { kind: 'age', re: /(?<=\bage[d:]?\s*)(?:9\d|1[0-4]\d)\b/gi },
  // Ages over 89 in words: "ninety-two years old", "one hundred and one yo".
  {
    kind: 'age',
    re: /\b(?:ninety(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?|(?:one\s)?hundred(?:\s(?:and\s)?(?:one|two|three|four|five|six|seven|eight|nine|ten))?)(?=[-\s]+(?:years?[-\s]old|y\/?o\b|yrs?\b|years of age))/gi,
  },
];

/** What the per-token rules share. */
interface RuleContext {
  readonly text: string;
  readonly tokens: readonly Token[];
  readonly mark: (t: Token, kind: PhiKind, isStrong?: boolean) => void;
  readonly gap: (a: Token, b: Token) => string;
  readonly adjacent: (a: Token | undefined, b: Token | undefined) => boolean;
}

interface Token {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly lower: string;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Finds and replaces PHI in free text. */
export class TextScrubber {
  readonly #lex: Lexicon;
  readonly #extra: ReadonlySet<string>;
  /** First words of the gazetteer's places: most tokens start none, and {@link #placeAt} stops there. */
  readonly #placeStarts: ReadonlySet<string>;

  constructor(options: TextScrubberOptions = {}) {
    this.#lex = lexicon();
    this.#placeStarts = placeStarts(this.#lex);
    this.#extra = new Set((options.extraNames ?? []).map((n) => n.toLowerCase()));
  }

  /** PHI spans in `text`, sorted and merged. */
  find(text: string, context: ScrubContext = {}): PhiSpan[] {
    const spans: PhiSpan[] = [];
    for (const { kind, re } of PATTERNS) {
      for (const m of text.matchAll(re)) {
        if (kind === 'date' && notADate(m[0], text, m.index)) continue;
        if (kind === 'phone' && /\b(?:tv|vt|svr|stv|volumes?|tidal|vols?|rate|sbp|map|u\/o|uo|cc|ml|co\/ci\/svr)\W{0,3}$/i.test(text.slice(Math.max(0, m.index - 12), m.index))) continue;
        // Patterns compiled with the `d` flag mark only their first group (the cue word before it is not PHI).
        const [start, end] = m.indices?.[1] ?? [m.index, m.index + m[0].length];
        spans.push({ start, end, kind });
      }
    }
    const strong: PhiSpan[] = [];
    this.#namesBeforePhones(text, spans, strong);
    this.#contextRules(text, spans, strong);
    this.#propagate(text, strong, spans);
    knownIdentifierSpans(text, context.knownIdentifiers ?? [], spans);
    return mergeSpans(spans);
  }

  /**
   * One or two capitalised words right before a phone number are whose number it is: "Lena Farrow cell#
   * 555-201-3344", "Contact: Okafor (617) 555-0100". Each word must be no stop, clinical or relation word,
   * and either a listed name or no English word.
   */
  #namesBeforePhones(text: string, spans: readonly PhiSpan[], strong: PhiSpan[]): void {
    const phones = spans.filter((s) => s.kind === 'phone');
    for (const p of phones) {
      // The cue between the name and the number ("cell#", "(home):", "pager") is dropped first, case-insensitively.
      const window = text.slice(Math.max(0, p.start - 60), p.start);
      const cue = /\s*[,:-]?\s*(?:\(?(?:cell|home|work|phone|tel|mobile|ph|pager|beeper)\)?\.?\s*(?:#|no\.?|number)?\s*[:=-]?\s*)?\(?$/i.exec(window);
      const before = window.slice(0, cue?.index ?? window.length);
      const m = /(?:^|[\s,;:(.])([A-Z][a-z']+|[A-Z]{2,}(?=\s[A-Z]{2,}$))(?:\s([A-Z][a-z']+|[A-Z]{2,}))?$/.exec(before);
      if (m === null) continue;
      const words: { start: number; text: string }[] = [];
      const base = p.start - window.length;
      if (m[1] !== undefined) words.push({ start: base + m.index + m[0].indexOf(m[1]), text: m[1] });
      if (m[2] !== undefined) words.push({ start: base + m.index + m[0].lastIndexOf(m[2]), text: m[2] });
      const ok = (w: string): boolean => {
        const lower = w.toLowerCase();
        if (STOP.has(lower) || CLINICAL.has(lower) || RELATIONS.has(lower) || TITLES.has(lower) || UNITS.has(lower) || WEEKDAYS.has(lower) || MONTHS.has(lower) || FACILITY.has(lower) || lower.length < 3) return false;
        if (/^(?:cell|cellular|home|work|phone|tel|mobile|pager|beeper|number|contact|call|office|fax|grand|great|step)$/.test(lower)) return false;
        return this.#lex.firstNames.has(lower) || this.#lex.surnames.has(lower) || !this.#english(lower);
      };
      if (!words.every((w) => ok(w.text))) continue;
      for (const w of words) strong.push({ start: w.start, end: w.start + w.text.length, kind: 'name' });
      for (const w of words) (spans as PhiSpan[]).push({ start: w.start, end: w.start + w.text.length, kind: 'name' });
    }
  }

  /** `text` with every PHI span replaced by `[KIND]`. */
  scrub(text: string, context: ScrubContext = {}): string {
    return redact(text, this.find(text, context));
  }

  /** True for a token that reads as a personal name on its own (a Census name that is not an English word). */
  #nameLike(t: Token): boolean {
    if (t.lower.length < 3 || STOP.has(t.lower) || CLINICAL.has(t.lower) || WEEKDAYS.has(t.lower) || TITLES.has(t.lower)) return false;
    if (this.#extra.has(t.lower)) return true;
    const rank = this.#lex.surnames.get(t.lower);
    const listed = this.#lex.firstNames.has(t.lower) || (rank !== undefined && rank < 40000);
    return listed && !this.#englishOrTypo(t.lower);
  }

  #english(lower: string): boolean {
    const words = this.#lex.englishWords;
    return words.has(lower) || words.has(lower.replace(/'s$|s$/, ''));
  }

  /** {@link #english}, or a likely misspelling of an English word. */
  #englishOrTypo(lower: string): boolean {
    const words = this.#lex.englishWords;
    if (this.#english(lower)) return true;
    // Nursing notes misspell freely ("bowell", "recieve", "ventricualr"): a word one deletion or one
    // swap of neighbours away from an English word counts as English, so it is not taken for a name.
    // Shorter words: a swap ("wtih") from length 4, a dropped letter ("presnt", "notifed") from length 5.
    if (lower.length < 4) return false;
    for (let i = 0; i < lower.length; i++) {
      if (lower.length >= 6 && words.has(lower.slice(0, i) + lower.slice(i + 1))) return true;
      if (i + 1 < lower.length && words.has(lower.slice(0, i) + lower[i + 1]! + lower[i]! + lower.slice(i + 2))) return true;
    }
    if (lower.length < 7) return false;
    for (let i = 0; i <= lower.length; i++) {
      for (const ch of 'eiaotnsrlcudhmp') if (words.has(lower.slice(0, i) + ch + lower.slice(i))) return true;
    }
    return false;
  }

  /** A token that may be a name when context says so: alphabetic, not a stop word, not a common English word unless a first name. */
  #nameCandidate(t: Token): boolean {
    if (t.lower.length < 2 || STOP.has(t.lower) || CLINICAL.has(t.lower) || WEEKDAYS.has(t.lower) || TITLES.has(t.lower) || RELATIONS.has(t.lower)) return false;
    if (!/^[a-z][a-z'-]*$/i.test(t.text)) return false;
    if (this.#nameLike(t) || this.#lex.firstNames.has(t.lower)) return true;
    return !this.#english(t.lower) || this.#lex.surnames.has(t.lower);
  }

  #contextRules(text: string, spans: PhiSpan[], strong: PhiSpan[]): void {
    const tokens: Token[] = [];
    for (const m of text.matchAll(/[A-Za-z][A-Za-z']*[A-Za-z]|[A-Za-z]/g)) {
      tokens.push({ start: m.index, end: m.index + m[0].length, text: m[0], lower: m[0].toLowerCase() });
    }
    // `strong` marks come from rules that rarely misfire (title, relation, initials, signature, facility).
    const mark = (t: Token, kind: PhiKind, isStrong = true): void => {
      spans.push({ start: t.start, end: t.end, kind });
      if (isStrong) strong.push({ start: t.start, end: t.end, kind });
    };
    const gap = (a: Token, b: Token): string => text.slice(a.end, b.start);
    const adjacent = (a: Token | undefined, b: Token | undefined): boolean => a !== undefined && b !== undefined && /^[\s.,:;(-]{1,4}$/.test(gap(a, b));
    const c: RuleContext = { text, tokens, mark, gap, adjacent };
    for (let i = 0; i < tokens.length; i++) {
      // A state ("Maine", "New Hampshire") is not PHI on its own: skip its words unless a facility or an
      // emergency room follows ("Maryland Hospital", "U Maryland ER") or it is a first name ("NURSE VIRGINIA SMITH").
      const state = stateLength(tokens, i, text);
      if (state > 0) {
        const after = tokens[i + state];
        const facility = after !== undefined && (FACILITY.has(after.lower) || /^(?:er|ed|ew)$/.test(after.lower));
        if (!facility && !(this.#lex.firstNames.has(tokens[i]!.lower) && this.#personRules(c, i))) i += state - 1;
        if (!facility) continue;
      }
      this.#wardAndEmployerRules(c, i);
      if (this.#personRules(c, i)) continue;
      const t = tokens[i]!;
      const next = tokens[i + 1];
      this.#saintRule(c, i);
      const facilityNext = next !== undefined && FACILITY.has(next.lower) && /^\s{1,2}$/.test(gap(t, next));
      // A drug, device or sign is followed by its dose or use ("Esmolol gtt", "Quentin catheter", "golden tan secretions").
      const clinicalNext = next !== undefined && /^[\s,-]{1,2}$/.test(gap(t, next)) && CLINICAL_NEXT.has(next.lower);
      if (this.#nameLike(t) && !facilityNext && !clinicalNext) {
        mark(t, 'name', false);
        continue;
      }
      this.#placeAndContactRules(c, i);
    }
  }

  /** Names by title, initials, first name + surname, signature and relation; true when the token is done. */
  #personRules(c: RuleContext, i: number): boolean {
    const { text, tokens, mark, gap, adjacent } = c;
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
      // Title: "Dr. Wolfe", "DR TYRO", "Dr. Art White", "DR. L. RUUSKA".
      if (prev !== undefined && TITLES.has(prev.lower) && /^\.?\s{0,2}$/.test(gap(prev, t)) && gap(prev, t) !== '' && this.#afterTitle(prev, t, text)) {
        mark(t, 'name');
        // "Dr Edmund Farthing": a capitalised word after a title and a first name, in a note written in mixed case.
        const fullName = next !== undefined && /^\s$/.test(gap(t, next)) && this.#lex.firstNames.has(t.lower) && /^[A-Z][a-z]+$/.test(t.text) && /^[A-Z][a-z]+$/.test(next.text) && !STOP.has(next.lower) && !CLINICAL.has(next.lower) && !ROLES_AFTER.has(next.lower) && !TITLES.has(next.lower) && !WEEKDAYS.has(next.lower) && !MONTHS.has(next.lower) && !FACILITY.has(next.lower);
        if (next !== undefined && adjacent(t, next) && (this.#surnameish(next) || fullName)) mark(next, 'name');
        // "Dr. Rakusin and Toolis aware", "Drs' Ballou and Dutter".
        const after = tokens[i + (next !== undefined && adjacent(t, next) && this.#surnameish(next) ? 2 : 1)];
        const other = tokens[i + (after === next ? 2 : 3)];
        if (after?.lower === 'and' && other !== undefined && /^[A-Z]/.test(other.text) && this.#surnameish(other)) mark(other, 'name');
        return true;
      }
      // Initials: "E. WELSH", "DAN A. FORMAN-LYONS", "Q. LANDER RRT".
      if (/^[A-Z]$/.test(t.text) && text[t.end] === '.' && /^|[\s(]$/.test(text[t.start - 1] ?? '') && (t.start === 0 || /[\s(,]/.test(text[t.start - 1] ?? '')) && next !== undefined && adjacent(t, next) && this.#surnameish(next) && /^[A-Z]/.test(next.text)) {
        mark(t, 'name');
        mark(next, 'name');
        if (prev !== undefined && /^\s$/.test(gap(prev, t)) && this.#lex.firstNames.has(prev.lower) && !STOP.has(prev.lower)) mark(prev, 'name');
        return true;
      }
      // An initial without a dot, then a listed surname, reported on or by: "R OKAFOR ORDERED", "per k vasquez".
      if (/^[B-HJ-Zb-hj-z]$/.test(t.text) && (t.start === 0 || /[\s(,]/.test(text[t.start - 1] ?? '')) && next !== undefined && /^\s$/.test(gap(t, next)) && next.lower.length >= 3 && this.#surnameish(next) && this.#lex.surnames.has(next.lower) && isProperCase(next, text)) {
        const verb = tokens[i + 2];
        const reported = verb !== undefined && /^[\s,]{1,2}$/.test(gap(next, verb)) && /^(?:aware|ordered|orders|notified|paged|called|informed|updated|said|stated|states|spoke|came|wants|wrote|here|made)$/.test(verb.lower);
        const contacted = prev !== undefined && CONTACT_VERBS.has(prev.lower) && /^\s$/.test(gap(prev, t));
        if (reported || contacted) {
          mark(t, 'name');
          mark(next, 'name');
          return true;
        }
      }
      // Initials in a note written in lower case: "k. vasquez", "ann m. tollefsen rn", "r. o'dea": the surname
      // must be no English word and either listed, after a first name, or before a signature role.
      if (/^[a-z]$/.test(t.text) && text[t.end] === '.' && (t.start === 0 || /[\s(,]/.test(text[t.start - 1] ?? '')) && next !== undefined && /^\s{1,2}$/.test(text.slice(t.end + 1, next.start)) && /^[a-z][a-z'-]+$/.test(next.text) && isProperCase(next, text)) {
        const bare = next.lower.replace(/'/g, '');
        const firstBefore = prev !== undefined && /^\s$/.test(gap(prev, t)) && this.#lex.firstNames.has(prev.lower) && !STOP.has(prev.lower) && !CLINICAL.has(prev.lower);
        const roleAfter = SIGNATURE_ROLES.has(tokens[i + 2]?.lower ?? '');
        if (this.#surnameish(next) && !this.#englishOrTypo(bare) && bare.length >= 3 && (this.#lex.surnames.has(bare) || firstBefore || roleAfter)) {
          mark(t, 'name');
          mark(next, 'name');
          if (firstBefore) mark(prev, 'name');
          return true;
        }
      }
      // First name then surname: "mary souza", "pat rixford", "Florence Garvey", "VIRGINIA SALLESE".
      if (this.#lex.firstNames.has(t.lower) && t.lower.length >= 3 && !CLINICAL.has(t.lower) && !RELATIONS.has(t.lower) && next !== undefined && /^\s{1,2}$/.test(gap(t, next))) {
        const plain = /^[a-z][a-z']*$/i.test(next.text) && !STOP.has(next.lower) && !CLINICAL.has(next.lower) && !TITLES.has(next.lower) && next.lower.length >= 3;
        const sameCase = /^[A-Z]/.test(next.text) === /^[A-Z]/.test(t.text);
        const strongSurname = plain && !this.#english(next.lower) && !RELATIONS.has(next.lower) && !SIGNATURE_ROLES.has(next.lower);
        const bothCapitalised = /^[A-Z][a-z]/.test(t.text) && /^[A-Z][a-z]/.test(next.text) && isProperCase(t, text);
        const listedSurname = plain && (this.#lex.surnames.has(next.lower) || (!this.#english(t.lower) && !FACILITY.has(next.lower) && !WEEKDAYS.has(next.lower) && !MONTHS.has(next.lower)));
        if (sameCase && !STOP.has(t.lower) && (strongSurname || (bothCapitalised && listedSurname) || ((!this.#english(t.lower) || /^[A-Z]/.test(t.text)) && this.#surnameish(next)))) {
          mark(t, 'name');
          mark(next, 'name');
          return true;
        }
      }
      // Signature before a role: "David Murray RRT", "irene snell, rn", "Bernard Foley CRT".
      const initialBefore = prev !== undefined && prev.text.length === 1 && text[prev.end] === '.';
      const plainWord = /^[a-z][a-z'-]*$/i.test(t.text) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && t.lower.length > 1;
      if (next !== undefined && SIGNATURE_ROLES.has(next.lower) && /^[\s,]{1,3}$/.test(gap(t, next)) && (this.#surnameish(t) || (initialBefore && plainWord))) {
        mark(t, 'name');
        for (let j = i - 1, k = 0; j >= 0 && k < 3; j--, k++) {
          const p = tokens[j]!;
          if (!/^[\s.,-]{1,3}$/.test(gap(p, tokens[j + 1]!)) || !(p.text.length === 1 || this.#surnameish(p) || this.#lex.firstNames.has(p.lower))) break;
          mark(p, 'name');
        }
      }
      // Relation: "wife, Carol Buckley", "son dave", "DAUGHTER-KRISSY", "Sons Smokey, Morris and Roger".
      const capitalised = /^[A-Z][a-z]/.test(t.text) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && !TITLES.has(t.lower);
      if (prev !== undefined && relationAt(tokens, i - 1) && adjacent(prev, t) && (this.#nameCandidate(t) || capitalised) && !RELATIONS.has(t.lower)) {
        if (this.#nameLike(t) || this.#lex.firstNames.has(t.lower) || !this.#english(t.lower) || (/^[A-Z][a-z]/.test(t.text) && isProperCase(t, text))) {
          mark(t, 'name');
          let j = i + 1;
          for (let k = 0; k < 4 && j < tokens.length; k++, j++) {
            const n = tokens[j]!;
            const sep = gap(tokens[j - 1]!, n);
            if (/^\s{1,2}$/.test(sep) && k === 0 && this.#surnameish(n)) mark(n, 'name');
            else if (/^\s*,\s*$/.test(sep) && !STOP.has(n.lower) && !CLINICAL.has(n.lower) && !relationAt(tokens, j) && (this.#lex.firstNames.has(n.lower) || this.#nameLike(n))) mark(n, 'name');
            else if (n.lower === 'and' && tokens[j + 1] !== undefined && !relationAt(tokens, j + 1) && (this.#lex.firstNames.has(tokens[j + 1]!.lower) || this.#nameLike(tokens[j + 1]!))) {
              mark(tokens[j + 1]!, 'name');
              break;
            } else break;
          }
          return true;
        }
      }
    return false;
  }

  /**
   * Wards named after people or places ("to Quartermain 6", "ADMITTED TO QUARTERMAIN7", "PLAN: FARR 2"),
   * employers ("works for Vista Health", "husband CEO of IBM"), names before a relation ("URSLA MORETTI
   * (DAUGHTER)", "Bob, son"), a role before a name ("NP Grace made aware") and names joined by "and".
   */
  #wardAndEmployerRules(c: RuleContext, i: number): void {
    const { text, tokens, mark, gap } = c;
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    const word = /^[a-z][a-z']*$/i.test(t.text) && t.lower.length >= 4 && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && !WEEKDAYS.has(t.lower) && !BEFORE_NUMBER.has(t.lower) && !FACILITY.has(t.lower) && !TITLES.has(t.lower) && !RELATIONS.has(t.lower);
    // Ward: a word then a single-digit ward number, after a movement word or at the start of a plan line.
    const wardNumber = /^\s{0,2}\d(?![\d%/:,-]|\.\d|\s*(?:mg|mcg|cc|ml|l\b|lpm|units?|x\b|hrs?|days?|min|times|%|am|pm|cm|mm|kg|g\b|meq|gm|liters?))/i.test(text.slice(t.end, t.end + 14));
    if (word && wardNumber) {
      const before = text.slice(Math.max(0, t.start - 30), t.start).toLowerCase();
      const moved = /\b(?:to|on|from|onto|at|into)\s+(?:the\s+)?(?:\d{3,4}\s+)?$/.test(before) || /(?:^|\n)\s*(?:plan|p|dispo|disposition)\s*[:-]\s*(?:to\s+)?$/.test(before);
      const cased = /^[A-Z][a-z]/.test(t.text) ? !this.#english(t.lower) || !/[.!?:]\s*$/.test(text.slice(Math.max(0, t.start - 6), t.start)) : isProperCase(t, text) && !this.#englishOrTypo(t.lower);
      // After "transfer to", a word then a ward number names the ward even when it is an English word ("transfer to Farrow 2").
      const transferred = /\b(?:transfer|transferred|transfered|xfer|xferred|trans|c\/o|call out)\s+to\s+(?:the\s+)?$/.test(before) && !UNITS.has(t.lower) && !CLINICAL_NEXT.has(t.lower) && !MONTHS.has(t.lower);
      // The ward number written onto the name ("WYMAN6") is part of it.
      if (moved && (cased || transferred)) mark(/\d/.test(text[t.end] ?? '') ? { ...t, end: t.end + 1 } : t, 'location');
    }
    // "Greater Elmwood Med Ctr", "LAKESIDE MED CENTER": capitalised words before an abbreviated medical centre.
    const afterNext = tokens[i + 2];
    if (next?.lower === 'med' && afterNext !== undefined && /^(?:ctr|center|centre|cntr)$/.test(afterNext.lower) && /^\s{1,2}$/.test(gap(t, next)) && /^[A-Z]/.test(t.text) && isProperCase(t, text) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && !FACILITY.has(t.lower) && !/^(?:this|that|community|state|local|outside|other|nursing|new|old|his|her|their|your|our|university)$/.test(t.lower)) {
      mark(t, 'location');
      if (prev !== undefined && /^\s{1,2}$/.test(gap(prev, t)) && /^[A-Z]/.test(prev.text) && !STOP.has(prev.lower) && !PLACE_BEFORE.has(prev.lower) && !CONTACT_VERBS.has(prev.lower) && !CLINICAL.has(prev.lower) && !MOVED.has(prev.lower)) mark(prev, 'location');
    }
    // Places after a movement verb, even ordinary words and local abbreviations: "transferred from Mercy",
    // "sent to JHH", "seen at Franklin Square", "back to the Harbor".
    if (prev !== undefined && /^(?:to|from|at)$/.test(prev.lower) && /^\s{1,2}$/.test(gap(prev, t)) && !(next !== undefined && UNITS.has(next.lower) && !FACILITY.has(next.lower))) {
      let v = i - 2;
      if (tokens[v]?.lower === 'back' || tokens[v]?.lower === 'over') v--;
      const verb = tokens[v];
      // "c/o to X": called out (transferred) to a ward.
      const calledOut = verb !== undefined && verb.lower === 'o' && /^c\/$/i.test(text.slice(verb.start - 2, verb.start));
      const moved = verb !== undefined && (MOVED.has(verb.lower) || calledOut) && /^[\s/]{1,3}$/.test(text.slice(verb.end, tokens[v + 1]!.start));
      if (moved && this.#movedPlace(t, text)) {
        mark(t, 'location');
        for (let j = i + 1, k = 0; j < tokens.length && k < 2; j++, k++) {
          const n = tokens[j]!;
          if (!/^\s$/.test(gap(tokens[j - 1]!, n)) || !this.#movedPlace(n, text) || /^[A-Z]+$/.test(n.text) !== /^[A-Z]+$/.test(t.text)) break;
          mark(n, 'location');
        }
      }
    }
    // Where someone lives or comes from: "lives in Riverdale", "visiting from Ocean View", "lives in DC".
    if (prev !== undefined && /^(?:in|at|from|near|to)$/.test(prev.lower) && /^\s{1,2}$/.test(gap(prev, t))) {
      const verb = tokens[i - 2];
      const livesVerb = verb !== undefined && /^\s{1,2}$/.test(gap(verb, prev)) && /^(?:lives|live|living|lived|resides|reside|resided|residing|moved|moving|relocated|vacation|vacationing|visiting|flew|flying|drove|driving|traveled|travelled|traveling|travelling|born|raised|grew|returned|works|worked)$/.test(verb.lower);
      const place = (w: Token): boolean => /^[A-Z]/.test(w.text) && !STOP.has(w.lower) && !CLINICAL.has(w.lower) && !WEEKDAYS.has(w.lower) && !MONTHS.has(w.lower) && !RELATIONS.has(w.lower) && !TITLES.has(w.lower) && !US_STATE_NAMES.has(w.lower) && !/^(?:town|city|area|country|state|county|house|home|apartment|apt|building|assisted|nursing|group|senior|community|hospital|shelter|facility|rehab|law|laws|florida|new|north|south|east|west|the)$/.test(w.lower);
      if (livesVerb && place(t) && (/^[A-Z][a-z]/.test(t.text) || /^[A-Z]{2}$/.test(t.text) || !this.#englishOrTypo(t.lower))) {
        mark(t, 'location');
        for (let j = i + 1, k = 0; j < tokens.length && k < 2; j++, k++) {
          const n = tokens[j]!;
          if (!/^\s$/.test(gap(tokens[j - 1]!, n)) || !place(n) || !/^[A-Z][a-z]/.test(n.text) === /^[A-Z][a-z]/.test(t.text)) break;
          mark(n, 'location');
        }
      }
    }
    // Employer: "works for vista health", "employed by IBM", "CEO of Genentech".
    if (prev !== undefined && /^(?:for|at|by|of)$/.test(prev.lower) && /^\s$/.test(gap(prev, t))) {
      const verb = tokens[i - 2];
      const employed = prev.lower === 'of' ? /^(?:ceo|owner|president|manager|director|chairman|founder|employee)$/ : /^(?:works?|worked|working|employed|retired|employee|owns)$/;
      if (verb !== undefined && employed.test(verb.lower) && /^\s$/.test(gap(verb, prev))) {
        const companyWord = (w: Token): boolean => /^[a-z][a-z&'-]*$/i.test(w.text) && !STOP.has(w.lower) && !CLINICAL.has(w.lower) && !RELATIONS.has(w.lower) && !/^(?:years?|many|several|the|a|an|himself|herself|home|self|company|city|state|county|government|school|hospital|living)$/.test(w.lower);
        if (companyWord(t) && (/^[A-Z]/.test(t.text) || !this.#english(t.lower) || (next !== undefined && FACILITY.has(next.lower)))) {
          mark(t, 'location');
          if (next !== undefined && /^\s$/.test(gap(t, next)) && companyWord(next) && (FACILITY.has(next.lower) || /^[A-Z]/.test(next.text) === /^[A-Z]/.test(t.text)) && !/^(?:and|since|until|as|in)$/.test(next.lower)) mark(next, 'location');
        }
      }
    }
    // Name(s) before a relation in brackets or after a comma or dash: "URSLA MORETTI (DAUGHTER)", "Bob, son,".
    if (next !== undefined && (RELATIONS.has(next.lower) || (next.lower === 'significant' && tokens[i + 2]?.lower === 'other')) && /^\s*(?:\(|,|-|\/)\s*(?:his|her|pt'?s)?\s*$/.test(gap(t, next)) && /^[A-Z]/.test(t.text) && this.#nameCandidate(t) && !this.#lex.usPlaces.has(t.lower) && (this.#lex.firstNames.has(t.lower) || (this.#lex.surnames.has(t.lower) && !this.#english(t.lower)) || (/^[A-Z][a-z]/.test(t.text) && !this.#english(t.lower)))) {
      mark(t, 'name');
      if (prev !== undefined && /^\s$/.test(gap(prev, t)) && /^[A-Z]/.test(prev.text) && this.#nameCandidate(prev) && (this.#lex.firstNames.has(prev.lower) || !this.#english(prev.lower))) mark(prev, 'name');
    }
    // Role then name: "NP grace made aware", "resident Dr Smith" (the title rule takes that one).
    if (prev !== undefined && ROLES_BEFORE.has(prev.lower) && /^\s$/.test(gap(prev, t)) && this.#lex.firstNames.has(t.lower) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && t.lower.length >= 3) {
      const after = text.slice(t.end, t.end + 20).toLowerCase();
      // "NP JANET ORDERED", "PA Kim": a first name written as a name after a clinician's role, even an English one.
      const written = /^[A-Z]/.test(t.text) && isProperCase(t, text) && NAMED_ROLES.has(prev.lower) && !(next !== undefined && CLINICAL_NEXT.has(next.lower));
      if (!this.#english(t.lower) || /^[A-Z][a-z]/.test(t.text) || written || /^\s*(?:made\s+)?(?:aware|notified|paged|called|informed|in\b|at\b)/.test(after)) mark(t, 'name');
    } else if (prev !== undefined && NAMED_ROLES.has(prev.lower) && /^\s$/.test(gap(prev, t)) && /^[A-Z]/.test(t.text) && t.lower.length >= 4 && this.#surnameish(t) && !this.#englishOrTypo(t.lower) && !UNITS.has(t.lower)) {
      // "NP Vukovic aware", "resident OKAFOR": a surname that is no English word after a clinician's role.
      mark(t, 'name');
    }
    // Two capitalised words neither of which is English, one a listed name: "Radu Crosson", "Lopie Certusi".
    if (next !== undefined && /^\s$/.test(gap(t, next)) && /^[A-Z][a-z]+$/.test(t.text) && /^[A-Z][a-z]+$/.test(next.text) && t.lower.length >= 3 && next.lower.length >= 3) {
      const plainName = (w: Token): boolean => !STOP.has(w.lower) && !CLINICAL.has(w.lower) && !FACILITY.has(w.lower) && !this.#englishOrTypo(w.lower) && !this.#lex.usPlaces.has(w.lower);
      if (plainName(t) && plainName(next) && (this.#lex.firstNames.has(t.lower) || this.#lex.surnames.has(t.lower) || this.#lex.surnames.has(next.lower))) {
        mark(t, 'name');
        mark(next, 'name');
      }
    }
    // "name is X", "HCP is X", "proxy: X", "Covering MD: X", "PCP is X".
    if (prev !== undefined && /^(?:is|:|-)$/.test(gap(prev, t).trim() === '' ? prev.lower : gap(prev, t).trim()) && /^[A-Z]/.test(t.text) && this.#nameCandidate(t)) {
      const cue = gap(prev, t).trim() === '' ? tokens[i - 2] : prev;
      if (cue !== undefined && /^(?:name|hcp|proxy|poa|guardian|contact|md|rn|np|pcp|resident|attending|fellow|intern|nurse|physician|surgeon|cardiologist|oncologist|nephrologist|neurologist|intensivist|hospitalist)$/.test(cue.lower) && (this.#lex.firstNames.has(t.lower) || this.#lex.surnames.has(t.lower) || !this.#english(t.lower))) {
        mark(t, 'name');
        if (next !== undefined && /^\s$/.test(gap(t, next)) && /^[A-Z]/.test(next.text) && this.#surnameish(next)) mark(next, 'name');
      }
    }
    // A surname before "family": "keep the Romero family aware".
    if (next !== undefined && /^famil(?:y|ies)$/.test(next.lower) && /^\s$/.test(gap(t, next)) && /^[A-Z]/.test(t.text) && this.#surnameish(t) && this.#lex.surnames.has(t.lower) && !this.#lex.usPlaces.has(t.lower)) {
      mark(t, 'name');
    }
    // Names joined by "and"/"&": "Both Suzette and Hank", "Drs Ballou and Dutter".
    if (prev !== undefined && /^(?:and|&)$/.test(prev.lower) && /^\s{1,2}$/.test(gap(prev, t)) && /^[A-Z]/.test(t.text) && isProperCase(t, text)) {
      const first = tokens[i - 2];
      if (first !== undefined && /^\s{1,2}$/.test(gap(first, prev)) && /^[A-Z]/.test(first.text) && this.#lex.firstNames.has(t.lower) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && !RELATIONS.has(t.lower) && (this.#lex.firstNames.has(first.lower) || this.#nameLike(first)) && !this.#english(first.lower)) {
        mark(first, 'name');
        mark(t, 'name');
      }
    }
  }

  /** A word after "transferred to" that may name a place: a capitalised word in a mixed-case note, or an acronym. */
  #movedPlace(t: Token, text: string): boolean {
    if (STOP.has(t.lower) || CLINICAL.has(t.lower) || UNITS.has(t.lower) || WEEKDAYS.has(t.lower) || MONTHS.has(t.lower) || RELATIONS.has(t.lower) || TITLES.has(t.lower)) return false;
    if (FACILITY.has(t.lower) || BEFORE_NUMBER.has(t.lower) || US_STATE_NAMES.has(t.lower) || STATE_ABBREVIATIONS.has(t.lower) || !/^[A-Za-z]+$/.test(t.text)) return false;
    const window = text.slice(Math.max(0, t.start - 150), t.end + 150);
    const mixed = /[a-z]{3}/.test(window) && /[A-Z][a-z]/.test(window);
    if (/^[A-Z][a-z]+$/.test(t.text)) return mixed && t.lower.length >= 3;
    if (/^[A-Z]{2,5}$/.test(t.text)) return mixed ? !this.#english(t.lower) || t.text.length <= 3 : !this.#englishOrTypo(t.lower);
    // A note written all in lower case: a longer word that is not even a misspelt English word ("sent to rosemont").
    if (/^[a-z]+$/.test(t.text) && isProperCase(t, text)) return t.lower.length >= 5 && !this.#englishOrTypo(t.lower) && !this.#lex.firstNames.has(t.lower);
    return false;
  }

  /** "St. Agnes", "Saint Joseph". */
  #saintRule(c: RuleContext, i: number): void {
    const { text, tokens, mark, adjacent } = c;
    const t = tokens[i]!;
    const prev = tokens[i - 1];
      const saint = prev !== undefined && (prev.lower === 'saint' || (prev.lower === 'st' && (text[prev.end] === '.' || this.#lex.firstNames.has(t.lower.replace(/'s$/, '')))));
      // Lower case only in a note written in lower case, and only for a first name ("st agnes").
      const cased = /^[A-Z]/.test(t.text) || (isProperCase(t, text) && this.#lex.firstNames.has(t.lower.replace(/'s$/, '')));
      if (prev !== undefined && saint && adjacent(prev, t) && cased && !STOP.has(t.lower) && !CLINICAL.has(t.lower)) {
        mark(prev, 'location');
        mark(t, 'location');
      }
  }

  /** Hospital acronyms, named units, contact context, gazetteer places, movement words, facility words. */
  #placeAndContactRules(c: RuleContext, i: number): void {
    const { text, tokens, mark, gap, adjacent } = c;
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
      // Hospital acronyms after a movement word: "TO GH", "from GBMC", "at MGH", "to ummc".
      const acronymAfter = prev !== undefined && (PLACE_BEFORE.has(prev.lower) || prev.lower === 'the' || prev.lower === 'in' || (/^(?:into|by|leave|left|leaving)$/.test(prev.lower) && /^[A-Z]+$/.test(t.text))) && /^\s{1,2}$/.test(gap(prev, t));
      // ... or before an emergency room or unit: "GH EW", "MGH ER".
      const acronymBefore = next !== undefined && /^(?:ed|ew|er|icu|ccu|micu|sicu|nursing|staff|team|cardiology|doctors?)$/i.test(next.text) && /^\s{1,2}$/.test(gap(t, next)) && /^[A-Z]+$/.test(t.text);
      if ((acronymAfter || acronymBefore) && /^(?:[A-Z]{1,4}(?:H|MC|HC|MH)|[a-z]{1,3}(?:h|mc))$/.test(t.text) && !CLINICAL.has(t.lower) && !STOP.has(t.lower) && !this.#english(t.lower) && t.lower !== 'ch' && !UNITS.has(t.lower) && !STATE_ABBREVIATIONS.has(t.lower)) {
        mark(t, 'location');
      }
      // Units named after people or places: "ON QUARTERMAIN 6", "to Quartermain 3".
      if (prev !== undefined && /^(?:on|to|from)$/i.test(prev.lower) && next !== undefined && /^\s?$/.test(gap(t, next)) === false && /^\s?\d\b/.test(text.slice(t.end, t.end + 3)) && t.text.length >= 5 && !CLINICAL.has(t.lower) && !this.#englishOrTypo(t.lower)) {
        mark(t, 'location');
      }
      // Contact context: "paged Wolfe", "Nolan aware", "per Hayes", "Manning RN".
      // ... and "spoke with Okonkwo", "discussed with hinojosa".
      const withVerb = prev?.lower === 'with' && /^\s$/.test(gap(prev, t)) && tokens[i - 2] !== undefined && /^(?:spoke|spoken|speak|discussed|talked|met|consulted|conferred)$/.test(tokens[i - 2]!.lower);
      const byVerb = prev !== undefined && (CONTACT_VERBS.has(prev.lower) || withVerb) && adjacent(prev, t);
      const byRole = next !== undefined && ROLES_AFTER.has(next.lower) && (/^[\s,]{1,3}$/.test(gap(t, next)) || (/^\)\s?$/.test(gap(t, next)) && text[t.start - 1] === '('));
      if ((byVerb || byRole) && this.#nameCandidate(t) && (!this.#englishOrTypo(t.lower) || this.#lex.firstNames.has(t.lower)) && isProperCase(t, text)) mark(t, 'name', false);
      // US places from the gazetteer: "San Diego", "catonsville"; an English word ("Laurel") only after "to/from/at/in".
      const place = this.#placeAt(tokens, i, text);
      if (place > 0) {
        for (let k = 0; k < place; k++) mark(tokens[i + k]!, 'location', false);
      } else if (place === 0 && this.#lex.usPlaces.has(t.lower) && !US_STATE_NAMES.has(t.lower) && prev !== undefined && (PLACE_BEFORE.has(prev.lower) || prev.lower === 'in') && /^[A-Z][a-z]/.test(t.text) && !CLINICAL.has(t.lower) && !STOP.has(t.lower)) {
        mark(t, 'location', false);
      }
      // Places after a movement word: "transfer from CALVERT", "back to quartermain", "at GH".
      if (prev !== undefined && PLACE_BEFORE.has(prev.lower) && /^\s{1,2}$/.test(gap(prev, t)) && this.#placeCandidate(t) && this.#placeCased(t, text) && !NOT_A_PLACE_BEFORE_TO.has(tokens[i - 2]?.lower ?? '')) mark(t, 'location', false);
      // Places: one or two words before a facility word ("CALVERT HOSPITAL", "Sacred Heart Hospital"), or after "St.".
      // "Memorial Hospital", "UNION MEMORIAL", "General Hospital": a facility word that names the facility.
      if (next !== undefined && /^\s{1,2}$/.test(gap(t, next)) && /^(?:memorial|union|general|regional|adventist|methodist|baptist|presbyterian|university)$/i.test(t.text) && /^(?:hospital|hosp|memorial|medical|center|regional)$/i.test(next.text) && /^[A-Z]/.test(t.text)) {
        mark(t, 'location');
      }
      // In a note written in lower case, an ordinary word between "to/from/at" and a hospital word names it ("from harbor hospital").
      const lowerNamed = next !== undefined && prev !== undefined && PLACE_BEFORE.has(prev.lower) && /^\s{1,2}$/.test(gap(prev, t)) && /^[a-z]{3,}$/.test(t.text) && /^(?:hospital|hosp|memorial|medical|regional)$/.test(next.lower) && isProperCase(t, text) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && !FACILITY.has(t.lower) && !UNITS.has(t.lower) && !GENERIC_BEFORE_FACILITY.has(t.lower);
      if (next !== undefined && FACILITY.has(next.lower) && /^\s{1,2}$/.test(gap(t, next)) && (this.#placeWord(t, next) || lowerNamed)) {
        mark(t, 'location');
        // "Harford Memorial", "Laurel Regional": these facility words are part of the proper name.
        if (/^(?:memorial|regional|general|adventist|methodist|baptist|presbyterian|lutheran|union|shore)$/i.test(next.text)) mark(next, 'location');
        const capital = (w: Token): boolean => /^[A-Z][a-z]/.test(w.text) || (/^[A-Z]+$/.test(w.text) && /^[A-Z]+$/.test(t.text));
        if (prev !== undefined && /^\s{1,2}$/.test(gap(prev, t)) && !CONTACT_VERBS.has(prev.lower) && !PLACE_BEFORE.has(prev.lower) && !STOP.has(prev.lower) && !CLINICAL.has(prev.lower) && (this.#placeWord(prev, t) || capital(prev))) {
          mark(prev, 'location');
        }
      }
  }

  /**
   * A name or place found once in a note is PHI wherever else it occurs in that note ("Dr. Tyro ... Tyro
   * agreed"): every other whole-word occurrence of a found word is marked too, unless it is an English word.
   */
  #propagate(text: string, strong: readonly PhiSpan[], spans: PhiSpan[]): void {
    const words = new Map<string, PhiKind>();
    for (const s of strong) {
      if (s.kind !== 'name' && s.kind !== 'location') continue;
      const w = text.slice(s.start, s.end);
      if (!/^[A-Za-z][A-Za-z']{2,}$/.test(w)) continue;
      const lower = w.toLowerCase();
      if (this.#english(lower) || CLINICAL.has(lower) || STOP.has(lower)) continue;
      words.set(lower, s.kind);
    }
    if (words.size === 0) return;
    const re = new RegExp(`(?<![A-Za-z])(?:${[...words.keys()].map(escapeRegExp).join('|')})(?![A-Za-z])`, 'gi');
    for (const m of text.matchAll(re)) spans.push({ start: m.index, end: m.index + m[0].length, kind: words.get(m[0].toLowerCase()) ?? 'name' });
  }

  /** Length in tokens of an unambiguous gazetteer place starting at token i (0: none). */
  #placeAt(tokens: readonly Token[], i: number, text: string): number {
    if (!this.#placeStarts.has(tokens[i]!.lower)) return 0;
    for (let n = 3; n >= 1; n--) {
      const run = tokens.slice(i, i + n);
      if (run.length < n) continue;
      if (run.some((t, k) => k > 0 && !/^\s$/.test(text.slice(run[k - 1]!.end, t.start)))) continue;
      const name = run.map((t) => t.lower).join(' ');
      // A state on its own is not below-state geography (Safe Harbor keeps it); inside a facility name the facility rules take it.
      if (!this.#lex.usPlaces.has(name) || US_STATE_NAMES.has(name)) continue;
      const before = tokens[i - 1];
      const moved = before !== undefined && (PLACE_BEFORE.has(before.lower) || before.lower === 'in');
      if (n > 1) return run.every((t) => /^[A-Z]/.test(t.text)) || run.some((t) => !this.#english(t.lower)) || moved ? n : 0;
      const t = run[0]!;
      if (t.lower.length < 4 || STOP.has(t.lower) || CLINICAL.has(t.lower) || this.#english(t.lower) || WEEKDAYS.has(t.lower)) return 0;
      return 1;
    }
    return 0;
  }

  /**
   * Case evidence for a place after "to/from/at": capitalised in mixed-case text; in a note written all
   * in capitals, a longer word that is not even a misspelt English word (abbreviations and typos are the
   * usual false hits there).
   */
  #placeCased(t: Token, text: string): boolean {
    if (/^[A-Z][a-z]/.test(t.text)) return true;
    if (!/^[A-Z]+$/.test(t.text) || !isProperCase(t, text)) return false;
    return t.text.length >= 5 && !this.#englishOrTypo(t.lower);
  }

  /** A word after "to", "from" or "at" that may be a place: unknown to the English list and not clinical. */
  #placeCandidate(t: Token): boolean {
    if (t.lower.length < 2 || STOP.has(t.lower) || CLINICAL.has(t.lower) || WEEKDAYS.has(t.lower) || RELATIONS.has(t.lower)) return false;
    if (TITLES.has(t.lower) || US_STATE_NAMES.has(t.lower) || STATE_ABBREVIATIONS.has(t.lower)) return false;
    // A misspelt word ("desaturate", "vommit") only counts when written as a proper name ("Quartermain").
    if (this.#englishOrTypo(t.lower) && !(/^[A-Z][a-z]/.test(t.text) && !this.#english(t.lower))) return false;
    if (this.#english(t.lower) || this.#lex.firstNames.has(t.lower)) return false;
    return /^[a-z][a-z'-]*$/i.test(t.text);
  }

  /**
   * A word after a title: any alphabetic word except stop and clinical words ("Dr. White" is a name), but
   * "MS" and "MR" are also mental status and mitral regurgitation, so those need "Ms."/"Mr." or a
   * capitalised name, and a lower-case English word after "dr" must be a listed name.
   */
  #afterTitle(title: Token, t: Token, text: string): boolean {
    // "Ms S. came in": an initial after a title.
    if (/^[A-Z]$/.test(t.text) && text[t.end] === '.' && /^[A-Z]/.test(title.text) && /^\.?\s$/.test(text.slice(title.end, t.start))) {
      // ... unless the letter starts a clinical abbreviation ("MS A. FIB": mental status, atrial fibrillation).
      const rest = /^\.\s?([a-z]+)/i.exec(text.slice(t.end, t.end + 12))?.[1]?.toLowerCase() ?? '';
      return !CLINICAL.has(t.lower + rest);
    }
    if (!/^[a-z][a-z'-]*$/i.test(t.text) || TITLES.has(t.lower)) return false;
    // "dr. brown's order": the possessive is judged on the name.
    if (t.lower.endsWith("'s")) t = { ...t, text: t.text.slice(0, -2), lower: t.lower.slice(0, -2) };
    if (STOP.has(t.lower) && !(/^[A-Z][a-z]/.test(t.text) && this.#lex.firstNames.has(t.lower))) return false;
    // "Dr. Foley" is a name, "foley" a catheter.
    if (CLINICAL.has(t.lower) && !(/^[A-Z][a-z]/.test(t.text) && title.lower === 'dr')) return false;
    const dotted = text[title.end] === '.';
    const proper = (/^[A-Z][a-z]/.test(title.text) && /^[A-Z]/.test(t.text)) || /^[A-Z][a-z]/.test(t.text);
    if (['ms', 'mr', 'miss', 'dear'].includes(title.lower) && !dotted && !proper && (t.lower.length < 3 || this.#english(t.lower))) return false;
    const listed = this.#lex.firstNames.has(t.lower) || this.#lex.surnames.has(t.lower);
    return listed || !this.#english(t.lower) || (/^[A-Z]/.test(t.text) && isProperCase(t, text));
  }

  /** A word that can be a surname: listed, or unknown to the English list; not a stop or clinical word. */
  #surnameish(t: Token): boolean {
    if (!/^[a-z][a-z'-]*$/i.test(t.text) || STOP.has(t.lower) || CLINICAL.has(t.lower) || TITLES.has(t.lower) || WEEKDAYS.has(t.lower)) return false;
    if (RELATIONS.has(t.lower) || SIGNATURE_ROLES.has(t.lower) || t.lower.length < 2) return false;
    // Very common surnames count even when they are English words (Miller, White); rarer ones only if not.
    return (this.#lex.surnames.get(t.lower) ?? Infinity) < 3000 || !this.#english(t.lower);
  }

  /** A word that may be part of a place name before a facility word. */
  #placeWord(t: Token, next: Token): boolean {
    if (STOP.has(t.lower) || FACILITY.has(t.lower) || CLINICAL.has(t.lower) || TITLES.has(t.lower) || t.lower.length < 2) return false;
    if (/^(?:nursing|rehab|medical|general|memorial|health|other|outside|local|community|state)$/i.test(t.text)) return false;
    // "home" and "house" only make a place with a capitalised name ("Keswick House"), not "go home".
    const weak = next.lower === 'home' || next.lower === 'house' || next.lower === 'health' || next.lower === 'center';
    if (weak) return /^[A-Z][a-z]/.test(t.text) && /^[A-Z][a-z]/.test(next.text) && !this.#english(t.lower);
    if (!this.#english(t.lower)) return true;
    const strongFacility = /^(?:hospital|hosp|memorial|rehab|rehabilitation|clinic|infirmary|hospice|medical|regional|university|campus|shore|adventist|methodist|baptist|presbyterian|lutheran)$/i.test(next.text);
    const cased = /^[A-Z][a-z]/.test(t.text) || (/^[A-Z]+$/.test(t.text) && /^[A-Z]+$/.test(next.text));
    return cased && strongFacility && !/^(?:the|a|this|that|community|state|local|outside|other|nursing|new|old|his|her|their)$/i.test(t.text);
  }
}

/** First words of the state names (most tokens start none). */
const STATE_FIRST_WORDS: ReadonlySet<string> = new Set(US_STATES.map((s) => s.split(' ')[0] ?? s));

/** Length in tokens of a US state name starting at token i ("maine", "New Hampshire"); 0 when none. */
function stateLength(tokens: readonly Token[], i: number, text: string): number {
  const first = tokens[i]!;
  if (!STATE_FIRST_WORDS.has(first.lower)) return 0;
  const second = tokens[i + 1];
  if (second !== undefined && /^\s$/.test(text.slice(first.end, second.start)) && US_STATE_NAMES.has(`${first.lower} ${second.lower}`)) return 2;
  return US_STATE_NAMES.has(first.lower) ? 1 : 0;
}

const placeStartsCache = new WeakMap<Lexicon, ReadonlySet<string>>();
function placeStarts(lex: Lexicon): ReadonlySet<string> {
  let starts = placeStartsCache.get(lex);
  if (starts === undefined) {
    starts = new Set([...lex.usPlaces].map((p) => p.split(' ')[0] ?? p));
    placeStartsCache.set(lex, starts);
  }
  return starts;
}

/** A relation word at token j: "wife", "son", "son-in-law", and the two-word "significant other" and "contact person". */
function relationAt(tokens: readonly Token[], j: number): boolean {
  const t = tokens[j];
  if (t === undefined) return false;
  if (RELATIONS.has(t.lower)) return true;
  const before = tokens[j - 1]?.lower;
  // "son-in-law Bob": the relation word sits before "in-law".
  const inLaw = t.lower === 'law' && before === 'in' && RELATIONS.has(tokens[j - 2]?.lower ?? '');
  return inLaw || (t.lower === 'other' && before === 'significant') || (t.lower === 'person' && before === 'contact');
}

/** Capitalised in a note written in mixed case, or any case in a note written all in one case. */
function isProperCase(t: Token, text: string): boolean {
  if (/^[A-Z]/.test(t.text)) return true;
  const window = text.slice(Math.max(0, t.start - 200), t.end + 200);
  return !/[A-Z]{2}/.test(window.replace(/\b[A-Z]{2,5}\b/g, ''));
}

/** Words before "to" that make what follows a drug, a state or an action, not a place ("secondary to", "changed to"). */
const NOT_A_PLACE_BEFORE_TO: ReadonlySet<string> = new Set([
  'secondary', 'due', 'changed', 'change', 'sensitive', 'response', 'responding', 'responds', 'responded', 'prior', 'attempt', 'attempts',
  'agree', 'agrees', 'agreed', 'related', 'compared', 'able', 'unable', 'switched', 'switch', 'converted', 'increased', 'decreased',
  'titrated', 'weaned', 'allergic', 'allergy', 'contributing', 'progressed', 'progressing', 'resistant', 'added', 'want', 'wants',
  'wanted', 'needs', 'need', 'try', 'tried', 'trying', 'begin', 'began', 'started', 'continue', 'continues', 'continued', 'refused', 'refuses', 'declined', 'according', 'adherent', 'exposed', 'reaction', 'intolerant', 'upgraded',
  'downgraded', 'rate', 'coarse', 'clear', 'diminished', 'tolerating', 'tolerated', 'sr', 'st', 'nsr', 'from', 'dt', 'pos',
]);
/** Words that describe rather than name a hospital ("from another hospital", "to a psych hospital"). */
const GENERIC_BEFORE_FACILITY: ReadonlySet<string> = new Set([
  'another', 'outside', 'local', 'community', 'state', 'general', 'nursing', 'rehab', 'psych', 'psychiatric', 'childrens', "children's",
  'teaching', 'university', 'county', 'city', 'private', 'public', 'veterans', 'same', 'any', 'different', 'new', 'old', 'acute', 'chronic',
  'specialty', 'care', 'day', 'mental', 'military', 'army', 'navy', 'her', 'his', 'their', 'our', 'your', 'this', 'that', 'other', 'home',
  'regular', 'usual', 'previous', 'prior', 'referring', 'sending', 'receiving', 'nearby', 'closer', 'closest', 'nearest', 'small', 'big',
  'large', 'major', 'main', 'trauma', 'cancer', 'heart', 'eye', 'kids', 'womens', "women's", 'mens', 'tertiary', 'regional',
]);
/** Words that follow a drug, device or sign rather than a name. */
const CLINICAL_NEXT: ReadonlySet<string> = new Set([
  'gtt', 'gtts', 'drip', 'po', 'iv', 'ivp', 'pr', 'sq', 'sl', 'mg', 'mcg', 'catheter', 'cath', 'line', 'patch', 'cream', 'lotion', 'ointment',
  'diet', 'tube', 'tubes', 'secretions', 'stool', 'sputum', 'tremor', 'precautions', 'applied', 'dose', 'tab', 'tabs', 'bolus', 'infusion',
  'level', 'levels', 'syndrome', 'disease', 'sign', 'score', 'scale', 'protocol', 'mask', 'bag', 'dressing', 'drain', 'pump', 'colored',
  'tan', 'sandwich', 'given', 'started', 'held', 'restarted', 'increased', 'decreased', 'weaned', 'titrated', 'units', 'tid', 'bid', 'qd',
  'prn', 'nebs', 'neb', 'gel', 'spray', 'powder', 'suppository', 'liq', 'liquid', 'stools', 'drainage', 'urine', 'vent',
]);
const MONTHS: ReadonlySet<string> = new Set(['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']);
const FRACTIONS = new Set(['1/2', '1/3', '1/4', '2/3', '3/4']);
/** Numbers that match a date pattern but read as something else: fractions, 5/5 strength, vent settings, clock times. */
function notADate(m: string, text: string, at: number): boolean {
  if (FRACTIONS.has(m) || m.split(/\s?-\s?/).some((part) => FRACTIONS.has(part))) return true;
  const md = /^(\d{1,2})\/(\d{1,2})$/.exec(m);
  const before = text.slice(Math.max(0, at - 14), at).toLowerCase();
  const after = text.slice(at + m.length, at + m.length + 2);
  // Ventilator settings ("700x12/10/40%", "PSV 10/5", "BIPAP 10/5") and pain or strength scores (3/10, 5/5).
  if (after.startsWith('%') || /\dx\s*$/.test(before)) return true;
  if (/^\d{1,2}'$/.test(m) && /\b(?:hob|x)\s*$/.test(before)) return true;
  if (md !== null && ((md[1] === md[2] && Number(md[1]) <= 5) || md[2] === '10' && /\bpain|c\/o/.test(before) || /\b(?:ps|peep|cpap|psv|bi-?pap|ips|eps|settings|strength|grade|flowby)\W*$/.test(before))) return true;
  if (md !== null && ventilatorSetting(Number(md[1]), Number(md[2]), text, at, m.length)) return true;
  const year = /^(\d{2})(\d{2})$/.exec(m);
  if (year !== null && /^(?:00|15|30|45)$/.test(year[2] ?? '') && !/\b(?:in|since|of|year|yr|born|from|until|till|summer|winter|spring|fall)\W*$/.test(before)) return true;
  return false;
}

/**
 * "PSV 10/5", "CPAP .4%, 5/8", "mask ventilation 5/10 30%", "co/ci 5/3", "8/10 CP": small pairs in a
 * ventilator, haemodynamic or pain context read as settings or scores, not dates.
 */
function ventilatorSetting(a: number, b: number, text: string, at: number, length: number): boolean {
  const before = text.slice(Math.max(0, at - 40), at).toLowerCase();
  const after = text.slice(at + length, at + length + 16).toLowerCase();
  if (b === 10 && /\b(?:pain|cp|angina|discomfort|ache|aches|sore)\b/.test(before.slice(-16) + ' ' + after)) return true;
  if (a > 25 || b > 25) return false;
  if (/\bco\/ci\W*$/.test(before)) return true;
  const vent = /\b(?:psv?|peep|cpap|bi-?pap|simv|imv|cmv|vent|vented|ventilat\w*|mask|settings|wean\w*|fio2|tv|mode|ips|eps|pressure support)\b/;
  return vent.test(before) && (/^\W{0,3}(?:\d{2,3}\s*%|fio2|peep|bpm|rr|rate|sats?|overnight|c\b|w\b|with)/.test(after) || /(?:%|x\s*\d+|psv?|peep|cpap|bipap|of|to|ventilation)\W{0,4}$/.test(before));
}

/** Compiled known-identifier patterns of recent records (a record's texts are scrubbed one after another). */
const knownCache = new Map<string, RegExp | null>();

function knownIdentifierSpans(text: string, known: readonly string[], spans: PhiSpan[]): void {
  if (known.length === 0) return;
  const key = known.join('\u0000');
  let re = knownCache.get(key);
  if (re === undefined) {
    re = compileKnown(known);
    if (knownCache.size >= 64) knownCache.delete(knownCache.keys().next().value ?? '');
    knownCache.set(key, re);
  }
  if (re === null) return;
  for (const m of text.matchAll(re)) spans.push({ start: m.index, end: m.index + m[0].length, kind: 'name' });
}

function compileKnown(known: readonly string[]): RegExp | null {
  const parts = new Set<string>();
  for (const k of known) {
    const whole = k.trim();
    if (whole.length >= 2) parts.add(whole);
    if (/^[\p{L}\s'.-]+$/u.test(whole)) for (const p of whole.split(/[\s.]+/)) if (p.length >= 3) parts.add(p);
    // Synthea appends digits to names ("Jorge Luis88"): the letters alone are the name too.
    for (const p of whole.split(/\s+/)) {
      const letters = p.replace(/\d+$/, '');
      if (letters.length >= 3 && letters !== p) parts.add(letters);
    }
  }
  if (parts.size === 0) return null;
  const alternatives = [...parts].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|');
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives})(?![\\p{L}\\p{N}])`, 'giu');
}

/** Sorts spans and merges overlapping ones (the first span's kind wins). */
export function mergeSpans(spans: readonly PhiSpan[]): PhiSpan[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: PhiSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s.start < last.end) {
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
