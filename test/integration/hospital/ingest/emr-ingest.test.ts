import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { ingestEmr, readEmrCache } from '../../../../site-agent/src/hospital/ingest/emr-ingest.js';
import { FHIR_DIR, fhirFiles, rawBundle, syntheaFhir } from '../../../unit/hospital/emr/synthea-fixture.js';

const pseudonymizer = new PatientPseudonymizer({ secret: new Uint8Array(32).fill(9) });
const dirs: string[] = [];
async function temp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'tessera-emr-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('EMR ingest into the site cache', () => {
  it('writes only de-identified records of the Synthea FHIR export and reports counts', async () => {
    const out = await temp();
    const report = await ingestEmr({ inDir: FHIR_DIR, outDir: out, pseudonymizer, today: '2022-03-04' });
    expect(report.filesRead).toBe(fhirFiles().length);
    expect(report.refused).toEqual([]);
    expect(report.patients).toBe(16);
    expect(report.resourcesRead).toBe(syntheaFhir().resources.length);
    expect(Object.values(report.written).reduce((a, b) => a + b, 0)).toBe(report.resourcesRead);
    expect(report.skipped['Claim']).toBeGreaterThan(0);
    expect((await readdir(out)).sort()).toEqual(Object.keys(report.written).map((t) => `${t}.ndjson`).sort());
    expect(report.actions.names).toBeGreaterThanOrEqual(16);

    // Nothing identifying in the cache or the report: no name, phone, SSN, street or original id.
    const cache = (await Promise.all(report.outputs.map((f) => readFile(f, 'utf8')))).join('\n');
    const reportText = JSON.stringify(report);
    for (const { resource: p } of syntheaFhir().resources.filter((r) => r.resource.resourceType === 'Patient')) {
      const values = [
        p.id,
        ...(p['name'] as { family: string; given: string[] }[]).flatMap((n) => [n.family, ...n.given]),
        ...(p['telecom'] as { value: string }[]).map((t) => t.value),
        ...(p['identifier'] as { value: string }[]).map((i) => i.value),
        ...(p['address'] as { line: string[] }[]).flatMap((a) => a.line),
      ];
      for (const v of values) {
        expect(cache).not.toContain(String(v));
        expect(reportText).not.toContain(String(v));
      }
    }
    // The cache reads back as valid FHIR.
    const back = await readEmrCache(out);
    expect(back.issues).toEqual([]);
    expect(back.resources).toHaveLength(report.resourcesRead);
  });

  it('reports bad files, resources and rows by place and reason, and ingests the rest', async () => {
    const inDir = await temp();
    const out = await temp();
    const { file } = rawBundle('Jorge_Luis88');
    await copyFile(file, path.join(inDir, 'good.json'));
    await writeFile(path.join(inDir, 'broken.json'), '{"resourceType": "Bundle", "entry": [ SECRET');
    const orphan = { resourceType: 'Observation', id: 'o1', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] }, subject: { reference: 'Patient/nobody' }, valueQuantity: { value: 1 } };
    await writeFile(path.join(inDir, 'Observation.ndjson'), `${JSON.stringify(orphan)}\n{"resourceType":"Observation","id":"o2"}\n`);
    await mkdir(path.join(inDir, 'csv'));
    await writeFile(path.join(inDir, 'csv', 'patients.csv'), 'Id,BIRTHDATE,FIRST,LAST,GENDER\np-1,1970-01-01,Ann,Lee,F\np-2,SECRET,Bo,Ng,M\n');
    await writeFile(path.join(inDir, 'notes.txt'), 'ignored');
    await writeFile(path.join(out, 'stale.ndjson'), 'old');

    const report = await ingestEmr({ inDir, outDir: out, pseudonymizer, today: '2022-03-04' });
    expect(report.filesRead).toBe(4);
    expect(report.patients).toBe(2);
    const where = report.refused.map((r) => `${path.relative(inDir, r.file)} ${r.location} ${r.field ?? '-'}`);
    expect(where).toEqual(
      expect.arrayContaining([
        'broken.json file -',
        'Observation.ndjson line 2 status',
        'Observation.ndjson line 2 code',
        'Observation.ndjson line 2 subject',
        'csv/patients.csv line 3 BIRTHDATE',
        'Observation.ndjson line 1 subject',
      ]),
    );
    expect(report.refused).toHaveLength(6);
    expect(JSON.stringify(report)).not.toMatch(/SECRET|Jorge|Vela532|Ann|Lee/);
    expect(await readdir(out)).not.toContain('stale.ndjson');
  });

  it('refuses an input folder that cannot be read with a coded error', async () => {
    await expect(ingestEmr({ inDir: '/nonexistent/emr', outDir: await temp(), pseudonymizer })).rejects.toMatchObject({ code: 'TESSERA_INPUT_FILE_UNREADABLE' });
  });
});
