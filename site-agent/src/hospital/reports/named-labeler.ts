/**
 * The report labeler behind a lexicon *name*, as a study's `data:` names one (`lexicon: chest-xray`): the
 * shipped lexicons plus the site's own files, each compiled once. Synchronous, so a study evaluation can
 * call it per report.
 */
import { InputError } from '../../../../shared/src/errors.js';
import { labelReport, type ReportLabels } from './labeler.js';
import { loadLexicon, SHIPPED_LEXICONS, shippedLexicon, type Lexicon } from './lexicon.js';

/**
 * Labels report text with a named lexicon. Structurally the `ReportLabeler` a study evaluation takes:
 * `label(text, lexicon)` → finding → positive / negative / uncertain, findings not mentioned absent.
 */
export class NamedLexiconLabeler {
  readonly #lexicons = new Map<string, Lexicon>();
  #unlabelled = 0;

  private constructor(site: ReadonlyMap<string, Lexicon>) {
    for (const [name, lexicon] of site) this.#lexicons.set(name, lexicon);
  }

  /**
   * Loads the site's lexicon files (`name → path`, e.g. from agent.yaml); a site file may take a shipped
   * name to replace it. Throws `TESSERA_INPUT_LEXICON_NOT_FOUND` / `_INVALID` naming the file.
   */
  static async create(siteFiles: Readonly<Record<string, string>> = {}): Promise<NamedLexiconLabeler> {
    const site = new Map<string, Lexicon>();
    for (const [name, file] of Object.entries(siteFiles)) site.set(name, await loadLexicon(file));
    return new NamedLexiconLabeler(site);
  }

  /** Lexicon names this labeler knows. */
  get names(): string[] {
    return [...new Set([...SHIPPED_LEXICONS, ...this.#lexicons.keys()])].sort();
  }

  /**
   * Reports that had text but no findings or impression section (labelled as mentioning nothing): a count
   * for the site's feasibility report, never the text.
   */
  get unlabelled(): number {
    return this.#unlabelled;
  }

  /** The compiled lexicon `name`. Throws `TESSERA_INPUT_LEXICON_NOT_FOUND` for a name it does not know. */
  lexicon(name: string): Lexicon {
    let lexicon = this.#lexicons.get(name);
    if (lexicon === undefined) {
      if (!SHIPPED_LEXICONS.includes(name)) {
        throw new InputError('TESSERA_INPUT_LEXICON_NOT_FOUND', `no lexicon '${name}' at this site (known: ${this.names.join(', ')})`, { lexicon: name });
      }
      lexicon = shippedLexicon(name);
      this.#lexicons.set(name, lexicon);
    }
    return lexicon;
  }

  /**
   * Labels one report. A report whose headers name neither findings nor impression mentions nothing
   * (`{}`) and is counted in {@link unlabelled}, so that one odd report never stops an evaluation.
   */
  label(text: string, lexicon: string): ReportLabels {
    const compiled = this.lexicon(lexicon);
    try {
      return labelReport(text, compiled);
    } catch (err) {
      if (err instanceof InputError && err.code === 'TESSERA_INPUT_REPORT_NO_FINDINGS') {
        this.#unlabelled++;
        return {};
      }
      throw err;
    }
  }
}
