/**
 * Report-labelling lexicons: which phrases mention which finding, plus extra trigger phrases. A lexicon is
 * a YAML or JSON file a site can write or extend; `chest-xray` ships inside the product.
 *
 * ```yaml
 * name: my-chest          # required
 * extends: chest-xray     # optional: a shipped lexicon whose findings and triggers this one adds to
 * findings:
 *   cardiomegaly:         # finding id: lower-case kebab-case
 *     terms: [cardiomegaly, enlarged heart, heart ... enlarg*]   # phrase syntax: see phrase.ts
 *     abnormal: true      # optional (default true): a positive mention makes the report not "normal"
 * triggers:               # optional, added to the built-in ones (triggers.ts)
 *   negation: { pre: [], post: [] }
 *   uncertainty: { pre: [], post: [] }
 *   pseudo: []
 *   termination: []
 * ```
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { errorMessage, InputError } from '../../../../shared/src/errors.js';
import chestXray from './lexicons/chest-xray.json' with { type: 'json' };
import { compilePhrase, phraseProblem, type Phrase } from './phrase.js';
import { DEFAULT_TRIGGERS, type TriggerPhrases } from './triggers.js';

/** Lexicon file contents before validation. */
export interface LexiconInput {
  readonly name: string;
  readonly extends?: string;
  readonly description?: string;
  readonly findings: Readonly<Record<string, { readonly terms: readonly string[]; readonly abnormal?: boolean; readonly description?: string }>>;
  readonly triggers?: {
    readonly negation?: { readonly pre?: readonly string[]; readonly post?: readonly string[] };
    readonly uncertainty?: { readonly pre?: readonly string[]; readonly post?: readonly string[] };
    readonly pseudo?: readonly string[];
    readonly termination?: readonly string[];
  };
}

/** One finding of a compiled lexicon. */
export interface LexiconFinding {
  readonly id: string;
  readonly phrases: readonly Phrase[];
  /** Whether a positive mention makes the report abnormal (not "normal"). */
  readonly abnormal: boolean;
}

/** Compiled trigger phrases by role. */
export interface LexiconTriggers {
  readonly preNegation: readonly Phrase[];
  readonly postNegation: readonly Phrase[];
  readonly preUncertainty: readonly Phrase[];
  readonly postUncertainty: readonly Phrase[];
  readonly pseudo: readonly Phrase[];
  readonly termination: readonly Phrase[];
}

/** A validated, compiled, frozen lexicon: what {@link labelReport} takes. */
export interface Lexicon {
  readonly name: string;
  readonly findings: readonly LexiconFinding[];
  readonly triggers: LexiconTriggers;
}

/** Lexicons shipped with Tessera, by name. */
const SHIPPED: Readonly<Record<string, unknown>> = { 'chest-xray': chestXray };
export const SHIPPED_LEXICONS: readonly string[] = Object.keys(SHIPPED);

const FINDING_ID = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const TOP_KEYS = new Set(['name', 'extends', 'description', 'findings', 'triggers']);
const FINDING_KEYS = new Set(['terms', 'abnormal', 'description']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a list of phrases at `where`; pushes problems. */
function checkPhrases(value: unknown, where: string, problems: string[]): string[] {
  if (!Array.isArray(value)) {
    problems.push(`${where}: must be a list of phrases`);
    return [];
  }
  const phrases: string[] = [];
  value.forEach((item, i) => {
    const problem = typeof item === 'string' ? phraseProblem(item) : 'must be a string';
    if (problem !== undefined) problems.push(`${where}[${i}]: ${problem}`);
    else phrases.push(item as string);
  });
  return phrases;
}

function checkTriggers(value: unknown, problems: string[]): LexiconInput['triggers'] {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    problems.push('triggers: must be a mapping');
    return undefined;
  }
  const out: { negation?: { pre?: string[]; post?: string[] }; uncertainty?: { pre?: string[]; post?: string[] }; pseudo?: string[]; termination?: string[] } = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'negation' || key === 'uncertainty') {
      if (!isRecord(v)) {
        problems.push(`triggers.${key}: must be a mapping with pre and/or post`);
        continue;
      }
      const side: { pre?: string[]; post?: string[] } = {};
      for (const [dir, list] of Object.entries(v)) {
        if (dir !== 'pre' && dir !== 'post') problems.push(`triggers.${key}.${dir}: unknown key (pre or post)`);
        else side[dir] = checkPhrases(list, `triggers.${key}.${dir}`, problems);
      }
      out[key] = side;
    } else if (key === 'pseudo' || key === 'termination') out[key] = checkPhrases(v, `triggers.${key}`, problems);
    else problems.push(`triggers.${key}: unknown key (negation, uncertainty, pseudo or termination)`);
  }
  return out;
}

/** Validates parsed lexicon contents; every problem names its entry. Throws one error listing them all. */
export function validateLexicon(value: unknown, source: string): LexiconInput {
  const fail = (problems: string[]): never => {
    throw new InputError('TESSERA_INPUT_LEXICON_INVALID', `lexicon ${source}: ${problems.join('; ')}`, { source, problems: problems.length });
  };
  if (!isRecord(value)) return fail(['must be a mapping with name and findings']);
  const problems: string[] = [];
  for (const key of Object.keys(value)) if (!TOP_KEYS.has(key)) problems.push(`${key}: unknown key`);
  if (typeof value['name'] !== 'string' || value['name'].trim() === '') problems.push('name: must be a non-empty string');
  const ext = value['extends'];
  if (ext !== undefined && (typeof ext !== 'string' || !(ext in SHIPPED))) problems.push(`extends: must name a shipped lexicon (${SHIPPED_LEXICONS.join(', ')})`);
  const findings: Record<string, { terms: string[]; abnormal?: boolean }> = {};
  const rawFindings = value['findings'];
  if (!isRecord(rawFindings) || (Object.keys(rawFindings).length === 0 && ext === undefined)) problems.push('findings: must be a mapping of finding id to { terms }');
  else {
    for (const [id, f] of Object.entries(rawFindings)) {
      const where = `findings.${id}`;
      if (!FINDING_ID.test(id)) problems.push(`${where}: id must be lower-case kebab-case`);
      if (!isRecord(f)) {
        problems.push(`${where}: must be a mapping with terms`);
        continue;
      }
      for (const key of Object.keys(f)) if (!FINDING_KEYS.has(key)) problems.push(`${where}.${key}: unknown key`);
      const terms = checkPhrases(f['terms'], `${where}.terms`, problems);
      if (Array.isArray(f['terms']) && f['terms'].length === 0) problems.push(`${where}.terms: needs at least one phrase`);
      if (f['abnormal'] !== undefined && typeof f['abnormal'] !== 'boolean') problems.push(`${where}.abnormal: must be true or false`);
      findings[id] = { terms, ...(typeof f['abnormal'] === 'boolean' ? { abnormal: f['abnormal'] } : {}) };
    }
  }
  const triggers = checkTriggers(value['triggers'], problems);
  if (problems.length > 0) return fail(problems);
  return {
    name: String(value['name']),
    ...(typeof ext === 'string' ? { extends: ext } : {}),
    findings,
    ...(triggers !== undefined ? { triggers } : {}),
  };
}

function mergeInputs(base: LexiconInput, top: LexiconInput): LexiconInput {
  const findings: Record<string, { terms: readonly string[]; abnormal?: boolean }> = { ...base.findings };
  for (const [id, f] of Object.entries(top.findings)) {
    const prior = findings[id];
    findings[id] = { terms: [...(prior?.terms ?? []), ...f.terms], abnormal: f.abnormal ?? prior?.abnormal ?? true };
  }
  const t = (pick: (x: NonNullable<LexiconInput['triggers']>) => readonly string[] | undefined): string[] => [
    ...(base.triggers ? (pick(base.triggers) ?? []) : []),
    ...(top.triggers ? (pick(top.triggers) ?? []) : []),
  ];
  return {
    name: top.name,
    findings,
    triggers: {
      negation: { pre: t((x) => x.negation?.pre), post: t((x) => x.negation?.post) },
      uncertainty: { pre: t((x) => x.uncertainty?.pre), post: t((x) => x.uncertainty?.post) },
      pseudo: t((x) => x.pseudo),
      termination: t((x) => x.termination),
    },
  };
}

/** Compiles validated contents (with its `extends` base, and the built-in triggers) into a frozen lexicon. */
export function compileLexicon(input: LexiconInput, builtin: TriggerPhrases = DEFAULT_TRIGGERS): Lexicon {
  const merged = input.extends !== undefined ? mergeInputs(shippedInput(input.extends), input) : input;
  const list = (extra: readonly string[] | undefined, base: readonly string[]): Phrase[] => [...base, ...(extra ?? [])].map(compilePhrase);
  const tr = merged.triggers;
  return Object.freeze({
    name: merged.name,
    findings: Object.freeze(
      Object.entries(merged.findings).map(([id, f]) => Object.freeze({ id, phrases: Object.freeze(f.terms.map(compilePhrase)), abnormal: f.abnormal ?? true })),
    ),
    triggers: Object.freeze({
      preNegation: list(tr?.negation?.pre, builtin.negation.pre),
      postNegation: list(tr?.negation?.post, builtin.negation.post),
      preUncertainty: list(tr?.uncertainty?.pre, builtin.uncertainty.pre),
      postUncertainty: list(tr?.uncertainty?.post, builtin.uncertainty.post),
      pseudo: list(tr?.pseudo, builtin.pseudo),
      termination: list(tr?.termination, builtin.termination),
    }),
  });
}

function shippedInput(name: string): LexiconInput {
  return validateLexicon(SHIPPED[name], `${name} (shipped)`);
}

/**
 * Loads a lexicon: a shipped name (`chest-xray`) or the path of a YAML/JSON lexicon file. Throws
 * `TESSERA_INPUT_LEXICON_NOT_FOUND` when it is neither, `TESSERA_INPUT_LEXICON_INVALID` (naming the file and
 * every bad entry) when the file does not validate.
 */
export async function loadLexicon(nameOrFile: string): Promise<Lexicon> {
  if (nameOrFile in SHIPPED) return compileLexicon(shippedInput(nameOrFile));
  let text: string;
  try {
    text = await readFile(nameOrFile, 'utf8');
  } catch (err) {
    throw new InputError(
      'TESSERA_INPUT_LEXICON_NOT_FOUND',
      `lexicon '${nameOrFile}' is neither a shipped lexicon (${SHIPPED_LEXICONS.join(', ')}) nor a readable file: ${errorMessage(err)}`,
      { source: nameOrFile },
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new InputError('TESSERA_INPUT_LEXICON_INVALID', `lexicon ${nameOrFile}: not valid YAML or JSON: ${errorMessage(err)}`, { source: nameOrFile });
  }
  return compileLexicon(validateLexicon(parsed, nameOrFile));
}

/** The shipped lexicon `name`, compiled (synchronous: for callers that hold no file). */
export function shippedLexicon(name: string): Lexicon {
  if (!(name in SHIPPED)) throw new InputError('TESSERA_INPUT_LEXICON_NOT_FOUND', `no shipped lexicon '${name}' (${SHIPPED_LEXICONS.join(', ')})`, { source: name });
  return compileLexicon(shippedInput(name));
}
