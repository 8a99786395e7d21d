/**
 * Radiology report text → sections → sentences → tokens. Pure functions, no I/O.
 *
 * Sections: a report is cut at headers such as `FINDINGS:` or `IMPRESSION:` (at a line start or after a
 * sentence end). Only the findings and impression (and their synonyms, below) are labelled: the indication
 * and history carry the question ("r/o pneumonia"), not the answer. Text with no header at all is taken
 * whole, as an unstructured report body.
 */

/** Canonical section names the labeler reads. `body` is text with no section header at all. */
export const LABELLED_SECTIONS = ['findings', 'impression', 'body'] as const;
export type LabelledSection = (typeof LABELLED_SECTIONS)[number];

/** One section of a report: canonical name (lower case) and its text. */
export interface ReportSection {
  readonly name: string;
  readonly text: string;
}

/** Header spellings → canonical section name. Headers not listed here keep their own lower-cased name. */
const SECTION_ALIASES: Readonly<Record<string, string>> = {
  finding: 'findings',
  findings: 'findings',
  'findings and impression': 'impression',
  impression: 'impression',
  impressions: 'impression',
  conclusion: 'impression',
  conclusions: 'impression',
  opinion: 'impression',
  summary: 'impression',
  indication: 'indication',
  indications: 'indication',
  history: 'indication',
  'clinical history': 'indication',
  'clinical information': 'indication',
  'reason for exam': 'indication',
  'reason for study': 'indication',
  comparison: 'comparison',
  comparisons: 'comparison',
  technique: 'technique',
  examination: 'examination',
  exam: 'examination',
  procedure: 'examination',
  recommendation: 'recommendation',
  recommendations: 'recommendation',
};

const HEADER_NAMES = Object.keys(SECTION_ALIASES)
  .sort((a, b) => b.length - a.length)
  .map((h) => h.replace(/ /g, '\\s+'));
/**
 * A known header followed by a colon, at the start of the text, of a line or after a sentence end; or a
 * known header alone on its line ("IMPRESSION" then a line break).
 */
const HEADER_RE = new RegExp(
  `(?:^|(?<=[\\n.!?]))\\s*\\b(?:(${HEADER_NAMES.join('|')})\\s*:|(${HEADER_NAMES.join('|')})[ \\t]*(?=\\r?\\n))`,
  'gi',
);

/** Canonical name for a header or column name (`Findings`, `IMPRESSION`, `conclusion` …). */
export function canonicalSection(name: string): string {
  const key = name.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
  return SECTION_ALIASES[key] ?? key;
}

/** Cuts report text at its section headers. Text before the first header (if any) is a `body` section. */
export function splitSections(text: string): ReportSection[] {
  const sections: ReportSection[] = [];
  const matches = [...text.matchAll(HEADER_RE)];
  if (matches.length === 0) return text.trim() === '' ? [] : [{ name: 'body', text: text.trim() }];
  const head = text.slice(0, matches[0]?.index ?? 0).trim();
  if (head !== '') sections.push({ name: 'body', text: head });
  matches.forEach((m, i) => {
    const start = (m.index ?? 0) + m[0].length;
    const end = matches[i + 1]?.index ?? text.length;
    sections.push({ name: canonicalSection(m[1] ?? m[2] ?? ''), text: text.slice(start, end).trim() });
  });
  return sections;
}

/** A word or punctuation token with its lower-cased text, its lemma and its character offsets. */
export interface Token {
  readonly text: string;
  readonly lemma: string;
  readonly start: number;
  readonly end: number;
  readonly punct: boolean;
}

/** Plural → singular for the nouns radiology uses (opacities, effusions, granulomata, diaphragms). */
export function lemmatize(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith('ata') && word.length > 6) return word.slice(0, -2); // granulomata → granuloma
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (/(?:ss|us|is|ous|ys)$/.test(word)) return word;
  if (/(?:ches|shes|xes|sses|zes)$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s')) return word.slice(0, -1);
  return word;
}

const TOKEN_RE = /[a-z0-9]+(?:['’][a-z]+)?|[,;:()?/]/g;

/** Lower-cases and tokenizes `text` (offsets refer to `text`). */
export function tokenize(text: string): Token[] {
  const lower = text.toLowerCase();
  const tokens: Token[] = [];
  for (const m of lower.matchAll(TOKEN_RE)) {
    const word = m[0].replace(/['’]s$/, '');
    const punct = !/[a-z0-9]/.test(word);
    tokens.push({ text: word, lemma: punct ? word : lemmatize(word), start: m.index ?? 0, end: (m.index ?? 0) + m[0].length, punct });
  }
  return tokens;
}

/**
 * Splits text into sentences at `.`, `!` and line breaks (a `?` stays in its sentence: it hedges). A period between digits (1.5 cm) is not a
 * sentence end; list numbers (`1.`, `2)`) are dropped; a period glued to the next capital ("apex.There")
 * still ends the sentence.
 */
export function splitSentences(text: string): string[] {
  const withoutLists = text.replace(/(^|[\s.:;])\(?\d{1,2}[.)](?=\s|[A-Za-z])/g, '$1\n');
  return withoutLists
    .split(/(?<!\d)\.(?!\d)|[!\n]+/)
    .map((s) => s.trim())
    .filter((s) => /[a-z]/i.test(s));
}
