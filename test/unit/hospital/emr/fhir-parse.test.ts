import { describe, expect, it } from 'vitest';
import { parseFhirJson, parseFhirNdjson } from '../../../../site-agent/src/hospital/emr/fhir-parse.js';
import { SUPPORTED_RESOURCE_TYPES } from '../../../../site-agent/src/hospital/emr/fhir-resource.js';
import { rawBundle, syntheaFhir } from './synthea-fixture.js';

describe('FHIR R4 readers on the Synthea bundles', () => {
  it('accepts every resource of the supported types and counts the rest as skipped', () => {
    const parsed = syntheaFhir();
    expect(parsed.issues).toEqual([]);
    const byType = new Map<string, number>();
    for (const { resource } of parsed.resources) byType.set(resource.resourceType, (byType.get(resource.resourceType) ?? 0) + 1);
    expect(byType.get('Patient')).toBe(16);
    // This Synthea run orders drugs (MedicationRequest) but records no administration, statement or Medication resource.
    const absentHere = ['MedicationAdministration', 'MedicationStatement', 'Medication'];
    for (const t of absentHere) expect(byType.get(t) ?? 0, t).toBe(0);
    for (const t of SUPPORTED_RESOURCE_TYPES.filter((x) => !absentHere.includes(x))) expect(byType.get(t) ?? 0, t).toBeGreaterThan(0);
    expect(parsed.skipped['Claim']).toBeGreaterThan(0);
    expect(parsed.skipped['Practitioner']).toBeGreaterThan(0);
  });

  it('reads NDJSON bulk export (one resource per line) to the same resources as the Bundle', () => {
    const { file, bundle } = rawBundle('Jorge_Luis88');
    const fromBundle = parseFhirJson(JSON.stringify(bundle), file);
    const ndjson = bundle.entry.map((e) => JSON.stringify(e.resource)).join('\n');
    const fromNdjson = parseFhirNdjson(`${ndjson}\n\n`, 'Patient.ndjson');
    expect(fromNdjson.issues).toEqual([]);
    expect(fromNdjson.resources.map((r) => r.resource)).toEqual(fromBundle.resources.map((r) => r.resource));
    expect(fromNdjson.resources[0]?.location).toBe('line 1');
    expect(fromNdjson.skipped).toEqual(fromBundle.skipped);
  });

  it('reports each bad resource with file, entry and field (never the value) and keeps the rest', () => {
    const { file, bundle } = rawBundle('Jorge_Luis88');
    const entries = structuredClone(bundle.entry);
    const obsIndex = entries.findIndex((e) => e.resource['resourceType'] === 'Observation');
    const obs = entries[obsIndex]!.resource;
    // A local code alone is no longer a problem (the site's mapping file harmonises it); a coding without a code is.
    obs['code'] = { coding: [{ system: 'http://example.org/local', display: 'SECRET-CODE-123' }] };
    obs['effectiveDateTime'] = '22/08/2021-SECRET';
    const patient = entries[0]!.resource;
    patient['birthDate'] = 'SECRET-1999';
    entries.push({ resource: { resourceType: 'Encounter', id: 'x1', subject: { reference: 'Group/SECRET' } } });
    const parsed = parseFhirJson(JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: entries }), file);

    expect(parsed.issues).toContainEqual({ file, location: `entry ${obsIndex}`, resourceType: 'Observation', field: 'code.coding', reason: 'must hold at least one coding, each with a code' });
    expect(parsed.issues).toContainEqual({ file, location: `entry ${obsIndex}`, resourceType: 'Observation', field: 'effectiveDateTime', reason: 'is not a valid FHIR dateTime' });
    expect(parsed.issues).toContainEqual({ file, location: 'entry 0', resourceType: 'Patient', field: 'birthDate', reason: 'is not a valid FHIR date' });
    const last = `entry ${entries.length - 1}`;
    expect(parsed.issues.filter((i) => i.location === last).map((i) => i.field).sort()).toEqual(['class', 'status', 'subject']);
    expect(JSON.stringify(parsed.issues)).not.toMatch(/SECRET/);
    // 84 entries + 1 added; the Patient, one Observation and the Encounter are skipped, the rest kept.
    const supported = bundle.entry.filter((e) => SUPPORTED_RESOURCE_TYPES.includes(e.resource['resourceType'] as never)).length;
    expect(parsed.resources).toHaveLength(supported - 2);
  });

  it('reports unparseable JSON by file or line without quoting it', () => {
    expect(parseFhirJson('{"resourceType": "Bundle", SECRET', 'a.json').issues).toEqual([{ file: 'a.json', location: 'file', reason: 'is not valid JSON' }]);
    const nd = parseFhirNdjson('{"resourceType":"Patient","id":"p1"}\n{SECRET\n[1]\n', 'Patient.ndjson');
    expect(nd.resources).toHaveLength(1);
    expect(nd.issues).toEqual([
      { file: 'Patient.ndjson', location: 'line 2', reason: 'is not valid JSON' },
      { file: 'Patient.ndjson', location: 'line 3', field: 'resourceType', reason: 'is not a FHIR resource (no resourceType)' },
    ]);
  });

  it('checks ImagingStudy UIDs and DocumentReference attachments', () => {
    const study = { resourceType: 'ImagingStudy', id: 's1', status: 'available', subject: { reference: 'Patient/p1' }, series: [{ uid: 'not-a-uid', modality: { code: 'DX' }, instance: [{ uid: '1.2.3' }, { uid: 'x' }] }] };
    const doc = { resourceType: 'DocumentReference', id: 'd1', status: 'current', subject: { reference: 'Patient/p1' }, content: [{ attachment: { contentType: 'text/plain', data: '!!not base64!!' } }] };
    const parsed = parseFhirNdjson(`${JSON.stringify(study)}\n${JSON.stringify(doc)}`, 'x.ndjson');
    expect(parsed.issues.map((i) => `${i.location} ${i.field}`)).toEqual(['line 1 series[0].uid', 'line 1 series[0].instance[1].uid', 'line 2 content[0].data']);
  });
});
