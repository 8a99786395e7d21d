/**
 * Readers for FHIR R4 exports: Bundles (transaction, batch, collection, searchset) and NDJSON bulk
 * export (one resource per line, FHIR Bulk Data Access). Each resource of a supported type is checked
 * by {@link validateResource}; a bad one becomes an {@link EmrIssue} naming file, entry or line and
 * field, and the rest go on. Resources of other types are counted as skipped, not ingested.
 *
 * Privacy: JSON.parse messages quote the text they failed on, so they are never passed on; issues
 * name places and fields only.
 */
import {
  isSupportedType,
  validateResource,
  type EmrIssue,
  type FhirResource,
} from './fhir-resource.js';

/** A resource with the place it was read from. */
export interface SourcedResource {
  readonly resource: FhirResource;
  readonly file: string;
  readonly location: string;
}

/** What a reader found in one file. */
export interface ParsedExport {
  /** Valid resources of supported types, in file order. */
  readonly resources: SourcedResource[];
  /** Bad items: each was skipped. */
  readonly issues: EmrIssue[];
  /** Resources of types the gate does not ingest, by type. */
  readonly skipped: Record<string, number>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function emptyResult(): { resources: SourcedResource[]; issues: EmrIssue[]; skipped: Record<string, number> } {
  return { resources: [], issues: [], skipped: {} };
}

/** Checks one candidate resource and files it as accepted, skipped or bad. */
function admit(out: ReturnType<typeof emptyResult>, value: unknown, file: string, location: string): void {
  if (!isObject(value) || typeof value['resourceType'] !== 'string') {
    out.issues.push({ file, location, field: 'resourceType', reason: 'is not a FHIR resource (no resourceType)' });
    return;
  }
  const type = value['resourceType'];
  if (!isSupportedType(type)) {
    out.skipped[type] = (out.skipped[type] ?? 0) + 1;
    return;
  }
  const resource = value as FhirResource;
  const problems = validateResource(resource);
  if (problems.length === 0) {
    out.resources.push({ resource, file, location });
    return;
  }
  for (const p of problems) out.issues.push({ file, location, resourceType: type, field: p.field, reason: p.reason });
}

/** Reads a FHIR Bundle (or a single resource) from JSON text. */
export function parseFhirJson(text: string, file: string): ParsedExport {
  const out = emptyResult();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    out.issues.push({ file, location: 'file', reason: 'is not valid JSON' });
    return out;
  }
  if (!isObject(doc) || doc['resourceType'] !== 'Bundle') {
    admit(out, doc, file, 'file');
    return out;
  }
  const entries = doc['entry'];
  if (entries === undefined) return out;
  if (!Array.isArray(entries)) {
    out.issues.push({ file, location: 'file', resourceType: 'Bundle', field: 'entry', reason: 'must be an array' });
    return out;
  }
  entries.forEach((entry: unknown, i) => {
    const location = `entry ${i}`;
    if (!isObject(entry) || entry['resource'] === undefined) {
      out.issues.push({ file, location, field: 'resource', reason: 'Bundle entry has no resource' });
      return;
    }
    admit(out, entry['resource'], file, location);
  });
  return out;
}

/** Reads FHIR NDJSON (bulk export): one resource per line; blank lines are ignored. */
export function parseFhirNdjson(text: string, file: string): ParsedExport {
  const out = emptyResult();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const location = `line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.issues.push({ file, location, reason: 'is not valid JSON' });
      return;
    }
    admit(out, value, file, location);
  });
  return out;
}

/** Concatenates several files' results. */
export function mergeParsed(parts: readonly ParsedExport[]): ParsedExport {
  const out = emptyResult();
  for (const p of parts) {
    out.resources.push(...p.resources);
    out.issues.push(...p.issues);
    for (const [type, n] of Object.entries(p.skipped)) out.skipped[type] = (out.skipped[type] ?? 0) + n;
  }
  return out;
}
