import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { mergeParsed, parseFhirJson, type ParsedExport } from '../../../../site-agent/src/hospital/emr/fhir-parse.js';
import type { FhirResource } from '../../../../site-agent/src/hospital/emr/fhir-resource.js';
import { readSyntheaCsvDir } from '../../../../site-agent/src/hospital/emr/synthea-csv.js';
import { sharedDataDir } from '../../../../cli/src/public-data.js';

/** The shared Synthea run (59 patients; FHIR bundles for 16 of them). */
export const SYNTHEA_DIR = path.join(sharedDataDir(), 'emr', 'synthea');
export const FHIR_DIR = path.join(SYNTHEA_DIR, 'fhir');
export const CSV_DIR = path.join(SYNTHEA_DIR, 'csv');

let fhirCache: ParsedExport | undefined;
let csvCache: Promise<ParsedExport> | undefined;

export function fhirFiles(): string[] {
  return readdirSync(FHIR_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(FHIR_DIR, f));
}

/** Every Synthea FHIR bundle, parsed once per test file. */
export function syntheaFhir(): ParsedExport {
  fhirCache ??= mergeParsed(fhirFiles().map((f) => parseFhirJson(readFileSync(f, 'utf8'), f)));
  return fhirCache;
}

/** The Synthea CSV export, parsed once per test file. */
export function syntheaCsv(): Promise<ParsedExport> {
  csvCache ??= readSyntheaCsvDir(CSV_DIR);
  return csvCache;
}

/** The raw bundle JSON of one patient file (by name prefix). */
export function rawBundle(prefix: string): { file: string; bundle: { entry: { resource: Record<string, unknown> }[] } } {
  const file = fhirFiles().find((f) => path.basename(f).startsWith(prefix));
  if (file === undefined) throw new Error(`no bundle ${prefix}`);
  return { file, bundle: JSON.parse(readFileSync(file, 'utf8')) as { entry: { resource: Record<string, unknown> }[] } };
}

/** The Patient id a resource belongs to. */
export function subjectId(r: FhirResource): string | undefined {
  if (r.resourceType === 'Patient') return r.id;
  const ref = (r['subject'] as { reference?: string } | undefined)?.reference;
  return ref?.replace(/^urn:uuid:|^Patient\//, '');
}
