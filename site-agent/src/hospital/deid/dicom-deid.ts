/**
 * De-identification of one DICOM instance under the Basic Application Level Confidentiality Profile
 * (PS3.15 Annex E) and the options chosen for the study. Pure: bytes in, bytes (or a refusal) out.
 *
 * - Every attribute in the profile table gets its action, at any depth of sequence nesting.
 * - Private attributes (odd groups), curves (50xx) and overlays (60xx) are removed; so are VR UN values of
 *   undefined length (sequences this reader cannot look inside).
 * - UIDs are replaced by the keyed hash of {@link PatientPseudonymizer.uid}, so the same original UID maps
 *   to the same new UID in every file of a run and across runs with the same site secret, and the file
 *   meta is rebuilt from the new SOP Instance UID.
 * - Patient ID becomes the patient's keyed pseudonym (the link to EMR records); Patient's Name is emptied.
 * - Images whose pixels may carry identifying text (Burned In Annotation YES, or absent on a modality or SOP
 *   class where burned-in text is common) or show recognizable features are quarantined unless the site's
 *   policy accepts them (`burned-in.ts`, docs/decisions/008-burned-in-annotation.md).
 */
import { burnedInVerdict, type BurnedInPolicy } from './burned-in.js';
import type { PatientPseudonymizer } from './pseudonym.js';
import { resolveBasicAction, type ConfidentialityProfile, type DeidOption, type ProfileAction, type ProfileRule } from './dicom-profile.js';
import { makeTextScrubber } from './text-scrub.js';
import {
  decodeText,
  encodeText,
  getString,
  isStringVr,
  isUtf8Dataset,
  textElement,
  type DicomDataset,
  type DicomElement,
} from '../dicom/dataset.js';
import { NATIVE_TRANSFER_SYNTAXES, Tags, TransferSyntax, formatTag, tag, type Tag } from '../dicom/dictionary.js';
import { parseDicom, type DroppedPrivate } from '../dicom/parse.js';
import { encodeDicomChunks } from '../dicom/writer.js';
import { TesseraError } from '../../../../shared/src/errors.js';

/** Why a file was quarantined or failed: a stable code and a message free of PHI. */
export interface DeidReason {
  readonly code:
    | 'unreadable'
    | 'dicomdir'
    | 'missing-uid'
    | 'invalid-image'
    | 'burned-in-annotation'
    | 'burned-in-annotation-unknown'
    | 'recognizable-visual-features'
    | 'duplicate-instance'
    | 'undecodable-pixels'
    | 'write-failed';
  readonly message: string;
}

/** Attributes touched, by action: action → `(GGGG,EEEE) Name` → how many elements (all depths). */
export type ChangeLog = Record<string, Record<string, number>>;

/** Outcome for one file. */
export type DicomDeidResult =
  | {
      readonly status: 'written';
      /** The de-identified Part 10 file as chunks (bulk values are views of the input buffer); see `concatChunks`. */
      readonly chunks: readonly Uint8Array[];
      /** Total length of `chunks`. */
      readonly byteLength: number;
      /** The new SOP Instance UID (also the file meta's Media Storage SOP Instance UID). */
      readonly sopInstanceUid: string;
      readonly transferSyntaxUid: string;
      /** Keyed pseudonym now in Patient ID. */
      readonly patientPseudonym: string;
      /** Days added to every date (negative), when the modified-dates option is on. */
      readonly dateShiftDays?: number;
      readonly changes: ChangeLog;
      /** Written although its pixels may carry burned-in text, because the site's policy accepts it: why. */
      readonly acceptedRisk?: DeidReason;
    }
  | { readonly status: 'quarantined' | 'failed'; readonly reasons: readonly DeidReason[] };

/** What {@link deidentifyDicom} needs: the compiled profile, the site's pseudonymizer and the study's options. */
export interface DicomDeidContext {
  readonly profile: ConfidentialityProfile;
  readonly pseudonymizer: PatientPseudonymizer;
  readonly options: ReadonlySet<DeidOption>;
  /** Cache of replaced UIDs, pseudonyms and shifts (one HMAC per distinct value); share it across the files of one run. */
  readonly uidCache?: Map<string, string>;
  /** What the site accepts of images that may carry burned-in text. @default quarantine all of them */
  readonly burnedIn?: BurnedInPolicy;
}

/** UI attributes that name a class or syntax, not an instance: kept. */
const CLASS_UID_TAGS: ReadonlySet<Tag> = new Set([
  Tags.SOPClassUID,
  tag(0x0008, 0x001a), // Related General SOP Class UID
  tag(0x0008, 0x001b), // Original Specialized SOP Class UID
  tag(0x0008, 0x0062), // SOP Classes in Study
  tag(0x0008, 0x010c), // Coding Scheme UID
  tag(0x0008, 0x0117), // Context UID
  tag(0x0008, 0x0118), // Mapping Resource UID
  tag(0x0008, 0x1150), // Referenced SOP Class UID
  tag(0x0008, 0x1152), // Referenced Related General SOP Class UID (retired)
  tag(0x0004, 0x1510), // Referenced SOP Class UID in File
  tag(0x0004, 0x1512), // Referenced Transfer Syntax UID in File
]);

const WELL_KNOWN_UID_ROOT = '1.2.840.10008.';
/** Maximum value lengths in characters (PS3.5 Table 6.2-1) of the text VRs descriptors use. */
const MAX_TEXT_LENGTH: Readonly<Record<string, number>> = { AE: 16, CS: 16, SH: 16, LO: 64, PN: 64, ST: 1024, LT: 10240 };
/** Longest text scrubbed (LT's 10240-character limit); longer descriptor text is emptied, never kept. */
const MAX_SCRUB_BYTES = 10240;
const PRIVATE_KEY = '(gggg,eeee) Private attributes (odd group)';
const ITEM_TAG_LE = [0xfe, 0xff, 0x00, 0xe0];

/** Guesses the VR of a profile attribute read from an implicit VR file, from its name. */
export function vrFromName(name: string): string {
  if (/DateTime$/i.test(name)) return 'DT';
  if (/Date$/i.test(name)) return 'DA';
  if (/Time$/i.test(name)) return 'TM';
  if (/UID( List)?$|^UID$/.test(name)) return 'UI';
  if (/Sequence$/.test(name)) return 'SQ';
  if (/Age$|AS Value$/.test(name)) return 'AS';
  return 'LO';
}

function dummyValue(vr: string): Uint8Array {
  switch (vr) {
    case 'DA':
      return encodeText('19000101');
    case 'TM':
      return encodeText('000000');
    case 'DT':
      return encodeText('19000101000000');
    case 'AS':
      return encodeText('000Y');
    case 'DS':
    case 'IS':
      return encodeText('0');
    case 'US':
    case 'SS':
    case 'OW':
    case 'OB':
    case 'UN':
      return new Uint8Array(2);
    case 'UL':
    case 'SL':
    case 'FL':
    case 'OF':
    case 'OL':
    case 'AT':
      return new Uint8Array(4);
    case 'FD':
    case 'OD':
    case 'SV':
    case 'UV':
    case 'OV':
      return new Uint8Array(8);
    default:
      return encodeText('ANONYMIZED');
  }
}

function formatDa(d: Date): string {
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Shifts one `YYYYMMDD` by `days`; `undefined` when it is not a full valid date. */
export function shiftDate(da: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da);
  if (m === null) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined;
  date.setUTCDate(date.getUTCDate() + days);
  return formatDa(date);
}

/** Shifts every date in a DA or DT value (multi-valued and ranges allowed); unparseable parts become empty. */
export function shiftDateValue(value: string, vr: 'DA' | 'DT', days: number): string {
  return value
    .split('\\')
    .map((v) =>
      v
        .trim()
        .split('-')
        .map((part) => {
          if (part === '') return '';
          if (vr === 'DA') return shiftDate(part, days) ?? '';
          // DT: shift the date, keep time and offset. Partial dates (YYYY, YYYYMM) cannot be shifted exactly.
          const shifted = shiftDate(part.slice(0, 8), days);
          return shifted === undefined ? '' : shifted + part.slice(8);
        })
        .join('-'),
    )
    .join('\\');
}

/** Ages of 90 years and more are reported as `090Y` (HIPAA Safe Harbor groups ages over 89). */
function capAge(as: string): string {
  const m = /^(\d{3})Y$/.exec(as.trim());
  return m !== null && Number(m[1]) >= 90 ? '090Y' : as;
}

class Run {
  /** Counts by action, then by attribute key (Maps: the keys are long strings, cheaper to hash than to intern as property names). */
  readonly #changes = new Map<string, Map<string, number>>();
  readonly utf8: boolean;
  #scrub: ((text: string) => string) | undefined;
  readonly #top: DicomDataset;

  constructor(
    readonly ctx: DicomDeidContext,
    readonly dateShiftDays: number,
    readonly uidCache: Map<string, string>,
    top: DicomDataset,
    /** Private elements the reader left out, by data set (logged where the walk would have met them). */
    readonly dropped: ReadonlyMap<DicomDataset, DroppedPrivate> | undefined,
  ) {
    this.utf8 = isUtf8Dataset(top);
    this.#top = top;
  }

  /** The instance's text scrubber, built on first use (its known identifiers come from the original header). */
  scrub(text: string): string {
    this.#scrub ??= makeTextScrubber(identifyingValues(this.#top, this.ctx.profile, this.utf8));
    return this.#scrub(text);
  }

  log(action: string, key: string, count = 1): void {
    let byAttr = this.#changes.get(action);
    if (byAttr === undefined) {
      byAttr = new Map();
      this.#changes.set(action, byAttr);
    }
    byAttr.set(key, (byAttr.get(key) ?? 0) + count);
  }

  /** The counts as a {@link ChangeLog} (actions and attributes in the order first met). */
  changes(): ChangeLog {
    const out: ChangeLog = {};
    for (const [action, byAttr] of this.#changes) {
      // A plain loop: Object.fromEntries goes through the generic iterator protocol per entry.
      const counts: Record<string, number> = {};
      for (const [key, n] of byAttr) counts[key] = n;
      out[action] = counts;
    }
    return out;
  }

  uid(original: string): string {
    let out = this.uidCache.get(original);
    if (out === undefined) {
      out = this.ctx.pseudonymizer.uid(original);
      this.uidCache.set(original, out);
    }
    return out;
  }

  replaceUids(el: DicomElement): void {
    const v = el.value;
    if (v === undefined || v.length === 0) return;
    const text = decodeText(v);
    if (isPlainUid(text)) {
      // One UID without padding inside (the usual case): the split, trim and join below would give it back.
      el.value = encodeText(this.uid(text));
      return;
    }
    el.value = encodeText(
      text
        .split('\\')
        .map((u) => u.replaceAll('\0', '').trim())
        .map((u) => (u === '' ? '' : this.uid(u)))
        .join('\\'),
    );
  }

  dataset(ds: DicomDataset, depth: number): void {
    let dropped = this.dropped?.get(ds);
    let index = 0;
    for (const el of ds.values()) {
      const t = el.tag;
      // Private elements the reader left out are logged where the walk would have met the first of them.
      if (dropped !== undefined && dropped.at === index++) {
        this.log('X', PRIVATE_KEY, dropped.count);
        dropped = undefined;
      }
      const group = t >>> 16;
      if ((group & 1) === 1) {
        ds.delete(t);
        this.log('X', PRIVATE_KEY);
        continue;
      }
      if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) {
        ds.delete(t);
        this.log('X', group >= 0x6000 ? '(60xx,xxxx) Overlay attributes' : '(50xx,xxxx) Curve attributes');
        continue;
      }
      const rule = this.ctx.profile.rules.get(t);
      if (rule !== undefined) {
        this.applyRule(ds, el, rule, depth);
        continue;
      }
      if (el.items !== undefined) {
        for (const item of el.items) this.dataset(item, depth + 1);
      } else if (el.undefinedLength === true || (el.vr === 'UN' && startsWithItem(el.value))) {
        ds.delete(t);
        this.log('X', `${formatTag(t)} VR UN sequence (contents unreadable)`);
      } else if (el.vr === 'UI' && !CLASS_UID_TAGS.has(t) && group !== 0x0002) {
        const text = el.value === undefined ? '' : decodeText(el.value);
        if (text !== '' && !text.startsWith(WELL_KNOWN_UID_ROOT)) {
          this.replaceUids(el);
          this.log('U', `${formatTag(t)} (UI not in the profile)`);
        }
      }
    }
    if (dropped !== undefined) this.log('X', PRIVATE_KEY, dropped.count);
  }

  optionAction(rule: ProfileRule): { action: 'K' | 'C'; option: DeidOption } | undefined {
    if (this.ctx.options.size === 0) return undefined;
    for (const option of ['retain-patient-characteristics', 'retain-longitudinal-modified-dates', 'clean-descriptors'] as const) {
      const a = rule.options[option];
      if (a !== undefined && this.ctx.options.has(option)) return { action: a, option };
    }
    return undefined;
  }

  applyRule(ds: DicomDataset, el: DicomElement, rule: ProfileRule, depth: number): void {
    const key = rule.key;
    const byOption = this.optionAction(rule);
    const action: ProfileAction = byOption?.action ?? resolveBasicAction(rule.basic);
    const vr = el.vr !== undefined && el.vr !== 'UN' ? el.vr : vrFromName(rule.name);
    this.log(action, key);
    if (action === 'X') {
      ds.delete(rule.tag);
      return;
    }
    if (el.items !== undefined) {
      // D on a sequence is a dummy sequence: it is emptied like Z. Recursing instead would keep content the
      // table does not list, e.g. the free text of an SR Content Sequence (Text Value is not in Table E.1-1).
      if (action === 'Z' || action === 'D') el.items = [];
      else for (const item of el.items) this.dataset(item, depth + 1);
      return;
    }
    if (el.encapsulated !== undefined || el.undefinedLength === true) {
      // Only Pixel Data is encapsulated and it is not in the profile; anything else unreadable is emptied.
      delete el.encapsulated;
      delete el.undefinedLength;
      el.value = new Uint8Array(0);
      return;
    }
    switch (action) {
      case 'Z':
        el.value = new Uint8Array(0);
        return;
      case 'D':
        el.value = vr === 'UI' ? encodeText(this.uid(decodeText(el.value ?? new Uint8Array(0)) || rule.name)) : dummyValue(vr);
        return;
      case 'U':
        this.replaceUids(el);
        return;
      case 'K':
        // Kept, except ages of 90 and over, grouped as HIPAA Safe Harbor requires.
        if (vr === 'AS' && el.value !== undefined) el.value = encodeText(capAge(decodeText(el.value)));
        return;
      case 'C':
        this.clean(el, vr, byOption?.option);
        return;
    }
  }

  clean(el: DicomElement, vr: string, option: DeidOption | undefined): void {
    const v = el.value;
    if (v === undefined || v.length === 0) return;
    if (option === 'retain-longitudinal-modified-dates') {
      if (vr === 'DA' || vr === 'DT') el.value = encodeText(shiftDateValue(decodeText(v), vr, this.dateShiftDays));
      return; // TM and numeric timestamps are kept: the shift is a whole number of days.
    }
    if (vr === 'AS') {
      el.value = encodeText(capAge(decodeText(v)));
      return;
    }
    if (isStringVr(vr) && v.length <= MAX_SCRUB_BYTES) {
      // Replacements can be longer than what they replace: keep within the VR's maximum length.
      const max = MAX_TEXT_LENGTH[vr];
      const text = this.scrub(decodeText(v, this.utf8));
      el.value = encodeText(max === undefined ? text : text.slice(0, max), this.utf8);
      return;
    }
    if (isStringVr(vr)) el.value = new Uint8Array(0); // text too long to scrub: emptied, never kept.
  }
}

/**
 * Whether `text` is one value the multi-value path would give back unchanged: no `\\`, no NUL, and
 * printable ASCII at both ends (so `trim` removes nothing; it also removes non-ASCII spaces such as U+00A0).
 */
function isPlainUid(text: string): boolean {
  if (text === '' || text.includes('\\') || text.includes('\0')) return false;
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f;
}

function startsWithItem(v: Uint8Array | undefined): boolean {
  return v !== undefined && v.length >= 4 && ITEM_TAG_LE.every((b, i) => v[i] === b);
}

/** Identifying text values of the top-level header (names, IDs, addresses, institution, birth date). */
function identifyingValues(ds: DicomDataset, profile: ConfidentialityProfile, utf8: boolean): string[] {
  const out: string[] = [];
  for (const [t, el] of ds) {
    const rule = profile.rules.get(t);
    if (rule === undefined || el.value === undefined || rule.options['clean-descriptors'] !== undefined) continue;
    const vr = el.vr !== undefined && el.vr !== 'UN' ? el.vr : vrFromName(rule.name);
    if (!isStringVr(vr) || vr === 'UI' || vr === 'TM' || vr === 'DT' || vr === 'CS' || vr === 'AS' || vr === 'DS' || vr === 'IS') continue;
    out.push(decodeText(el.value, utf8));
  }
  return out;
}

/** Checks the image pixel description is consistent enough to train on; returns why not, or `undefined`. */
export function invalidImageReason(ds: DicomDataset, transferSyntaxUid: string): string | undefined {
  const pixels = ds.get(Tags.PixelData);
  if (pixels === undefined) return undefined;
  const rows = ds.get(Tags.Rows)?.value;
  const cols = ds.get(Tags.Columns)?.value;
  const bits = ds.get(Tags.BitsAllocated)?.value;
  if (rows === undefined || cols === undefined || bits === undefined || rows.length < 2 || cols.length < 2 || bits.length < 2) {
    return 'Pixel Data without Rows, Columns or Bits Allocated';
  }
  const r = (rows[0] as number) | ((rows[1] as number) << 8);
  const c = (cols[0] as number) | ((cols[1] as number) << 8);
  const b = (bits[0] as number) | ((bits[1] as number) << 8);
  if (r === 0 || c === 0 || ![1, 8, 16, 32, 64].includes(b)) return `Rows ${r}, Columns ${c}, Bits Allocated ${b} do not describe an image`;
  const framesText = getString(ds, Tags.NumberOfFrames);
  if (framesText !== undefined && framesText !== '' && !/^\d+$/.test(framesText)) return 'Number of Frames (0028,0008) is not an integer';
  const frames = framesText === undefined || framesText === '' ? 1 : Number(framesText);
  if (frames < 1) return 'Number of Frames (0028,0008) is 0';
  const spp = ds.get(Tags.SamplesPerPixel)?.value;
  const samples = spp === undefined || spp.length < 2 ? 1 : (spp[0] as number) | ((spp[1] as number) << 8);
  if (NATIVE_TRANSFER_SYNTAXES.has(transferSyntaxUid)) {
    const expected = Math.ceil((r * c * frames * samples * b) / 8);
    const got = pixels.value?.length ?? 0;
    if (got < expected) return `native Pixel Data holds ${got} bytes, ${expected} expected for ${frames} frame(s) of ${r}×${c}×${samples} at ${b} bits`;
  } else if (pixels.encapsulated === undefined || pixels.encapsulated.fragments.length === 0) {
    return 'compressed transfer syntax without encapsulated pixel data fragments';
  }
  return undefined;
}

/** `cache.get(key)`, computing and storing it on a miss (keys of different kinds are prefixed; UIDs hold no NUL). */
function cached(cache: Map<string, string> | undefined, key: string, make: () => string): string {
  let v = cache?.get(key);
  if (v === undefined) {
    v = make();
    cache?.set(key, v);
  }
  return v;
}

/** Transfer syntax of the written file: native inputs become explicit VR little endian, except implicit stays implicit. */
export function outputTransferSyntax(input: string): string {
  if (input === TransferSyntax.ImplicitVRLittleEndian) return input;
  if (NATIVE_TRANSFER_SYNTAXES.has(input)) return TransferSyntax.ExplicitVRLittleEndian;
  return input;
}

/** The key that identifies the patient for pseudonym and date shift: Patient ID, else Patient's Name, else the study. */
export function patientKey(ds: DicomDataset): string {
  for (const t of [Tags.PatientID, Tags.PatientName, Tags.StudyInstanceUID, Tags.SOPInstanceUID]) {
    const v = getString(ds, t);
    if (v !== undefined && v !== '') return v;
  }
  return 'unknown-patient';
}

const METHOD_CODES: ReadonlyArray<readonly [string, string, DeidOption | undefined]> = [
  ['113100', 'Basic Application Confidentiality Profile', undefined],
  ['113107', 'Retain Longitudinal Temporal Information Modified Dates Option', 'retain-longitudinal-modified-dates'],
  ['113108', 'Retain Patient Characteristics Option', 'retain-patient-characteristics'],
  ['113105', 'Clean Descriptors Option', 'clean-descriptors'],
];

function markDeidentified(ds: DicomDataset, options: ReadonlySet<DeidOption>): void {
  const codes = METHOD_CODES.filter(([, , option]) => option === undefined || options.has(option));
  ds.set(Tags.PatientIdentityRemoved, textElement(Tags.PatientIdentityRemoved, 'CS', 'YES'));
  ds.set(Tags.DeidentificationMethod, textElement(Tags.DeidentificationMethod, 'LO', 'Tessera: PS3.15 E.1 Basic Profile'));
  ds.set(Tags.DeidentificationMethodCodeSequence, {
    tag: Tags.DeidentificationMethodCodeSequence,
    vr: 'SQ',
    items: codes.map(([value, meaning]) => {
      const item: DicomDataset = new Map();
      item.set(tag(0x0008, 0x0100), textElement(tag(0x0008, 0x0100), 'SH', value));
      item.set(tag(0x0008, 0x0102), textElement(tag(0x0008, 0x0102), 'SH', 'DCM'));
      item.set(tag(0x0008, 0x0104), textElement(tag(0x0008, 0x0104), 'LO', meaning));
      return item;
    }),
  });
  ds.set(
    Tags.LongitudinalTemporalInformationModified,
    textElement(Tags.LongitudinalTemporalInformationModified, 'CS', options.has('retain-longitudinal-modified-dates') ? 'MODIFIED' : 'REMOVED'),
  );
}

/**
 * De-identifies one Part 10 file. Never throws for bad input: unreadable, DICOMDIR, inconsistent or
 * burned-in files come back as `failed` or `quarantined` with reasons; `source` names the file in them.
 */
export function deidentifyDicom(bytes: Uint8Array, source: string, ctx: DicomDeidContext): DicomDeidResult {
  let parsed;
  try {
    // Private elements are removed below anyway: the reader leaves them out and counts them.
    parsed = parseDicom(bytes, source, { dropPrivate: true });
  } catch (err) {
    const message = err instanceof TesseraError ? err.message : `${source}: unreadable`;
    return { status: 'failed', reasons: [{ code: 'unreadable', message }] };
  }
  const ds = parsed.dataset;
  if (parsed.isDicomdir || ds.has(Tags.DirectoryRecordSequence)) {
    const records = ds.get(Tags.DirectoryRecordSequence)?.items?.length ?? 0;
    return {
      status: 'failed',
      reasons: [
        {
          code: 'dicomdir',
          message: `DICOMDIR (media storage directory, ${records} records) is an index of other files, not an image instance: not copied into the cache; the files it lists are ingested on their own`,
        },
      ],
    };
  }
  if ((getString(ds, Tags.SOPInstanceUID) ?? '') === '' || (getString(ds, Tags.SOPClassUID) ?? '') === '') {
    return { status: 'failed', reasons: [{ code: 'missing-uid', message: 'SOP Class UID or SOP Instance UID (0008,0016/0018) is missing' }] };
  }
  const invalid = invalidImageReason(ds, parsed.transferSyntaxUid);
  if (invalid !== undefined) return { status: 'failed', reasons: [{ code: 'invalid-image', message: invalid }] };
  const burned = burnedInVerdict(ds, ctx.burnedIn);
  if (burned.status === 'quarantine') return { status: 'quarantined', reasons: [{ code: burned.risk.code, message: burned.risk.message }] };

  const key = patientKey(ds);
  const cache = ctx.uidCache;
  const pseudonym = cached(cache, `pseudonym\0${key}`, () => ctx.pseudonymizer.pseudonym(key));
  const shift = Number(cached(cache, `shift\0${key}`, () => String(ctx.pseudonymizer.dateShiftDays(key))));
  const run = new Run(ctx, shift, ctx.uidCache ?? new Map<string, string>(), ds, parsed.droppedPrivate);
  run.dataset(ds, 0);
  // Patient ID carries the keyed pseudonym (a dummy value under Z/D) so imaging links to EMR records.
  ds.set(Tags.PatientID, textElement(Tags.PatientID, 'LO', pseudonym));
  if (!ds.has(Tags.PatientName)) ds.set(Tags.PatientName, textElement(Tags.PatientName, 'PN', ''));
  markDeidentified(ds, ctx.options);
  const transferSyntaxUid = outputTransferSyntax(parsed.transferSyntaxUid);
  const chunks = encodeDicomChunks(ds, { transferSyntaxUid });
  const result: DicomDeidResult = {
    status: 'written',
    chunks,
    byteLength: chunks.reduce((n, c) => n + c.length, 0),
    sopInstanceUid: getString(ds, Tags.SOPInstanceUID) ?? '',
    transferSyntaxUid,
    patientPseudonym: pseudonym,
    changes: run.changes(),
    ...(ctx.options.has('retain-longitudinal-modified-dates') ? { dateShiftDays: shift } : {}),
    ...(burned.status === 'accepted' ? { acceptedRisk: { code: burned.risk.code, message: `${burned.risk.message}; accepted by the site's burnedInAnnotation policy` } } : {}),
  };
  return result;
}
