/**
 * A site's harmonisation file: its local codes mapped to the study's code systems (LOINC, SNOMED CT,
 * ICD-10-CM, RadLex, …), its local unit spellings mapped to UCUM, and its study/series descriptions mapped
 * to procedure codes. Owned by the site, named in agent.yaml, validated when the agent starts: a duplicate
 * or circular entry, an unknown code system or an unknown UCUM unit is an error naming the file and line.
 *
 * ```yaml
 * codes:
 *   - { from: { system: 'urn:oid:1.2.3.4.5', code: CHOL }, to: { system: loinc, code: 2093-3 }, unit: mg/dL }
 * units:
 *   - { from: MG/DL, to: mg/dL }
 * descriptions:
 *   - { description: 'Radiograph, Chest', to: { system: radlex, code: RPID1301 } }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { STUDY_CODE_SYSTEM_NAMES, STUDY_CODE_SYSTEMS, studySystemOf, type StudyCode, type StudyCodeSystem } from '../../../../shared/src/study/study-data-spec.js';
import { StudyDataError } from './errors.js';
import { isUcumUnit } from './ucum.js';

/** A coding as found in a record (system URI or absent, code). */
export interface RecordCoding {
  readonly system?: string | undefined;
  readonly code?: string | undefined;
}

/** The compiled mapping. An empty mapping maps nothing (standard codes still count). */
export interface SiteMapping {
  /** The file it came from, or `(none)`. */
  readonly file: string;
  /** Study codes one record coding stands for: its own when in a study system, plus where the mapping leads. */
  standardCodes(coding: RecordCoding): StudyCode[];
  /** The UCUM unit the site says a local code's values are in, if any. */
  unitFor(coding: RecordCoding): string | undefined;
  /** The UCUM unit a local unit spelling stands for (the spelling itself when it is UCUM). */
  ucum(unit: string): string | undefined;
  /** The procedure code a study or series description stands for (case and spacing ignored). */
  procedureFor(description: string): StudyCode | undefined;
}

const key = (system: string | undefined, code: string): string => `${system ?? ''}|${code}`;
const normaliseDescription = (d: string): string => d.trim().replace(/\s+/g, ' ').toLowerCase();

function systemKey(system: string): string {
  // A study short name and its URIs are one system.
  const short = (STUDY_CODE_SYSTEM_NAMES as string[]).includes(system) ? (system as StudyCodeSystem) : studySystemOf(system);
  return short ?? system;
}

interface CodeEntry {
  readonly line: number;
  readonly to: StudyCode;
  readonly unit?: string;
}

class CompiledMapping implements SiteMapping {
  constructor(
    readonly file: string,
    private readonly codes: ReadonlyMap<string, CodeEntry>,
    private readonly units: ReadonlyMap<string, string>,
    private readonly descriptions: ReadonlyMap<string, StudyCode>,
  ) {}

  standardCodes(coding: RecordCoding): StudyCode[] {
    if (coding.code === undefined) return [];
    const out: StudyCode[] = [];
    let sys = coding.system === undefined ? '' : systemKey(coding.system);
    let code = coding.code;
    // Entries were checked for cycles at load; the bound is a second guard.
    for (let hops = 0; hops <= this.codes.size; hops++) {
      if ((STUDY_CODE_SYSTEM_NAMES as string[]).includes(sys)) out.push({ system: sys as StudyCodeSystem, code });
      const next = this.codes.get(key(sys, code));
      if (next === undefined) break;
      sys = next.to.system;
      code = next.to.code;
    }
    return out;
  }

  unitFor(coding: RecordCoding): string | undefined {
    if (coding.code === undefined) return undefined;
    return this.codes.get(key(coding.system === undefined ? '' : systemKey(coding.system), coding.code))?.unit;
  }

  ucum(unit: string): string | undefined {
    return this.units.get(unit) ?? (isUcumUnit(unit) ? unit : undefined);
  }

  procedureFor(description: string): StudyCode | undefined {
    return this.descriptions.get(normaliseDescription(description));
  }
}

/** The mapping of a site without a mapping file. */
export const EMPTY_MAPPING: SiteMapping = new CompiledMapping('(none)', new Map(), new Map(), new Map());

/** Reads and validates a mapping file. @throws StudyDataError `TESSERA_STUDYDATA_MAPPING` naming file and line. */
export async function loadSiteMapping(file: string): Promise<SiteMapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new StudyDataError('TESSERA_STUDYDATA_MAPPING', `mapping file ${file} cannot be read`, { file }, { cause: err });
  }
  return parseSiteMapping(text, file);
}

/** Parses and validates mapping text (YAML or JSON). */
export function parseSiteMapping(text: string, file: string): SiteMapping {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const fail = (line: number, why: string): never => {
    throw new StudyDataError('TESSERA_STUDYDATA_MAPPING', `${file}:${line}: ${why}`, { file, line });
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    fail(e?.linePos?.[0]?.line ?? 1, 'is not valid YAML/JSON');
  }
  const root = doc.contents;
  if (root !== null && !isMap(root)) fail(1, 'must be a mapping with keys codes, units, descriptions');
  const section = (name: string): { line: number; value: unknown }[] => {
    if (!isMap(root)) return [];
    const node = root.get(name, true) as Node | undefined;
    if (node === undefined) return [];
    if (!isSeq(node)) return fail(lineOf(node), `'${name}' must be a list`);
    return node.items.map((item) => ({ line: lineOf(item as Node), value: (item as Node).toJSON() as unknown }));
  };
  if (isMap(root)) {
    for (const pair of root.items) {
      const k = String((pair.key as Node | null)?.toJSON());
      if (!['codes', 'units', 'descriptions'].includes(k)) fail(lineOf(pair.key), `unknown key '${k}' (known: codes, units, descriptions)`);
    }
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const str = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
  const target = (v: unknown, line: number, field: string): StudyCode => {
    if (!isObj(v) || !str(v['system']) || !(str(v['code']) || typeof v['code'] === 'number')) return fail(line, `'${field}' must be { system, code }`);
    const system = systemKey(v['system']);
    if (!(STUDY_CODE_SYSTEM_NAMES as string[]).includes(system)) {
      return fail(line, `'${field}.system' is not a code system a study can name (known: ${STUDY_CODE_SYSTEM_NAMES.join(', ')}, or their URIs)`);
    }
    return { system: system as StudyCodeSystem, code: String(v['code']) };
  };
  const unit = (v: unknown, line: number, field: string): string => {
    if (!str(v)) return fail(line, `'${field}' must be a UCUM unit`);
    if (!isUcumUnit(v)) return fail(line, `'${field}' is not a UCUM unit`);
    return v;
  };

  const codes = new Map<string, CodeEntry>();
  for (const { line, value } of section('codes')) {
    if (!isObj(value)) fail(line, 'a codes entry must be { from, to, unit? }');
    const v = value as Record<string, unknown>;
    const from = v['from'];
    if (!isObj(from) || !str(from['system']) || !(str(from['code']) || typeof from['code'] === 'number')) fail(line, "'from' must be { system, code }");
    const f = from as Record<string, unknown>;
    const k = key(systemKey(String(f['system'])), String(f['code']));
    const to = target(v['to'], line, 'to');
    const prev = codes.get(k);
    if (prev !== undefined) fail(line, `duplicate entry: this code is already mapped at line ${prev.line}`);
    if (k === key(to.system, to.code)) fail(line, 'circular entry: the code maps to itself');
    for (const extra of Object.keys(v)) if (!['from', 'to', 'unit'].includes(extra)) fail(line, `unknown key '${extra}' in a codes entry`);
    codes.set(k, { line, to, ...(v['unit'] !== undefined ? { unit: unit(v['unit'], line, 'unit') } : {}) });
  }
  // Cycles: follow each chain; a key seen twice on one walk closes a cycle.
  for (const [start, entry] of codes) {
    const seen = new Set([start]);
    let next: CodeEntry | undefined = entry;
    while (next !== undefined) {
      const k = key(next.to.system, next.to.code);
      if (seen.has(k)) fail(entry.line, `circular entry: following the mapping from this line comes back to ${[...seen].length === 1 ? 'it' : 'a code already on the path'}`);
      seen.add(k);
      next = codes.get(k);
    }
  }
  const units = new Map<string, string>();
  const unitLines = new Map<string, number>();
  for (const { line, value } of section('units')) {
    if (!isObj(value) || !str(value['from'])) return fail(line, "a units entry must be { from: <local spelling>, to: <UCUM unit> }");
    const from = value['from'];
    const prev = unitLines.get(from);
    if (prev !== undefined) fail(line, `duplicate entry: unit spelling already mapped at line ${prev}`);
    units.set(from, unit(value['to'], line, 'to'));
    unitLines.set(from, line);
  }
  const descriptions = new Map<string, StudyCode>();
  const descriptionLines = new Map<string, number>();
  for (const { line, value } of section('descriptions')) {
    if (!isObj(value) || !str(value['description'])) return fail(line, "a descriptions entry must be { description, to: { system, code } }");
    const d = normaliseDescription(value['description']);
    const prev = descriptionLines.get(d);
    if (prev !== undefined) fail(line, `duplicate entry: description already mapped at line ${prev}`);
    descriptions.set(d, target(value['to'], line, 'to'));
    descriptionLines.set(d, line);
  }
  return new CompiledMapping(file, codes, units, descriptions);
}

/** The URIs of a study code system (the first is the canonical one). */
export function systemUris(system: StudyCodeSystem): readonly string[] {
  return STUDY_CODE_SYSTEMS[system];
}
