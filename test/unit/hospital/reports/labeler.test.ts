import { describe, expect, it } from 'vitest';
import { InputError } from '../../../../shared/src/errors.js';
import { isNormal, labelReport, labelSections, labelSentence, type ReportLabels } from '../../../../site-agent/src/hospital/reports/labeler.js';
import { compileLexicon, shippedLexicon, validateLexicon } from '../../../../site-agent/src/hospital/reports/lexicon.js';

const lexicon = shippedLexicon('chest-xray');

/** Labels of one sentence, as the report aggregates them. */
function labels(sentence: string): ReportLabels {
  return labelReport(sentence, lexicon);
}

// A frozen set of hand-written sentences (not taken from any data set): each names the finding labels
// it must produce, and nothing else is checked for it.
const CASES: readonly [string, ReportLabels][] = [
  // plain mentions, synonyms, inflections, multiword and gap phrases
  ['Mild cardiomegaly.', { cardiomegaly: 'positive' }],
  ['The heart is moderately enlarged.', { cardiomegaly: 'positive' }],
  ['Small bilateral pleural effusions.', { 'pleural-effusion': 'positive' }],
  ['Patchy opacities at both bases.', { opacity: 'positive' }],
  ['Calcified right upper lobe granuloma.', { 'calcified-granuloma': 'positive' }],
  ['Aortic calcification.', { calcinosis: 'positive' }],
  ['Displaced fracture of the left 6th rib.', { fracture: 'positive' }],
  // pre-negation, its reach over a list, and negation inside a gap phrase
  ['No pneumothorax.', { pneumothorax: 'negative' }],
  ['No focal airspace disease, pleural effusion, or pneumothorax.', { 'airspace-disease': 'negative', 'pleural-effusion': 'negative', pneumothorax: 'negative' }],
  ['Lungs are clear of focal airspace disease.', { 'airspace-disease': 'negative' }],
  ['Negative for pneumothorax.', { pneumothorax: 'negative' }],
  ['The lungs are clear without evidence of pulmonary edema.', { edema: 'negative' }],
  ['The heart is not enlarged.', { cardiomegaly: 'negative' }],
  // post-negation
  ['Pneumothorax is not seen.', { pneumothorax: 'negative' }],
  ['The previously noted right effusion has resolved.', { 'pleural-effusion': 'negative' }],
  // pseudo-negation: a trigger word that negates nothing
  ['No change in the mild cardiomegaly.', { cardiomegaly: 'positive' }],
  ['Not only atelectasis but also a small effusion.', { atelectasis: 'positive', 'pleural-effusion': 'positive' }],
  // termination: scope ends at but / however / which / there is
  ['No pneumothorax, but there is a small right effusion.', { pneumothorax: 'negative', 'pleural-effusion': 'positive' }],
  ['No focal consolidation; however, mild bibasilar atelectasis.', { consolidation: 'negative', atelectasis: 'positive' }],
  ['No pneumothorax and there is a small effusion.', { pneumothorax: 'negative', 'pleural-effusion': 'positive' }],
  // uncertainty: pre and post, "cannot exclude" beats its "not", "versus" is possible for both sides
  ['Possible small left pleural effusion.', { 'pleural-effusion': 'uncertain' }],
  ['Findings may represent early pneumonia.', { pneumonia: 'uncertain' }],
  ['Cannot exclude a small pneumothorax.', { pneumothorax: 'uncertain' }],
  ['A small pneumothorax cannot be excluded.', { pneumothorax: 'uncertain' }],
  ['Basilar atelectasis versus pneumonia.', { atelectasis: 'uncertain', pneumonia: 'uncertain' }],
  ['Opacity suspicious for pneumonia.', { opacity: 'positive', pneumonia: 'uncertain' }],
  // probable existence stays positive
  ['Right basilar opacity, likely atelectasis.', { opacity: 'positive', atelectasis: 'positive' }],
  // negation beats uncertainty on one mention
  ['No definite or possible pneumothorax.', { pneumothorax: 'negative' }],
  // scope limited to the sentence
  ['No pneumothorax. Small effusion.', { pneumothorax: 'negative', 'pleural-effusion': 'positive' }],
  ['Possible pneumonia. Cardiomegaly.', { pneumonia: 'uncertain', cardiomegaly: 'positive' }],
];

describe('labelReport: frozen hand-written sentences', () => {
  it.each(CASES)('%s', (sentence, expected) => {
    // Arrange / Act
    const got = labels(sentence);
    // Assert: exactly the expected findings, with the expected labels
    expect(got).toEqual(expected);
  });
});

describe('aggregation per report', () => {
  it('positive beats uncertain beats negative for the same finding', () => {
    expect(labels('No pleural effusion on the left. Small right pleural effusion.')).toEqual({ 'pleural-effusion': 'positive' });
    expect(labels('No pneumonia. Possible pneumonia.')).toEqual({ pneumonia: 'uncertain' });
    expect(labels('Possible effusion. Definite effusion on the right.')).toEqual({ 'pleural-effusion': 'positive' });
  });

  it('the longest phrase wins where two findings overlap', () => {
    const mentions = labelSentence('Calcified granuloma and calcified lymph nodes.', lexicon);
    expect(mentions.map((m) => [m.finding, m.text])).toEqual([
      ['calcified-granuloma', 'calcified granuloma'],
      ['calcinosis', 'calcified'],
    ]);
  });

  it('normal means no abnormal finding positive or uncertain', () => {
    expect(isNormal(labels('No pneumothorax or effusion.'), lexicon)).toBe(true);
    expect(isNormal(labels('Possible small effusion.'), lexicon)).toBe(false);
    expect(isNormal(labels('Possible small effusion.'), lexicon, false)).toBe(true);
    expect(isNormal(labels('Mild cardiomegaly.'), lexicon)).toBe(false);
  });
});

describe('sections', () => {
  it('labels only the findings and impression, not the indication', () => {
    const text = 'INDICATION: Rule out pneumonia.\nFINDINGS: The lungs are clear. No effusion.\nIMPRESSION: No acute disease.';
    expect(labelReport(text, lexicon)).toEqual({ 'pleural-effusion': 'negative' });
  });

  it('finds headers alone on their line, without a colon', () => {
    const text = 'INDICATION\nPneumonia?\nFINDINGS\nSmall left effusion.\nIMPRESSION\nPossible early edema.';
    expect(labelReport(text, lexicon)).toEqual({ 'pleural-effusion': 'positive', edema: 'uncertain' });
  });

  it('takes the whole text of a report without headers', () => {
    expect(labelReport('Small left effusion.', lexicon)).toEqual({ 'pleural-effusion': 'positive' });
  });

  it('refuses a report with headers but no findings or impression, naming the sections and not the text', () => {
    const text = 'INDICATION: cough with pneumonia history.\nCOMPARISON: none.';
    expect(() => labelReport(text, lexicon)).toThrow(InputError);
    try {
      labelReport(text, lexicon);
    } catch (err) {
      expect((err as InputError).code).toBe('TESSERA_INPUT_REPORT_NO_FINDINGS');
      expect((err as InputError).message).toBe('report has no findings or impression section (sections: indication, comparison)');
    }
    expect(() => labelSections([{ name: 'findings', text: '  ' }], lexicon)).toThrow(/report has no text/);
  });

  it('does not split sentences at decimals or glue across a missing space', () => {
    expect(labels('A 1.5 cm nodule.No effusion.')).toEqual({ nodule: 'positive', 'pleural-effusion': 'negative' });
  });
});

describe('a site lexicon extending chest-xray', () => {
  it('adds findings, terms and triggers to the shipped ones', () => {
    const site = compileLexicon(
      validateLexicon(
        {
          name: 'site-chest',
          extends: 'chest-xray',
          findings: { cardiomegaly: { terms: ['big heart'] }, 'port-a-cath': { terms: ['port a cath'], abnormal: false } },
          triggers: { negation: { pre: ['free from'] } },
        },
        'site.yaml',
      ),
    );
    expect(labelReport('Big heart. Port a cath in place. Free from effusion.', site)).toEqual({ cardiomegaly: 'positive', 'port-a-cath': 'positive', 'pleural-effusion': 'negative' });
    expect(isNormal(labelReport('Port a cath in place.', site), site)).toBe(true);
  });
});
