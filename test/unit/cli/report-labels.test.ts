import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../../cli/src/commands/command-io.js';
import { reportLabelsCommand } from '../../../cli/src/commands/report-labels.js';
import { ExitCode } from '../../../cli/src/exit-codes.js';
import { main } from '../../../cli/src/main.js';

function captureIo(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), now: () => new Date('2026-01-02T00:00:00Z') };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function workDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-report-labels-'));
  dirs.push(dir);
  return dir;
}

async function readJsonl(file: string): Promise<unknown[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

describe('tessera report-labels', () => {
  it('labels CSV reports, skipping rows without an id or text with their line numbers', async () => {
    const dir = await workDir();
    const csv = [
      'uid,indication,findings,impression',
      'r1,cough,"Mild cardiomegaly. No pleural effusion.",No acute disease.',
      ',chest pain,Small effusion.,',
      'r3,"fever,\nrule out pneumonia",,"Possible left basilar pneumonia, atelectasis versus infiltrate."',
      'r4,trauma,,',
      'r5,,The lungs are clear.,Normal chest.',
    ].join('\n');
    await writeFile(path.join(dir, 'reports.csv'), csv);
    const io = captureIo();
    const out = path.join(dir, 'labels.jsonl');
    const code = await reportLabelsCommand(['--in', path.join(dir, 'reports.csv'), '--id-column', 'uid', '--text-columns', 'findings,impression', '--lexicon', 'chest-xray', '--out', out], io);
    expect(code).toBe(ExitCode.Ok);
    expect(await readJsonl(out)).toEqual([
      { id: 'r1', labels: { cardiomegaly: 'positive', 'pleural-effusion': 'negative' } },
      { id: 'r3', labels: { pneumonia: 'uncertain', atelectasis: 'uncertain' } },
      { id: 'r5', labels: {} },
    ]);
    expect(io.stderr).toEqual([
      `${path.join(dir, 'reports.csv')}:3: TESSERA_INPUT_REPORT_INVALID: no id in column 'uid' (skipped)`,
      `${path.join(dir, 'reports.csv')}:6: TESSERA_INPUT_REPORT_NO_FINDINGS: report has no text (skipped)`,
    ]);
    expect(io.stdout).toEqual([`labelled 3 reports with lexicon chest-xray; skipped 2; wrote ${out}`]);
  });

  it('finds the id and text columns by default and reads report text with its own headers', async () => {
    const dir = await workDir();
    await writeFile(path.join(dir, 'r.csv'), 'id,text\na,"HISTORY: pneumonia?\nFINDINGS: Small right pneumothorax.\nIMPRESSION: Pneumothorax."\nb,"HISTORY: cough.\nCOMPARISON: none."\n');
    const io = captureIo();
    expect(await reportLabelsCommand(['--in', path.join(dir, 'r.csv'), '--lexicon', 'chest-xray', '--out', path.join(dir, 'o.jsonl')], io)).toBe(ExitCode.Ok);
    expect(await readJsonl(path.join(dir, 'o.jsonl'))).toEqual([{ id: 'a', labels: { pneumothorax: 'positive' } }]);
    expect(io.stderr[0]).toMatch(/:5: TESSERA_INPUT_REPORT_NO_FINDINGS: report has no findings or impression section \(sections: indication, comparison\)/);
  });

  it('labels FHIR DiagnosticReport NDJSON and reports bad lines', async () => {
    const dir = await workDir();
    const lines = [
      JSON.stringify({ resourceType: 'DiagnosticReport', id: 'dr1', status: 'final', conclusion: 'No pneumothorax. Moderate cardiomegaly.' }),
      '{"resourceType": "DiagnosticReport", "id": "dr2", ',
      JSON.stringify({ resourceType: 'DiagnosticReport', id: 'dr3', presentedForm: [{ contentType: 'text/plain', data: b64('FINDINGS: Calcified granuloma in the right upper lobe.\nIMPRESSION: No acute disease.') }] }),
      JSON.stringify({ resourceType: 'DiagnosticReport', id: 'dr4', status: 'final' }),
      JSON.stringify({ resourceType: 'Observation', id: 'o1' }),
      '',
      JSON.stringify({ resourceType: 'DiagnosticReport', status: 'final', conclusion: 'Edema.' }),
      JSON.stringify({ resourceType: 'DiagnosticReport', id: 'dr6', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>FINDINGS: Small left effusion.</p></div>' } }),
    ];
    await writeFile(path.join(dir, 'reports.ndjson'), `${lines.join('\n')}\n`);
    const io = captureIo();
    const out = path.join(dir, 'labels.jsonl');
    expect(await reportLabelsCommand(['--in', path.join(dir, 'reports.ndjson'), '--lexicon', 'chest-xray', '--out', out], io)).toBe(ExitCode.Ok);
    expect(await readJsonl(out)).toEqual([
      { id: 'dr1', labels: { pneumothorax: 'negative', cardiomegaly: 'positive' } },
      { id: 'dr3', labels: { 'calcified-granuloma': 'positive' } },
      { id: 'dr6', labels: { 'pleural-effusion': 'positive' } },
    ]);
    expect(io.stderr.map((l) => l.slice(l.indexOf(':') + 1))).toEqual([
      '2: TESSERA_INPUT_REPORT_INVALID: malformed JSON (skipped)',
      '4: TESSERA_INPUT_REPORT_INVALID: DiagnosticReport has no conclusion, text/* presentedForm data or narrative (skipped)',
      '5: TESSERA_INPUT_REPORT_INVALID: not a DiagnosticReport (resourceType Observation) (skipped)',
      '7: TESSERA_INPUT_REPORT_INVALID: DiagnosticReport has no id (skipped)',
    ]);
  });

  it('takes a lexicon file, and fails with exit 4 naming an invalid one', async () => {
    const dir = await workDir();
    await writeFile(path.join(dir, 'r.csv'), 'id,findings\n1,Port a cath in place. No effusion.\n');
    await writeFile(path.join(dir, 'site.yaml'), 'name: site\nextends: chest-xray\nfindings:\n  port:\n    terms: [port a cath]\n');
    await writeFile(path.join(dir, 'bad.yaml'), 'name: bad\nfindings:\n  port:\n    terms: ["..."]\n');
    const io = captureIo();
    const out = path.join(dir, 'o.jsonl');
    expect(await reportLabelsCommand(['--in', path.join(dir, 'r.csv'), '--lexicon', path.join(dir, 'site.yaml'), '--out', out], io)).toBe(ExitCode.Ok);
    expect(await readJsonl(out)).toEqual([{ id: '1', labels: { port: 'positive', 'pleural-effusion': 'negative' } }]);
    expect(await reportLabelsCommand(['--in', path.join(dir, 'r.csv'), '--lexicon', path.join(dir, 'bad.yaml'), '--out', out], io)).toBe(ExitCode.InputMissing);
    expect(io.stderr.at(-1)).toContain(`lexicon ${path.join(dir, 'bad.yaml')}: findings.port.terms[0]: '...' must sit between two words`);
  });

  it('refuses bad arguments and missing columns, and is registered in main', async () => {
    const dir = await workDir();
    await writeFile(path.join(dir, 'r.csv'), 'id,notes\n1,Cardiomegaly.\n');
    const io = captureIo();
    const base = ['--in', path.join(dir, 'r.csv'), '--out', path.join(dir, 'o.jsonl')];
    expect(await reportLabelsCommand(base, io)).toBe(ExitCode.Usage);
    expect(io.stderr.join('\n')).toMatch(/usage: tessera report-labels/);
    expect(await reportLabelsCommand([...base, '--lexicon', 'chest-xray'], io)).toBe(ExitCode.InputMissing);
    expect(io.stderr.at(-1)).toContain('report CSV has no text column (columns: id, notes)');
    expect(await reportLabelsCommand([...base, '--lexicon', 'chest-xray', '--text-columns', 'notes'], io)).toBe(ExitCode.Ok);
    expect(await readJsonl(path.join(dir, 'o.jsonl'))).toEqual([{ id: '1', labels: { cardiomegaly: 'positive' } }]);
    expect(await reportLabelsCommand(['--in', path.join(dir, 'missing.csv'), '--out', path.join(dir, 'o.jsonl'), '--lexicon', 'chest-xray'], io)).toBe(ExitCode.InputMissing);
    expect(await main(['report-labels', '--help'])).toBe(ExitCode.Ok);
  });
});
