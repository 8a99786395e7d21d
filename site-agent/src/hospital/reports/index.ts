/**
 * Labels from radiology report text: a rule-based labeler (NegEx / CheXpert-labeler style negation and
 * uncertainty, scoped to the sentence and clause) driven by a lexicon a site can extend.
 *
 * ```ts
 * const lexicon = await loadLexicon('chest-xray');           // or a YAML/JSON file path
 * labelReport('FINDINGS: Mild cardiomegaly. No effusion.', lexicon);
 * // → { cardiomegaly: 'positive', 'pleural-effusion': 'negative' }
 *
 * const labeler = await NamedLexiconLabeler.create({ 'site-chest': '/etc/tessera/site-chest.yaml' });
 * labeler.label(reportText, 'chest-xray');                   // by name, synchronous, never throws per report
 * ```
 */
export {
  aggregateMentions,
  isNormal,
  labelReport,
  labelSections,
  labelSentence,
  POST_WINDOW,
  type FindingLabel,
  type LabelledReport,
  type Mention,
  type ReportLabels,
} from './labeler.js';
export {
  compileLexicon,
  loadLexicon,
  shippedLexicon,
  SHIPPED_LEXICONS,
  validateLexicon,
  type Lexicon,
  type LexiconFinding,
  type LexiconInput,
  type LexiconTriggers,
} from './lexicon.js';
export {
  detectReportFormat,
  parseReportCsv,
  parseReportNdjson,
  parseReports,
  type ReportCsvOptions,
  type ReportInput,
  type ReportInputProblem,
  type ReportInputResult,
} from './report-input.js';
export { canonicalSection, LABELLED_SECTIONS, splitSections, splitSentences, type LabelledSection, type ReportSection } from './text.js';
export { DEFAULT_TRIGGERS, type TriggerPhrases } from './triggers.js';
export { NamedLexiconLabeler } from './named-labeler.js';
