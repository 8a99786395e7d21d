/**
 * The rule-based report labeler: sections → sentences → clauses → finding mentions, each positive,
 * negative or uncertain by the triggers in its clause, aggregated per report.
 *
 * Scope (NegEx / pyConText style, limited as the CheXpert labeler limits it to the sentence): a trigger
 * acts only inside its own sentence and clause. Clauses end at the lexicon's termination phrases ("but",
 * "however", "which", "there is", ";"). A pre-trigger ("no", "possible") acts on every mention after it in
 * the clause, and on a mention whose gap it sits in ("heart is *not* enlarged"); a post-trigger ("is not
 * seen", "cannot be excluded") on mentions at most {@link POST_WINDOW} words before it. Pseudo-triggers
 * ("no change", "not only") are matched first and hide the trigger words they contain.
 *
 * One mention: negated beats uncertain beats positive (a "possible" inside "no ... possible" is still no).
 * One report, several mentions of a finding: positive beats uncertain beats negative, as in the CheXpert
 * labeler's aggregation — a finding stated anywhere is present, even if another sentence hedges or denies
 * it (typically "no new effusion" beside "small left effusion").
 */
import { InputError } from '../../../../shared/src/errors.js';
import type { Lexicon } from './lexicon.js';
import { findPhrase, type Phrase } from './phrase.js';
import { LABELLED_SECTIONS, splitSections, splitSentences, tokenize, type ReportSection, type Token } from './text.js';

/** A finding's label in one report. Findings not mentioned are absent from {@link ReportLabels}. */
export type FindingLabel = 'positive' | 'negative' | 'uncertain';

/** Finding id → label, for the findings the report mentions. */
export type ReportLabels = Record<string, FindingLabel>;

/** Most words between a mention's end and a post-trigger that acts on it. */
export const POST_WINDOW = 5;

/** One mention of a finding, for inspection and tests. */
export interface Mention {
  readonly finding: string;
  readonly label: FindingLabel;
  /** Section it came from (`findings`, `impression` or `body`). */
  readonly section: string;
  /** The matched words, lower-cased (report text: keep it inside the site). */
  readonly text: string;
  /** The trigger phrase (as written in the lexicon) that made it negative or uncertain, if any. */
  readonly trigger?: string;
}

/** Labels and the mentions behind them. */
export interface LabelledReport {
  readonly labels: ReportLabels;
  readonly mentions: readonly Mention[];
}

interface Span {
  readonly start: number;
  readonly end: number;
  readonly phrase: Phrase;
}

/** Non-overlapping matches: most words first, then the tightest span (fewest gap words), then the earlier start. */
function bestSpans<T extends { phrase: Phrase }>(candidates: (T & { start: number; end: number })[]): (T & { start: number; end: number })[] {
  const sorted = [...candidates].sort((a, b) => b.phrase.weight - a.phrase.weight || a.end - a.start - (b.end - b.start) || a.start - b.start);
  const taken: (T & { start: number; end: number })[] = [];
  for (const c of sorted) if (!taken.some((t) => c.start < t.end && t.start < c.end)) taken.push(c);
  return taken.sort((a, b) => a.start - b.start);
}

function matchAll(phrases: readonly Phrase[], tokens: readonly Token[]): Span[] {
  return phrases.flatMap((phrase) => findPhrase(phrase, tokens).map((m) => ({ ...m, phrase })));
}

type Role = 'preNegation' | 'postNegation' | 'preUncertainty' | 'postUncertainty' | 'pseudo' | 'termination';
const ROLES: readonly Role[] = ['pseudo', 'termination', 'preNegation', 'postNegation', 'preUncertainty', 'postUncertainty'];

interface Trigger extends Span {
  readonly roles: ReadonlySet<Role>;
}

/** Trigger spans of a sentence: longest wins; one span can hold several roles ("not" is pre and post). */
function findTriggers(lexicon: Lexicon, tokens: readonly Token[]): Trigger[] {
  const all = ROLES.flatMap((role) => matchAll(lexicon.triggers[role], tokens).map((s) => ({ ...s, role })));
  const kept = bestSpans(all);
  return kept.map((k) => ({
    ...k,
    roles: new Set(all.filter((a) => a.start === k.start && a.end === k.end && a.phrase.source.toLowerCase() === k.phrase.source.toLowerCase()).map((a) => a.role)),
  }));
}

function labelMention(mention: Span, triggers: readonly Trigger[]): { label: FindingLabel; trigger?: string } {
  // The clause: bounded by the nearest termination phrase on each side.
  const before = triggers.filter((t) => t.roles.has('termination') && t.end <= mention.start).map((t) => t.end);
  const after = triggers.filter((t) => t.roles.has('termination') && t.start >= mention.end).map((t) => t.start);
  const clauseStart = Math.max(0, ...before);
  const clauseEnd = Math.min(Number.MAX_SAFE_INTEGER, ...after);
  const acts = (t: Trigger, pre: Role, post: Role): boolean =>
    (t.roles.has(pre) && t.start >= clauseStart && t.end <= mention.end && !(t.start <= mention.start && t.end > mention.start)) ||
    (t.roles.has(post) && t.start >= mention.end && t.end <= clauseEnd && t.start - mention.end <= POST_WINDOW);
  const negation = triggers.find((t) => acts(t, 'preNegation', 'postNegation'));
  if (negation) return { label: 'negative', trigger: negation.phrase.source };
  const uncertainty = triggers.find((t) => acts(t, 'preUncertainty', 'postUncertainty'));
  if (uncertainty) return { label: 'uncertain', trigger: uncertainty.phrase.source };
  return { label: 'positive' };
}

/** The mentions in one sentence. */
export function labelSentence(sentence: string, lexicon: Lexicon, section = 'body'): Mention[] {
  const tokens = tokenize(sentence);
  const triggers = findTriggers(lexicon, tokens);
  const inTrigger = (s: Span): boolean => triggers.some((t) => s.start < t.end && t.start < s.end && !(t.start > s.start && t.end < s.end));
  const candidates = lexicon.findings.flatMap((f) => matchAll(f.phrases, tokens).map((s) => ({ ...s, finding: f.id })));
  return bestSpans(candidates.filter((c) => !inTrigger(c))).map((m) => {
    const { label, trigger } = labelMention(m, triggers);
    const first = tokens[m.start];
    const last = tokens[m.end - 1];
    const text = first && last ? sentence.slice(first.start, last.end).toLowerCase() : '';
    return { finding: m.finding, label, section, text, ...(trigger !== undefined ? { trigger } : {}) };
  });
}

const RANK: Readonly<Record<FindingLabel, number>> = { negative: 0, uncertain: 1, positive: 2 };

/** Per-finding aggregation: positive beats uncertain beats negative. */
export function aggregateMentions(mentions: readonly Mention[]): ReportLabels {
  const labels: ReportLabels = {};
  for (const m of mentions) {
    const prior = labels[m.finding];
    if (prior === undefined || RANK[m.label] > RANK[prior]) labels[m.finding] = m.label;
  }
  return labels;
}

/**
 * Labels sections already cut (e.g. the `findings` and `impression` columns of a CSV). Sections whose
 * name is not findings, impression or body are ignored. Throws `TESSERA_INPUT_REPORT_NO_FINDINGS` when no
 * labelled section has text: the message names the sections present, never their text.
 */
export function labelSections(sections: readonly ReportSection[], lexicon: Lexicon): LabelledReport {
  const used = sections.filter((s) => (LABELLED_SECTIONS as readonly string[]).includes(s.name) && s.text.trim() !== '');
  if (used.length === 0) {
    const present = sections.filter((s) => s.text.trim() !== '').map((s) => s.name);
    throw new InputError(
      'TESSERA_INPUT_REPORT_NO_FINDINGS',
      present.length === 0 ? 'report has no text' : `report has no findings or impression section (sections: ${[...new Set(present)].join(', ')})`,
      { sections: present.length },
    );
  }
  const mentions = used.flatMap((s) => splitSentences(s.text).flatMap((sentence) => labelSentence(sentence, lexicon, s.name)));
  return { labels: aggregateMentions(mentions), mentions };
}

/**
 * Labels one report's text with `lexicon`: finding id → positive / negative / uncertain, for the findings
 * mentioned in its findings and impression sections (the whole text when it has no section header).
 * Throws `TESSERA_INPUT_REPORT_NO_FINDINGS` for a report whose headers name neither section.
 */
export function labelReport(text: string, lexicon: Lexicon): ReportLabels {
  return labelSections(splitSections(text), lexicon).labels;
}

/** Whether labels hold no positive abnormal finding (uncertain counts as present when `uncertainAsPositive`). */
export function isNormal(labels: ReportLabels, lexicon: Lexicon, uncertainAsPositive = true): boolean {
  return !lexicon.findings.some((f) => f.abnormal && (labels[f.id] === 'positive' || (uncertainAsPositive && labels[f.id] === 'uncertain')));
}
