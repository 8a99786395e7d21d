/**
 * The DICOM Basic Application Level Confidentiality Profile (PS3.15 Annex E, Table E.1-1), compiled
 * from the table's JSON form (one object per row: `tag`, `name`, `basicProfile` and one column per
 * option, e.g. `rtnLongModifDatesOpt: "C"`) into a lookup from tag number to the action that applies
 * under the options chosen for a study.
 *
 * The table ships inside the product (`ps3.15-table-e1-1.json` beside this file; its provenance is in
 * `PS3.15-PROVENANCE.md`): nothing a site runs reads the developers' data folder. A site may still
 * point `tessera deid --profile FILE` at a newer edition of the table in the same JSON form.
 */
import { readFileSync } from 'node:fs';

import { ConfigError } from '../../../../shared/src/errors.js';
import { formatTag, tag, type Tag } from '../dicom/dictionary.js';
import embeddedTable from './ps3.15-table-e1-1.json' with { type: 'json' };

/**
 * Profile actions (PS3.15 Table E.1-1 legend): D dummy value, Z zero length (or dummy), X remove,
 * K keep, C clean (dates shifted, text scrubbed), U replace UID consistently. Combinations (`X/Z`,
 * `X/D`, `X/Z/D`, `Z/D`, `X/Z/U*`) are resolved by {@link resolveBasicAction}.
 */
export type ProfileAction = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U';

/** Per-study options (PS3.15 §E.3), as spelled on the `tessera deid --options` command line. */
export const DeidOption = {
  /** Retain Longitudinal Temporal Information with Modified Dates Option (§E.3.6): dates shifted per patient. */
  RetainLongitudinalModifiedDates: 'retain-longitudinal-modified-dates',
  /** Retain Patient Characteristics Option (§E.3.4): sex, age, size, weight, … kept. */
  RetainPatientCharacteristics: 'retain-patient-characteristics',
  /** Clean Descriptors Option (§E.3.5): free-text descriptions scrubbed instead of removed. */
  CleanDescriptors: 'clean-descriptors',
} as const;
export type DeidOption = (typeof DeidOption)[keyof typeof DeidOption];

/** All option names. */
export const DEID_OPTIONS: readonly DeidOption[] = Object.values(DeidOption);

/** JSON column of each option. */
const OPTION_COLUMN: Readonly<Record<DeidOption, string>> = {
  'retain-longitudinal-modified-dates': 'rtnLongModifDatesOpt',
  'retain-patient-characteristics': 'rtnPatCharsOpt',
  'clean-descriptors': 'cleanDescOpt',
};

/** One compiled row. */
export interface ProfileRule {
  readonly tag: Tag;
  /** Attribute name from the table (notes stripped). */
  readonly name: string;
  /** `(GGGG,EEEE) Name`, the key of this attribute in reports. */
  readonly key: string;
  /** The Basic Profile action as written in the table (`X/Z/D`, …). */
  readonly basic: string;
  /** Option actions by option name (only options whose column is filled for this row). */
  readonly options: Readonly<Partial<Record<DeidOption, 'K' | 'C'>>>;
}

/** The compiled profile. */
export interface ConfidentialityProfile {
  /** Rules by exact tag. */
  readonly rules: ReadonlyMap<Tag, ProfileRule>;
  /** Number of rows read from the table (including the pattern rows for curves, overlays and private tags). */
  readonly rowCount: number;
}

/** Where the embedded table came from, as named in errors and reports. */
export const EMBEDDED_PROFILE_SOURCE = 'embedded PS3.15 Table E.1-1 (ps3.15-table-e1-1.json)';

const BASIC_ACTIONS = new Set(['D', 'Z', 'X', 'K', 'C', 'U', 'X/Z', 'X/D', 'X/Z/D', 'Z/D', 'X/Z/U*', 'X/Z/U']);
/** Pattern rows the code handles by rule instead of by exact tag (curves, overlays, private groups). */
const PATTERN_TAGS = new Set(['(50XX,XXXX)', '(60XX,4000)', '(60XX,3000)', '(GGGG,EEEE) WHERE GGGG IS ODD']);

/**
 * Compiles the profile table: the embedded one, or `file` (a table in the same JSON form). Throws
 * {@link ConfigError} naming the file and row for a malformed row (unknown action, bad tag) or an
 * unreadable file.
 */
export function loadConfidentialityProfile(file?: string): ConfidentialityProfile {
  if (file === undefined) return compileProfile(embeddedTable, EMBEDDED_PROFILE_SOURCE);
  let rows: unknown;
  try {
    rows = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the confidentiality profile table ${file}`, { file }, { cause: err });
  }
  return compileProfile(rows, file);
}

function compileProfile(rows: unknown, file: string): ConfidentialityProfile {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new ConfigError(`confidentiality profile ${file} must be a non-empty JSON array of rows`, { file });
  }
  const rules = new Map<Tag, ProfileRule>();
  rows.forEach((row: unknown, index) => {
    const where = `${file} row ${index}`;
    if (typeof row !== 'object' || row === null) throw new ConfigError(`${where}: not an object`, { file, row: index });
    const r = row as Record<string, unknown>;
    const tagText = typeof r['tag'] === 'string' ? r['tag'].trim() : '';
    const basic = typeof r['basicProfile'] === 'string' ? r['basicProfile'].trim() : '';
    const name = typeof r['name'] === 'string' ? r['name'].split('\n')[0]!.trim() : '';
    if (!BASIC_ACTIONS.has(basic)) throw new ConfigError(`${where}: unknown basicProfile action '${basic}'`, { file, row: index });
    if (PATTERN_TAGS.has(tagText)) return;
    const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(tagText);
    if (m === null) throw new ConfigError(`${where}: tag '${tagText}' is not (GGGG,EEEE)`, { file, row: index });
    const options: Partial<Record<DeidOption, 'K' | 'C'>> = {};
    for (const option of DEID_OPTIONS) {
      const v = r[OPTION_COLUMN[option]];
      if (v === 'K' || v === 'C') options[option] = v;
    }
    const t = tag(Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16));
    rules.set(t, { tag: t, name, key: `${formatTag(t)} ${name}`, basic, options });
  });
  return { rules, rowCount: rows.length };
}

/**
 * The single action Tessera applies for a Basic Profile entry. Where the table allows a choice, the
 * choice always removes the original value and keeps the file a valid instance of its IOD:
 * `X/Z`, `X/Z/D`, `Z/D` → Z (empty, valid for Type 2); `X/D` → D (a dummy, valid for Type 1);
 * `X/Z/U*` → U (the sequence is kept and every UID inside it is replaced).
 */
export function resolveBasicAction(basic: string): ProfileAction {
  switch (basic) {
    case 'X/Z':
    case 'X/Z/D':
    case 'Z/D':
      return 'Z';
    case 'X/D':
      return 'D';
    case 'X/Z/U*':
    case 'X/Z/U':
      return 'U';
    default:
      return basic as ProfileAction;
  }
}
