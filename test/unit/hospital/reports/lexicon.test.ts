import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../shared/src/errors.js';
import { labelReport } from '../../../../site-agent/src/hospital/reports/labeler.js';
import { loadLexicon, SHIPPED_LEXICONS, validateLexicon } from '../../../../site-agent/src/hospital/reports/lexicon.js';
import { NamedLexiconLabeler } from '../../../../site-agent/src/hospital/reports/named-labeler.js';
import { compilePhrase, findPhrase } from '../../../../site-agent/src/hospital/reports/phrase.js';
import { tokenize } from '../../../../site-agent/src/hospital/reports/text.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-lexicon-'));
  dirs.push(dir);
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

function problemsOf(value: unknown): string {
  try {
    validateLexicon(value, 'site.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe('TESSERA_INPUT_LEXICON_INVALID');
    return (err as InputError).message;
  }
  throw new Error('expected a validation error');
}

describe('the shipped chest-xray lexicon', () => {
  it('holds the findings the issue names', async () => {
    const lexicon = await loadLexicon('chest-xray');
    const ids = lexicon.findings.map((f) => f.id);
    for (const id of ['cardiomegaly', 'pleural-effusion', 'atelectasis', 'opacity', 'calcified-granuloma', 'airspace-disease', 'calcinosis', 'pneumonia', 'pneumothorax', 'edema', 'nodule', 'fracture']) {
      expect(ids).toContain(id);
    }
    expect(SHIPPED_LEXICONS).toEqual(['chest-xray']);
    expect(Object.isFrozen(lexicon)).toBe(true);
  });
});

describe('lexicon files', () => {
  it('loads a YAML file that extends the shipped lexicon', async () => {
    const file = await tempFile('site.yaml', 'name: site\nextends: chest-xray\nfindings:\n  port:\n    terms: [port a cath]\n    abnormal: false\n');
    const lexicon = await loadLexicon(file);
    expect(lexicon.name).toBe('site');
    expect(labelReport('Port a cath. No effusion.', lexicon)).toEqual({ port: 'positive', 'pleural-effusion': 'negative' });
  });

  it('loads a JSON file standing alone', async () => {
    const file = await tempFile('own.json', JSON.stringify({ name: 'own', findings: { mass: { terms: ['mass*'] } } }));
    expect(labelReport('No masses. Cardiomegaly.', await loadLexicon(file))).toEqual({ mass: 'negative' });
  });

  it('names the file and every bad entry', () => {
    const message = problemsOf({
      name: 'x',
      colour: 'red',
      extends: 'abdomen',
      findings: {
        Cardiomegaly: { terms: ['big heart'] },
        effusion: { terms: ['', '... fluid', 'ab*', 42], weight: 2 },
        edema: { terms: [] },
        nodule: 'nodule',
      },
      triggers: { negation: { before: ['no'] }, hedges: [] },
    });
    expect(message).toMatch(/^lexicon site\.yaml: /);
    for (const part of [
      'colour: unknown key',
      'extends: must name a shipped lexicon (chest-xray)',
      'findings.Cardiomegaly: id must be lower-case kebab-case',
      'findings.effusion.weight: unknown key',
      'findings.effusion.terms[0]: empty phrase',
      "findings.effusion.terms[1]: '...' must sit between two words",
      "findings.effusion.terms[2]: a '*' prefix needs at least 3 letters",
      'findings.effusion.terms[3]: must be a string',
      'findings.edema.terms: needs at least one phrase',
      'findings.nodule: must be a mapping with terms',
      'triggers.negation.before: unknown key (pre or post)',
      'triggers.hedges: unknown key',
    ]) {
      expect(message).toContain(part);
    }
  });

  it('refuses contents that are not a mapping, and a missing name', () => {
    expect(problemsOf(['cardiomegaly'])).toContain('must be a mapping with name and findings');
    expect(problemsOf({ findings: { a: { terms: ['a'] } } })).toContain('name: must be a non-empty string');
    expect(problemsOf({ name: 'x', findings: {} })).toContain('findings: must be a mapping');
  });

  it('reports unparsable YAML and unknown names with their codes', async () => {
    const bad = await tempFile('bad.yaml', 'name: [unclosed\n');
    await expect(loadLexicon(bad)).rejects.toMatchObject({ code: 'TESSERA_INPUT_LEXICON_INVALID', message: expect.stringContaining(bad) as unknown });
    await expect(loadLexicon('chest-ct')).rejects.toMatchObject({ code: 'TESSERA_INPUT_LEXICON_NOT_FOUND', message: expect.stringContaining('chest-xray') as unknown });
  });
});

describe('phrases', () => {
  it('match by lemma, by prefix, and across a short gap that stops at punctuation and coordination', () => {
    const find = (phrase: string, text: string): number => findPhrase(compilePhrase(phrase), tokenize(text)).length;
    expect(find('opacity', 'bilateral opacities')).toBe(1);
    expect(find('enlarg*', 'enlargement')).toBe(1);
    expect(find('heart ... enlarg*', 'heart is mildly enlarged')).toBe(1);
    expect(find('heart ... enlarg*', 'heart size and contour are enlarged')).toBe(0);
    expect(find('heart ... enlarg*', 'heart, enlarged')).toBe(0);
    expect(find('heart ... enlarg*', 'heart is very very very very very very very enlarged')).toBe(0);
  });
});

describe('NamedLexiconLabeler', () => {
  it('labels by lexicon name with shipped and site lexicons, counting reports it cannot label', async () => {
    const file = await tempFile('site-chest.yaml', 'name: site-chest\nextends: chest-xray\nfindings:\n  port:\n    terms: [port a cath]\n');
    const labeler = await NamedLexiconLabeler.create({ 'site-chest': file });
    expect(labeler.names).toEqual(['chest-xray', 'site-chest']);
    expect(labeler.label('FINDINGS: Port a cath. Mild cardiomegaly.', 'site-chest')).toEqual({ port: 'positive', cardiomegaly: 'positive' });
    expect(labeler.label('IMPRESSION: No pneumothorax.', 'chest-xray')).toEqual({ pneumothorax: 'negative' });
    expect(labeler.label('INDICATION: pneumonia. COMPARISON: none.', 'chest-xray')).toEqual({});
    expect(labeler.unlabelled).toBe(1);
    expect(labeler.lexicon('chest-xray')).toBe(labeler.lexicon('chest-xray'));
    expect(() => labeler.label('Cardiomegaly.', 'chest-ct')).toThrow(/no lexicon 'chest-ct' at this site \(known: chest-xray, site-chest\)/);
  });
});
