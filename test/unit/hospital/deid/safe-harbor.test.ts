import { describe, expect, it } from 'vitest';
import { PatientPseudonymizer } from '../../../../site-agent/src/hospital/deid/pseudonym.js';
import { AGE_OVER_89_EXTENSION, SafeHarbor, patientKey } from '../../../../site-agent/src/hospital/deid/safe-harbor.js';
import type { FhirResource } from '../../../../site-agent/src/hospital/emr/fhir-resource.js';
import { syntheaFhir } from '../emr/synthea-fixture.js';

type Json = Record<string, unknown>;
const SECRET = new Uint8Array(32).fill(11);
const pseudonymizer = new PatientPseudonymizer({ secret: SECRET });
const gate = (dates: 'shift' | 'year' = 'shift'): SafeHarbor => new SafeHarbor({ pseudonymizer, today: '2022-03-04', dates });

/** Output JSON plus every base64 attachment decoded, so tests can search all the text that leaves the gate. */
function allText(resources: readonly FhirResource[]): string {
  const parts = [JSON.stringify(resources)];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      const o = v as Json;
      if (typeof o['data'] === 'string') parts.push(Buffer.from(o['data'], 'base64').toString('utf8'));
      Object.values(o).forEach(walk);
    }
  };
  walk(resources);
  return parts.join('\n');
}

const synthea = syntheaFhir();
const rawPatients = synthea.resources.map((r) => r.resource).filter((r) => r.resourceType === 'Patient');
const result = gate().deidentify(synthea.resources);
const text = allText(result.resources);

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string' || typeof value === 'number') out.push(String(value));
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) strings(v, out);
  return out;
}

const base = (extra: Json = {}): Json => ({ resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1960-05-17', ...extra });
const obs = (extra: Json): Json => ({
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] },
  subject: { reference: 'Patient/p1' },
  ...extra,
});
const one = (resources: Json[], dates: 'shift' | 'year' = 'shift'): ReturnType<SafeHarbor['deidentify']> =>
  gate(dates).deidentify(resources as unknown as FhirResource[]);

describe('HIPAA Safe Harbor gate on the Synthea FHIR export', () => {
  it('keeps every supported resource and refuses none', () => {
    expect(result.refused).toEqual([]);
    expect(result.resources).toHaveLength(synthea.resources.length);
  });

  it('(A) names: no given, family or maiden name of any patient remains, in fields or note text', () => {
    expect(result.actions.names).toBeGreaterThanOrEqual(16);
    for (const p of rawPatients) {
      for (const n of p['name'] as Json[]) {
        for (const part of [n['family'], ...(n['given'] as string[])]) expect(text).not.toContain(String(part));
      }
    }
    expect(text).not.toMatch(/Adriana394|Dr\. [A-Z][a-z]+\d+/);
  });

  it('(B) geography: street, city, county and coordinates go; ZIP becomes ZIP3; the 17 small ZIP3 areas become 000', () => {
    for (const p of rawPatients) {
      for (const a of p['address'] as Json[]) {
        for (const part of [...(a['line'] as string[]), a['city']]) expect(text).not.toContain(String(part));
        for (const coord of strings(a['extension'])) if (/\d+\.\d{4,}/.test(coord)) expect(text).not.toContain(coord);
        const out = result.resources.find((r) => r.id === pseudonymizer.pseudonym(patientKey(p)))!;
        expect((out['address'] as Json[])[0]).toEqual({ state: a['state'], country: 'US', postalCode: String(a['postalCode']).slice(0, 3) });
      }
    }
    const small = one([base({ address: [{ postalCode: '03601' }, { postalCode: '89301-1234' }, { postalCode: '10001' }, { postalCode: 'SW1A 1AA' }] })]);
    expect(small.resources[0]?.['address']).toEqual([{ postalCode: '000' }, { postalCode: '000' }, { postalCode: '100' }]);
  });

  it('(C) dates: every date of a patient moves by that patient\'s shift, the one the DICOM path uses', () => {
    const raw = synthea.resources.map((r) => r.resource).filter((r) => r.resourceType === 'Encounter');
    expect(raw.length).toBeGreaterThan(100);
    for (const p of rawPatients) {
      const shift = pseudonymizer.dateShiftDays(patientKey(p));
      const out = result.resources.find((r) => r.id === pseudonymizer.pseudonym(patientKey(p)))!;
      const moved = (Date.parse(String(out['birthDate'])) - Date.parse(String(p['birthDate']))) / 86_400_000;
      expect(moved).toBe(shift);
    }
    const enc = raw[0]!;
    const key = patientKey(rawPatients.find((p) => `urn:uuid:${String(p.id)}` === (enc['subject'] as Json)['reference'])!);
    const outEnc = result.resources.find((r) => r.id === pseudonymizer.uid(`fhir:${String(enc.id)}`))!;
    const start = (x: FhirResource): number => Date.parse(String((x['period'] as Json)['start']));
    expect((start(outEnc) - start(enc)) / 86_400_000).toBe(pseudonymizer.dateShiftDays(key));
    // Times of day and UTC offsets are kept, so intervals within a record are exact.
    expect(String((outEnc['period'] as Json)['start']).slice(10)).toBe(String((enc['period'] as Json)['start']).slice(10));
    expect(result.actions.dates).toBeGreaterThan(1000);
  });

  it('(C) dates in year mode keep only the year and drop instants', () => {
    const r = one([base(), obs({ effectiveDateTime: '2020-02-03T04:05:06Z', issued: '2020-02-03T04:05:06.000Z', valueQuantity: { value: 1 } })], 'year');
    expect(r.resources[0]?.['birthDate']).toBe('1960');
    expect(r.resources[1]?.['effectiveDateTime']).toBe('2020');
    expect(r.resources[1]?.['issued']).toBeUndefined();
  });

  it('(C) ages over 89: birth date removed and flagged 90+, age observations capped at 90', () => {
    const r = one([
      base({ birthDate: '1925-01-01' }),
      obs({ code: { coding: [{ system: 'http://loinc.org', code: '30525-0' }] }, valueQuantity: { value: 97, unit: 'a' } }),
    ]);
    expect(r.resources[0]?.['birthDate']).toBeUndefined();
    expect(r.resources[0]?.['extension']).toEqual([{ url: AGE_OVER_89_EXTENSION, valueBoolean: true }]);
    expect((r.resources[1]?.['valueQuantity'] as Json)['value']).toBe(90);
    // 89 is kept: the rule is ages over 89. Deceased patients are aged at death.
    const young = one([base({ birthDate: '1932-03-05' }), base({ id: 'p2', birthDate: '1900-01-01', deceasedDateTime: '1980-01-01' })]);
    expect(young.resources.map((x) => x['birthDate'] !== undefined)).toEqual([true, true]);
  });

  it('(D-F) phone, fax, email, (N) URL: telecom removed; Synthea phone numbers appear nowhere', () => {
    for (const p of rawPatients) for (const t of p['telecom'] as Json[]) expect(text).not.toContain(String(t['value']));
    const r = one([
      base({
        telecom: [
          { system: 'phone', value: '555-123-4567' },
          { system: 'fax', value: '555-123-4568' },
          { system: 'email', value: 'jane@example.org' },
          { system: 'url', value: 'https://jane.example.org' },
        ],
      }),
    ]);
    expect(JSON.stringify(r.resources)).not.toMatch(/555|jane/);
    expect([r.actions.phone, r.actions.fax, r.actions.email, r.actions.url]).toEqual([1, 1, 1, 1]);
  });

  it('(G-K) SSN, MRN, health plan, account and licence numbers: identifiers replaced by the pseudonym', () => {
    for (const p of rawPatients) for (const id of p['identifier'] as Json[]) expect(text).not.toContain(String(id['value']));
    expect(result.actions.ssn).toBe(16);
    expect(result.actions.mrn).toBe(16);
    const t = (code: string, value: string): Json => ({ type: { coding: [{ code }] }, value });
    const r = one([base({ identifier: [t('MR', 'MRN-1'), t('SS', '123-45-6789'), t('MB', 'PLAN-9'), t('AN', 'ACCT-7'), t('DL', 'D1234'), t('PPN', 'X99')] })]);
    expect(r.resources[0]?.['identifier']).toEqual([{ system: 'urn:tessera:pseudonym', value: pseudonymizer.pseudonym('MRN-1') }]);
    expect(r.resources[0]?.id).toBe(pseudonymizer.pseudonym('MRN-1'));
    expect([r.actions.mrn, r.actions.ssn, r.actions.healthPlan, r.actions.account, r.actions.license]).toEqual([1, 1, 1, 1, 2]);
  });

  it('(L, M) vehicle and device identifiers: device references dropped; VINs and UDIs scrubbed from text', () => {
    const r = one([
      base(),
      obs({ device: { reference: 'Device/d1', display: 'pump SN 4711' }, valueString: 'Car VIN 1HGCM82633A004352 parked; device UDI (01)00884838035683(21)1234' }),
    ]);
    const out = JSON.stringify(r.resources);
    expect(out).not.toContain('4711');
    expect(out).not.toContain('1HGCM82633A004352');
    expect(out).not.toContain('00884838035683');
    expect(r.actions.device).toBe(1);
  });

  it('(O) IP addresses and (N) URLs in free text are scrubbed', () => {
    const r = one([base(), obs({ valueString: 'uploaded from 192.168.10.77 see https://portal.example.org/p/1' })]);
    expect(JSON.stringify(r.resources)).not.toMatch(/192\.168|portal\.example/);
  });

  it('(P, Q) biometrics and photos: Patient.photo and non-text attachments removed; image-only documents refused', () => {
    const doc = (contentType: string): Json => ({
      resourceType: 'DocumentReference',
      id: `d-${contentType.replace('/', '-')}`,
      status: 'current',
      subject: { reference: 'Patient/p1' },
      content: [{ attachment: { contentType, data: Buffer.from('x').toString('base64'), url: 'http://host/x' } }],
    });
    const r = one([base({ photo: [{ contentType: 'image/jpeg', data: 'AAAA' }] }), doc('image/jpeg'), doc('audio/wav'), doc('text/plain')]);
    expect(r.resources[0]?.['photo']).toBeUndefined();
    expect(r.resources.map((x) => x.resourceType)).toEqual(['Patient', 'DocumentReference']);
    expect(r.refused.map((x) => `${x.location} ${x.field} ${x.reason}`)).toEqual([
      'item 1 content holds no text attachment that could be scrubbed',
      'item 2 content holds no text attachment that could be scrubbed',
    ]);
    expect(r.actions.photo).toBe(2);
    expect(r.actions.biometric).toBe(1);
    expect(r.actions.url).toBe(3);
  });

  it('(R) other identifiers: resource ids are keyed, ImagingStudy UIDs match the DICOM replacement UIDs', () => {
    const raw = synthea.resources.map((r) => r.resource).filter((r) => r.resourceType === 'ImagingStudy');
    expect(raw.length).toBeGreaterThan(0);
    for (const s of raw) {
      const out = result.resources.find((r) => r.id === pseudonymizer.uid(`fhir:${String(s.id)}`))!;
      const series = (s['series'] as Json[])[0]!;
      expect((out['series'] as Json[])[0]?.['uid']).toBe(pseudonymizer.uid(String(series['uid'])));
      const studyUid = String((s['identifier'] as Json[])[0]?.['value']).replace('urn:oid:', '');
      expect(out['identifier']).toEqual([{ system: 'urn:dicom:uid', value: `urn:oid:${pseudonymizer.uid(studyUid)}` }]);
      expect(text).not.toContain(String(series['uid']));
    }
    for (const p of rawPatients) expect(text).not.toContain(String(p.id));
  });

  it('refuses a record whose patient is not in the batch, naming the field', () => {
    const r = one([obs({ valueQuantity: { value: 1 } })]);
    expect(r.resources).toEqual([]);
    expect(r.refused).toEqual([
      { file: 'input', location: 'item 0', resourceType: 'Observation', field: 'subject', reason: 'the referenced Patient is not in the export, so the record can be neither linked nor date-shifted' },
    ]);
  });
});
