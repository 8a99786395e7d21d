/**
 * Free-text PHI scrubber for clinical notes, report text and DICOM descriptors ("Clean Descriptors").
 *
 * Three layers, all local (no network, no model weights):
 * 1. patterns: dates (numeric, ISO, month names, two-digit years in history context), phone and pager
 *    numbers, e-mail, URLs, IP addresses, SSNs, device (GS1 UDI) and vehicle (VIN) identifiers, numbers
 *    announced by an identifier word (MRN, account, licence...), ages over 89;
 * 2. dictionaries: US Census first names and surnames that are not also English words ({@link lexicon});
 * 3. context rules: a word after a title (Dr, Mr, Mrs), a relation (wife, son, daughter) or a verb of
 *    contact (paged, called, per), before "MD"/"RN" or "aware"; place names before a facility word
 *    (HOSPITAL, REHAB, MEMORIAL) or after "St."; plus per-record known identifiers (the patient's own
 *    names, MRN, phone and address from the structured record).
 *
 * Measured on the PhysioNet deid 1.1 gold standard by `npm run bench -- deid-text` (see
 * docs/explanation/safe-harbor.md for the figures and the known gaps).
 */
import { lexicon, type Lexicon } from './lexicon.js';

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
  { kind: 'phone', re: /\b\d{3}\s\d{7}\b/g },
  { kind: 'phone', re: /\b[2-9]\d{2}-\d{4}\b(?![\s-]*(?:cc|ml|mg|units?|mcg|hrs?)\b)/gi },
  { kind: 'phone', re: /(?<=\b(?:pager|pgr|pg|beeper|bpr|page|ext|x)\.?\s*[:#]?\s*#?\s*)\d{4,6}\b/gi },
  // GS1 device identifiers (UDI) and vehicle identification numbers.
  { kind: 'id', re: /\(01\)\d{14}(?:\(\d{2,4}\)[^\s()]+)*/g },
  { kind: 'id', re: /\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b/g },
  {
    kind: 'id',
    re: /(?<=\b(?:MRN|MR#|medical record(?: number)?|record #|acct|account|ssn|licen[cs]e|plate|VIN|serial|S\/N|SN|UDI|member|policy|ID)(?:\s*(?:no\.?|number|#))?[:#\s]\s*)(?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b/gi,
  },
  // Dates.
  { kind: 'date', re: /\b\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?\b/g },
  { kind: 'date', re: new RegExp(`(?<![\\d.,/-])${MON}/${DAY}(?:/\\d{2}(?:\\d{2})?)?(?:/${MON}/${DAY})?(?![\\d/]|\\.\\d)`, 'g') },
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
  { kind: 'date', re: new RegExp(`\\b${DAY}(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH}\\b\\.?(?:,?\\s*(?:19|20)\\d{2}\\b)?`, 'gi') },
  { kind: 'date', re: /\b(?:january|february|april|june|july|august|september|october|november|december)\b/gi },
  { kind: 'date', re: /(?<=\b(?:the|on)\s+)(?:[4-9]|[12]\d|3[01])(?:st|nd|rd|th)\b/gi },
  // Years: four digits that are not clock times (no "at 2130", "1900 hrs").
  {
    kind: 'date',
    re: /(?<!\b(?:at|@|until|till|til|by|approx\.?|around|about|after|before|from|~)\s*)(?<![\d:.-])(?:19[0-9]\d|20[0-3]\d)(?:'?s)?\b(?!\s*(?:hrs?|hours|h\b|pm|am|:|-\s*\d{4}|cc|ml|mg|units?|kcal|cal))/gi,
  },
  { kind: 'date', re: /(?<=\s)'\d{2}\b(?!')|(?<=[\s(,])\d{2}'(?![sS\d])/g },
  // Two-digit year after a procedure or event: "MI 92", "CABG 81", "s/p AVR 84".
  {
    kind: 'date',
    re: /(?<=\b(?:mi|cabg|avr|mvr|cva|ptca|pci|stent|redo|tia|dx|dx'd|diagnosed|appy|chole|turp|ca|ablation|surgery|fx|repair|resection|pacer|pacemaker|icd|cath|since)\s*(?:x\s?\d\s*)?(?:in\s+)?)'?\d{2}\b(?!\s*(?:%|mg|mcg|cc|ml|units?|hrs?|min|mm|cm|y\/?o|yrs?|years?|-|\/|\.\d))/gi,
  },
  // Ages over 89.
  { kind: 'age', re: /\b(?:9\d|1[0-4]\d)(?=\s*(?:-?\s*y\/?o\b|-?\s*yrs?\b|-?\s*years?[\s-]old|-?year-old|yo\b))/gi },
  { kind: 'age', re: /(?<=\bage[d:]?\s*)(?:9\d|1[0-4]\d)\b/gi },
];

const TITLES = new Set(['dr', 'drs', 'doctor', 'mr', 'mrs', 'ms', 'miss', 'mister', 'dear']);
const RELATIONS = new Set([
  'son', 'sons', 'daughter', 'daughters', 'dtr', 'dau', 'wife', 'husband', 'hus', 'sister', 'sis', 'brother', 'bro', 'mother', 'mom',
  'father', 'dad', 'niece', 'nephew', 'friend', 'aunt', 'uncle', 'granddaughter', 'grandson', 'grandaughter', 'cousin', 'fiance',
  'fiancee', 'companion', 'girlfriend', 'boyfriend', 'partner', 'hcp', 'proxy', 'neighbor', 'sil', 'dil', 'spouse', 'grandmother',
  'grandfather', 'stepson', 'stepdaughter', 'pastor', 'priest', 'rabbi', 'chaplain',
]);
const CONTACT_VERBS = new Set(['per', 'paged', 'called', 'notified', 'informed', 'told', 'spoke', 'discussed', 'dw']);
const ROLES_AFTER = new Set(['md', 'rn', 'np', 'pa', 'rrt', 'aware', 'notified', 'paged', 'called', 'came', 'visited', 'said', 'stated', 'states', 'spoke', 'wishes', 'verbalizes']);
/**
 * Clinical words that are also Census surnames or unknown to the English list (drugs, devices,
 * abbreviations). Collected from the development half of the PhysioNet corpus.
 */
const CLINICAL = new Set([
  'min', 'cont', 'conts', 'vea', 'bp', 'hr', 'rr', 'carevue', 'propofol', 'ativan', 'lasix', 'psv', 'ra', 'iv', 'endo', 'abg', 'ps',
  'ns', 'sbp', 'fick', 'tol', 'ros', 'hickman', 'ett', 'ct', 'trach', 'neice', 'ptt', 'neo', 'inc', 'abd', 'resp', 'mso', 'sx',
  'pmicu', 'occ', 'go', 'tv', 'fio', 'tf', 'quinton', 'cxr', 'ac', 'ogt', 'ngt', 'uo', 'mg', 'cpap', 'rt', 'mn', 'duoderm', 'dsd',
  'tlc', 'npo', 'ng', 'flovent', 'cvp', 'co', 'chg', 'a-line', 'vt', 'ph', 'perl', 'neuro', 'bs', 'asa', 'tylenol', 'svr', 'simv',
  'remaines', 'pm', 'nepro', 'le', 'ivf', 'ir', 'hct', 'freq', 'combivent', 'ci', 'vanco', 'tpn', 'spo', 'sm', 'prn', 'oob', 'ntg',
  'nipride', 'mc', 'milrinone', 'foley', 'coumadin', 'heparin', 'levo', 'levophed', 'dopa', 'dopamine', 'dobutamine', 'dobuta',
  'lopressor', 'captopril', 'versed', 'fentanyl', 'morphine', 'haldol', 'vent', 'swan', 'peg', 'picc', 'cath', 'dilaudid', 'protonix',
  'zantac', 'pepcid', 'kcl', 'lytes', 'sats', 'sat', 'gtt', 'gtts', 'lr', 'prbc', 'ffp', 'plts', 'bun', 'cr', 'wbc', 'inr', 'pt',
  'lll', 'rll', 'rul', 'lul', 'rml', 'mae', 'perrl', 'perla', 'aox', 'cough', 'dc', 'dcd', 'etoh', 'hx', 'pmh', 'hpi', 'sob', 'doe',
  'nad', 'vss', 'afeb', 'tmax', 'rhonchi', 'lg', 'sm', 'mod', 'amt', 'amts', 'pts', 'mdi', 'mdis', 'nebs', 'neb', 'albuterol',
  'atrovent', 'solumedrol', 'prednisone', 'insulin', 'humalog', 'lantus', 'ssi', 'fsbs', 'bs', 'ekg', 'ecg', 'echo', 'tee', 'tte',
  'bipap', 'nc', 'fm', 'nrb', 'cta', 'dx', 'sl', 'po', 'pr', 'im', 'sq', 'subq', 'qd', 'bid', 'tid', 'qid', 'qhs', 'hs', 'ou',
  'levaquin', 'zosyn', 'flagyl', 'cipro', 'ceftaz', 'vancomycin', 'gent', 'amio', 'amiodarone', 'dig', 'digoxin', 'diltiazem',
  'cardizem', 'lovenox', 'plavix', 'integrilin', 'aggrastat', 'reopro', 'nitro', 'ntg', 'mucomyst', 'kayexalate', 'ativan',
  'precedex', 'ketamine', 'neurontin', 'methadone', 'oxycodone', 'percocet', 'vicodin', 'colace', 'senna', 'dulcolax', 'reglan',
  'zofran', 'phenergan', 'benadryl', 'ambien', 'seroquel', 'zyprexa', 'sepsis', 'uti', 'hd', 'cvvh', 'cvvhd', 'crrt', 'dialysis',
  'quinton', 'hickman', 'groshong', 'mediport', 'portacath', 'pacer', 'tvp', 'iabp', 'lvad', 'ccu', 'csru', 'tsicu', 'nsicu',
  'sao', 'pao', 'riss', 'bair', 'hugger', 'ganz', 'flowsheet', 'gd', 'chol', 'vue', 'ss', 'brady', 'shiley', 'ota', 'kling', 'ij',
  'nsg', 'lue', 'rue', 'lle', 'rle', 'penrose', 'dia', 'cal', 'zoll', 'procan', 'pej', 'passey', 'passy', 'hoyer', 'dopp', 'cvvhf',
  'mds', 'sw', 'td', 'signif', 'adeq', 'pulm', 'rbc', 'wdrawl', "md's", "pt's", 'p-micu', 'deline', 'micu', 'ccu', 'sicu', 'ew',
  'pacu', 'rrt', 'ot', 'pt', 'slp', 'cm', 'vna', 'rehab', 'osh', 'ed', 'er', 'or', 'ir', 'ep', 'gi', 'gu', 'id', 'cv',
  'sr', 'dec', 'inc', 'nsr', 'afib', 'a-fib', 'diurese', 'lcx', 'ms', 'angio', 'eval', 'lcs', 'bb', 'af', 'sb', 'lws', 'imv', 'abx',
  'recieve', 'mri', 'bilat', 'av', 'rij', 'lij', 'og', 'maint', 'lp', 'extubation', 'uop', 'nbp', 'hosp', 'diamox', 'cd', 'careview',
  'camode', 'bld', 'approx', 'sxn', 'rca', 'lad', 'midnoc', 'prev', 'lipline', 'kvo', 'doppler', 'cordis', 'cmv', 'antecubital',
  'ambu', 'amb', 'waterseal', 'vs', 'rx', 'tx', 'rv', 'lv', 'tpp', 'rhonci', 'thermodilution', 't-berg', 'respalor', 'svn', 'qs',
  'pmicu', 'go', "con't", 'aline', 'fhpa', 'fhp', 'suct', 'prox', "dc'd", 'sang', 'wein',
  'sr-st', 'st', 'svt', 'pvc', 'pvcs', 'pac', 'pacs', 'vfib', 'vtach', 'aflutter', 'ivp', 'ivpb', 'pca', 'epidural', 'tele',
]);
const SIGNATURE_ROLES = new Set(['rrt', 'rn', 'crt', 'md', 'np', 'lpn', 'msw', 'lcsw', 'lics', 'rph', 'pharmd', 'cns', 'snm', 'sn']);
const PLACE_BEFORE = new Set(['to', 'from', 'at', 'via', 'transfer', 'transferred', 'admitted']);
const WEEKDAYS = new Set(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'mon', 'tues', 'wed', 'thurs', 'fri', 'sat', 'sun']);
const FACILITY = new Set([
  'hospital', 'hosp', 'medical', 'memorial', 'rehab', 'rehabilitation', 'nursing', 'clinic', 'healthcare', 'manor', 'infirmary',
  'hospice', 'county', 'university', 'univ', 'general', 'center', 'ctr', 'health', 'home', 'house', 'institute', 'valley',
]);
/** Words that never start a name or place even after a title or relation. */
const STOP = new Set([
  'the', 'a', 'an', 'and', 'or', 'of', 'to', 'in', 'on', 'at', 'for', 'with', 'by', 'from', 'is', 'was', 'are', 'were', 'be', 'been',
  'has', 'had', 'have', 'he', 'she', 'his', 'her', 'they', 'them', 'their', 'it', 'this', 'that', 'who', 'which', 'will', 'would',
  'not', 'no', 'yes', 'pt', 'patient', 'aware', 'notified', 'called', 'paged', 'here', 'there', 'also', 'then', 'team', 'service',
  'in-law', 'law', 'all', 'both', 'family', 'present', 'visited', 'visiting', 'visit', 'came', 'at', 'bedside', 'now', 'today',
  'tonight', 'later', 'about', 'as', 'if', 'so', 'up', 'out', 'over', 'via', 're', 'md', 'rn', 'np', 'pa', 'same', 'other',
  'another', 'local', 'outside', 'osh', 'transfer', 'transferred', 'admitted', 'our', 'your', 'my', 'me', 'we', 'you', 'i', 'st',
  'can', 'may', 'did', 'does', 'do', 'states', 'stated', 'said', 'says', 'again', 'just', 'very', 'well', 'still', 'already',
  'phone', 'tel', 'home', 'hospital', 'floor', 'unit', 'icu', 'ccu', 'micu', 'sicu', 'ed', 'er', 'ew', 'or', 'pacu', 'cath', 'lab',
]);

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

  constructor(options: TextScrubberOptions = {}) {
    this.#lex = lexicon();
    this.#extra = new Set((options.extraNames ?? []).map((n) => n.toLowerCase()));
  }

  /** PHI spans in `text`, sorted and merged. */
  find(text: string, context: ScrubContext = {}): PhiSpan[] {
    const spans: PhiSpan[] = [];
    for (const { kind, re } of PATTERNS) {
      for (const m of text.matchAll(re)) {
        if (kind === 'date' && notADate(m[0], text, m.index)) continue;
        spans.push({ start: m.index, end: m.index + m[0].length, kind });
      }
    }
    this.#contextRules(text, spans);
    knownIdentifierSpans(text, context.knownIdentifiers ?? [], spans);
    return mergeSpans(spans);
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
    if (lower.length < 6) return false;
    for (let i = 0; i < lower.length; i++) {
      if (words.has(lower.slice(0, i) + lower.slice(i + 1))) return true;
      if (i + 1 < lower.length && words.has(lower.slice(0, i) + lower[i + 1]! + lower[i]! + lower.slice(i + 2))) return true;
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

  #contextRules(text: string, spans: PhiSpan[]): void {
    const tokens: Token[] = [];
    for (const m of text.matchAll(/[A-Za-z][A-Za-z']*[A-Za-z]|[A-Za-z]/g)) {
      tokens.push({ start: m.index, end: m.index + m[0].length, text: m[0], lower: m[0].toLowerCase() });
    }
    const mark = (t: Token, kind: PhiKind): void => void spans.push({ start: t.start, end: t.end, kind });
    const gap = (a: Token, b: Token): string => text.slice(a.end, b.start);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      const prev = tokens[i - 1];
      const next = tokens[i + 1];
      const adjacent = (a: Token | undefined, b: Token | undefined): boolean => a !== undefined && b !== undefined && /^[\s.,:;(-]{1,4}$/.test(gap(a, b));
      // Title: "Dr. Wolfe", "DR TYRO", "Dr. Art White", "DR. L. RUUSKA".
      if (prev !== undefined && TITLES.has(prev.lower) && /^\.?\s{0,2}$/.test(gap(prev, t)) && gap(prev, t) !== '' && this.#afterTitle(t)) {
        mark(t, 'name');
        if (next !== undefined && adjacent(t, next) && (t.text.length === 1 || this.#surnameish(next))) mark(next, 'name');
        continue;
      }
      // Initials: "E. WELSH", "DAN A. FORMAN-LYONS", "Q. LANDER RRT".
      if (/^[A-Z]$/.test(t.text) && text[t.end] === '.' && /^|[\s(]$/.test(text[t.start - 1] ?? '') && (t.start === 0 || /[\s(,]/.test(text[t.start - 1] ?? '')) && next !== undefined && adjacent(t, next) && this.#surnameish(next) && /^[A-Z]/.test(next.text)) {
        mark(t, 'name');
        mark(next, 'name');
        if (prev !== undefined && /^\s$/.test(gap(prev, t)) && this.#lex.firstNames.has(prev.lower) && !STOP.has(prev.lower)) mark(prev, 'name');
        continue;
      }
      // First name then surname: "mary souza", "VIRGINIA SALLESE", "Florence Garvey".
      if (this.#lex.firstNames.has(t.lower) && t.lower.length >= 3 && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && (!this.#english(t.lower) || /^[A-Z]/.test(t.text)) && next !== undefined && /^\s{1,2}$/.test(gap(t, next)) && this.#surnameish(next) && /^[A-Z]/.test(next.text) === /^[A-Z]/.test(t.text)) {
        mark(t, 'name');
        mark(next, 'name');
        continue;
      }
      // Signature before a role: "David Murray RRT", "irene snell, rn", "Bernard Foley CRT".
      if (next !== undefined && SIGNATURE_ROLES.has(next.lower) && /^[\s,]{1,3}$/.test(gap(t, next)) && this.#surnameish(t)) {
        mark(t, 'name');
        for (let j = i - 1, k = 0; j >= 0 && k < 3; j--, k++) {
          const p = tokens[j]!;
          if (!/^[\s.,-]{1,3}$/.test(gap(p, tokens[j + 1]!)) || !(p.text.length === 1 || this.#surnameish(p) || this.#lex.firstNames.has(p.lower))) break;
          mark(p, 'name');
        }
      }
      // Relation: "wife, Carol Buckley", "son dave", "DAUGHTER-KRISSY", "Sons Smokey, Morris and Roger".
      const capitalised = /^[A-Z][a-z]/.test(t.text) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && !TITLES.has(t.lower);
      if (prev !== undefined && RELATIONS.has(prev.lower) && adjacent(prev, t) && (this.#nameCandidate(t) || capitalised) && !RELATIONS.has(t.lower)) {
        if (this.#nameLike(t) || this.#lex.firstNames.has(t.lower) || !this.#english(t.lower) || (/^[A-Z][a-z]/.test(t.text) && isProperCase(t, text))) {
          mark(t, 'name');
          let j = i + 1;
          for (let k = 0; k < 4 && j < tokens.length; k++, j++) {
            const n = tokens[j]!;
            const sep = gap(tokens[j - 1]!, n);
            if (/^\s{1,2}$/.test(sep) && k === 0 && this.#surnameish(n)) mark(n, 'name');
            else if (/^\s*,\s*$/.test(sep) && (this.#lex.firstNames.has(n.lower) || this.#nameLike(n))) mark(n, 'name');
            else if (n.lower === 'and' && tokens[j + 1] !== undefined && (this.#lex.firstNames.has(tokens[j + 1]!.lower) || this.#nameLike(tokens[j + 1]!))) {
              mark(tokens[j + 1]!, 'name');
              break;
            } else break;
          }
          continue;
        }
      }
      const saint = prev !== undefined && (prev.lower === 'saint' || (prev.lower === 'st' && (text[prev.end] === '.' || this.#lex.firstNames.has(t.lower))));
      if (prev !== undefined && saint && adjacent(prev, t) && /^[A-Z]/.test(t.text) && !STOP.has(t.lower) && !CLINICAL.has(t.lower)) {
        mark(prev, 'location');
        mark(t, 'location');
      }
      if (this.#nameLike(t)) {
        mark(t, 'name');
        continue;
      }
      // Contact context: "paged Wolfe", "Nolan aware", "per Hayes", "Manning RN".
      const byVerb = prev !== undefined && CONTACT_VERBS.has(prev.lower) && adjacent(prev, t);
      const byRole = next !== undefined && ROLES_AFTER.has(next.lower) && /^[\s,]{1,3}$/.test(gap(t, next));
      if ((byVerb || byRole) && this.#nameCandidate(t) && (!this.#englishOrTypo(t.lower) || this.#lex.firstNames.has(t.lower)) && isProperCase(t, text)) mark(t, 'name');
      // US places from the gazetteer: "San Diego", "catonsville"; an English word ("Laurel") only after "to/from/at/in".
      const place = this.#placeAt(tokens, i, text);
      if (place > 0) {
        for (let k = 0; k < place; k++) mark(tokens[i + k]!, 'location');
      } else if (place === 0 && this.#lex.usPlaces.has(t.lower) && prev !== undefined && (PLACE_BEFORE.has(prev.lower) || prev.lower === 'in') && /^[A-Z][a-z]/.test(t.text) && !CLINICAL.has(t.lower) && !STOP.has(t.lower)) {
        mark(t, 'location');
      }
      // Places after a movement word: "transfer from CALVERT", "back to quartermain", "at GH".
      if (prev !== undefined && PLACE_BEFORE.has(prev.lower) && /^\s{1,2}$/.test(gap(prev, t)) && this.#placeCandidate(t) && isProperCase(t, text)) mark(t, 'location');
      // Places: one or two words before a facility word ("CALVERT HOSPITAL", "Sacred Heart Hospital"), or after "St.".
      if (next !== undefined && FACILITY.has(next.lower) && /^\s{1,2}$/.test(gap(t, next)) && this.#placeWord(t, next)) {
        mark(t, 'location');
        if (prev !== undefined && /^\s{1,2}$/.test(gap(prev, t)) && this.#placeWord(prev, t) && !CONTACT_VERBS.has(prev.lower)) mark(prev, 'location');
      }
    }
  }

  /** Length in tokens of an unambiguous gazetteer place starting at token i (0: none). */
  #placeAt(tokens: readonly Token[], i: number, text: string): number {
    for (let n = 3; n >= 1; n--) {
      const run = tokens.slice(i, i + n);
      if (run.length < n) continue;
      if (run.some((t, k) => k > 0 && !/^\s$/.test(text.slice(run[k - 1]!.end, t.start)))) continue;
      const name = run.map((t) => t.lower).join(' ');
      if (!this.#lex.usPlaces.has(name)) continue;
      if (n > 1) return run.every((t) => /^[A-Z]/.test(t.text)) || run.some((t) => !this.#english(t.lower)) ? n : 0;
      const t = run[0]!;
      if (t.lower.length < 4 || STOP.has(t.lower) || CLINICAL.has(t.lower) || this.#english(t.lower) || WEEKDAYS.has(t.lower)) return 0;
      return 1;
    }
    return 0;
  }

  /** A word after "to", "from" or "at" that may be a place: unknown to the English list and not clinical. */
  #placeCandidate(t: Token): boolean {
    if (t.lower.length < 2 || STOP.has(t.lower) || CLINICAL.has(t.lower) || WEEKDAYS.has(t.lower) || RELATIONS.has(t.lower)) return false;
    if (TITLES.has(t.lower)) return false;
    if (this.#englishOrTypo(t.lower) || this.#lex.firstNames.has(t.lower)) return false;
    return /^[a-z][a-z'-]*$/i.test(t.text);
  }

  /** Any alphabetic word after a title except stop and clinical words ("Dr. White" is a name). */
  #afterTitle(t: Token): boolean {
    return /^[a-z][a-z'-]*$/i.test(t.text) && !STOP.has(t.lower) && !CLINICAL.has(t.lower) && !TITLES.has(t.lower);
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
    return /^[A-Z][a-z]/.test(t.text) && /^(?:hospital|hosp|memorial|rehab|rehabilitation|clinic|infirmary|hospice|medical|regional|university)$/i.test(next.text);
  }
}

/** Capitalised in a note written in mixed case, or any case in a note written all in one case. */
function isProperCase(t: Token, text: string): boolean {
  if (/^[A-Z]/.test(t.text)) return true;
  const window = text.slice(Math.max(0, t.start - 200), t.end + 200);
  return !/[A-Z]{2}/.test(window.replace(/\b[A-Z]{2,5}\b/g, ''));
}

const FRACTIONS = new Set(['1/2', '1/3', '1/4', '2/3', '3/4', '1/8', '3/8']);
/** Numbers that match a date pattern but read as something else: fractions, 5/5 strength, vent settings, clock times. */
function notADate(m: string, text: string, at: number): boolean {
  if (FRACTIONS.has(m)) return true;
  const md = /^(\d{1,2})\/(\d{1,2})$/.exec(m);
  const before = text.slice(Math.max(0, at - 14), at).toLowerCase();
  const after = text.slice(at + m.length, at + m.length + 2);
  // Ventilator settings ("700x12/10/40%", "PSV 10/5", "BIPAP 10/5") and pain or strength scores (3/10, 5/5).
  if (after.startsWith('%') || /x\s*$/.test(before)) return true;
  if (/^\d{1,2}'$/.test(m) && /\b(?:hob|x)\s*$/.test(before)) return true;
  if (md !== null && (md[1] === md[2] || md[2] === '10' && /\bpain|c\/o/.test(before) || /\b(?:ps|peep|cpap|psv|bi-?pap|ips|eps|settings|strength|grade|flowby)\W*$/.test(before))) return true;
  const year = /^(\d{2})(\d{2})$/.exec(m);
  if (year !== null && /^(?:00|15|30|45)$/.test(year[2] ?? '') && !/\b(?:in|since|of|year|yr|born|from|until|till|summer|winter|spring|fall)\W*$/.test(before)) return true;
  return false;
}

function knownIdentifierSpans(text: string, known: readonly string[], spans: PhiSpan[]): void {
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
  if (parts.size === 0) return;
  const alternatives = [...parts].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|');
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives})(?![\\p{L}\\p{N}])`, 'giu');
  for (const m of text.matchAll(re)) spans.push({ start: m.index, end: m.index + m[0].length, kind: 'name' });
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
