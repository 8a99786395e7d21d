/**
 * Lexicon phrases compiled to token patterns, and their matching against a tokenized sentence.
 *
 * Phrase syntax (one phrase per string, case-insensitive):
 * - words match by lemma, so `opacity` also matches `opacities` and `effusion` matches `effusions`;
 * - a word ending in `*` matches any word starting with it (`enlarg*`: enlarged, enlargement);
 * - `...` matches a gap of 0 to {@link GAP_WORDS} words (`heart ... enlarg*` matches "heart is mildly
 *   enlarged"); a gap never spans punctuation or a coordinating word ({@link GAP_STOPS}), so
 *   "granuloma and calcified nodes" is no `granuloma ... calcified`;
 * - punctuation in a phrase is ignored, except `?`, which is a token of its own.
 */
import { lemmatize, tokenize, type Token } from './text.js';

/** Most words a `...` gap may span. */
export const GAP_WORDS = 6;

/** Words a `...` gap does not cross: they join two things, not one thing and its attribute. */
export const GAP_STOPS: ReadonlySet<string> = new Set(['and', 'or', 'nor', 'with', 'versus', 'vs', 'but', 'without', 'no']);

type Step = { readonly kind: 'word'; readonly lemma: string } | { readonly kind: 'prefix'; readonly prefix: string } | { readonly kind: 'gap' };

/** A compiled phrase. `source` is the phrase as written (for errors and debugging). */
export interface Phrase {
  readonly source: string;
  readonly steps: readonly Step[];
  /** Number of word steps: longer phrases win over shorter ones that overlap them. */
  readonly weight: number;
}

/** Why a phrase cannot be compiled, or undefined when it can. */
export function phraseProblem(source: string): string | undefined {
  const words = source.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return 'empty phrase';
  if (words[0] === '...' || words[words.length - 1] === '...') return "'...' must sit between two words";
  if (words.some((w, i) => w === '...' && words[i + 1] === '...')) return "two '...' in a row";
  if (words.some((w) => w !== '...' && w !== '?' && !/[a-z0-9]/i.test(w))) return 'a word has no letter or digit';
  if (words.some((w) => w.endsWith('*') && w.replace(/\*+$/, '').length < 3)) return "a '*' prefix needs at least 3 letters";
  return undefined;
}

/** Compiles a phrase (call {@link phraseProblem} first for a readable error). */
export function compilePhrase(source: string): Phrase {
  const steps: Step[] = [];
  for (const raw of source.trim().toLowerCase().split(/\s+/)) {
    if (raw === '...') steps.push({ kind: 'gap' });
    else if (raw.endsWith('*')) steps.push({ kind: 'prefix', prefix: raw.replace(/\*+$/, '').replace(/[^a-z0-9]/g, '') });
    else for (const t of tokenize(raw)) steps.push({ kind: 'word', lemma: t.punct ? t.text : lemmatize(t.text) });
  }
  return { source, steps, weight: steps.filter((s) => s.kind !== 'gap').length };
}

/** A phrase found in a token list: tokens `[start, end)`. */
export interface PhraseMatch {
  readonly start: number;
  readonly end: number;
}

function stepMatches(step: Step, token: Token | undefined): boolean {
  if (token === undefined) return false;
  if (step.kind === 'word') return token.lemma === step.lemma || token.text === step.lemma;
  if (step.kind === 'prefix') return !token.punct && token.text.startsWith(step.prefix);
  return false;
}

function matchFrom(steps: readonly Step[], s: number, tokens: readonly Token[], i: number): number | undefined {
  if (s === steps.length) return i;
  const step = steps[s];
  if (step === undefined) return undefined;
  if (step.kind === 'gap') {
    for (let skip = 0; skip <= GAP_WORDS; skip++) {
      const gapToken = tokens[i + skip - 1];
      if (skip > 0 && (gapToken === undefined || gapToken.punct || GAP_STOPS.has(gapToken.text))) return undefined;
      const end = matchFrom(steps, s + 1, tokens, i + skip);
      if (end !== undefined) return end;
    }
    return undefined;
  }
  return stepMatches(step, tokens[i]) ? matchFrom(steps, s + 1, tokens, i + 1) : undefined;
}

/** Every place `phrase` matches in `tokens` (shortest gap first at each start). */
export function findPhrase(phrase: Phrase, tokens: readonly Token[]): PhraseMatch[] {
  const found: PhraseMatch[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const end = matchFrom(phrase.steps, 0, tokens, i);
    if (end !== undefined) found.push({ start: i, end });
  }
  return found;
}
