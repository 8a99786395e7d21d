/**
 * Date handling for de-identification: a FHIR/ISO date or date-time moved by a whole number of days,
 * keeping its precision, its time of day and its UTC offset (so intervals within a patient's record are
 * preserved exactly), or cut to its year (strict Safe Harbor).
 *
 * The shift is the patient's `PatientPseudonymizer.dateShiftDays`, the same number of days the DICOM
 * path applies to that patient's study dates.
 */

const DATE_PREFIX = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(.*)$/s;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * Moves an ISO 8601 / FHIR date, dateTime or instant by `days` (negative: into the past).
 * `2021-08-22T20:26:50-07:00` shifted by -10 is `2021-08-12T20:26:50-07:00`; `2021-08` shifted by -40
 * is `2021-06` (a partial date moves as its first day and keeps its precision).
 * Returns undefined when the text is not such a date.
 */
export function shiftIsoDate(value: string, days: number): string | undefined {
  const m = DATE_PREFIX.exec(value);
  if (m === null) return undefined;
  const [, ys, ms, ds, rest] = m;
  const y = Number(ys);
  const mo = ms === undefined ? 1 : Number(ms);
  const d = ds === undefined ? 1 : Number(ds);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  if (rest !== undefined && rest !== '' && !rest.startsWith('T')) return undefined;
  const t = new Date(Date.UTC(y, mo - 1, d + days));
  // Date.UTC maps years 0-99 to 1900-1999; FHIR years are four digits, so set the year explicitly.
  if (y < 100) t.setUTCFullYear(t.getUTCFullYear() - 1900);
  const out = pad(t.getUTCFullYear(), 4);
  if (ms === undefined) return out;
  if (ds === undefined) return `${out}-${pad(t.getUTCMonth() + 1, 2)}`;
  return `${out}-${pad(t.getUTCMonth() + 1, 2)}-${pad(t.getUTCDate(), 2)}${rest ?? ''}`;
}

/** The year of an ISO date (`'2021-08-22T…'` → `'2021'`), or undefined. */
export function isoYear(value: string): string | undefined {
  const m = DATE_PREFIX.exec(value);
  return m?.[1];
}

/** Shifts a DICOM DA value (`YYYYMMDD`) by `days`; undefined when it is not one. */
export function shiftDicomDate(value: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(value.trim());
  if (m === null) return undefined;
  const iso = shiftIsoDate(`${m[1]}-${m[2]}-${m[3]}`, days);
  return iso?.replaceAll('-', '');
}

/**
 * Whole years between a birth date and a reference date (both ISO; a partial birth date counts from its
 * earliest possible day, so the age is never understated). undefined if either is not a date.
 */
export function ageInYears(birthDate: string, at: string): number | undefined {
  const b = DATE_PREFIX.exec(birthDate);
  const a = DATE_PREFIX.exec(at);
  if (b === null || a === null) return undefined;
  const by = Number(b[1]);
  const bm = b[2] === undefined ? 1 : Number(b[2]);
  const bd = b[3] === undefined ? 1 : Number(b[3]);
  const ay = Number(a[1]);
  const am = a[2] === undefined ? 12 : Number(a[2]);
  const ad = a[3] === undefined ? 31 : Number(a[3]);
  let age = ay - by;
  if (am < bm || (am === bm && ad < bd)) age--;
  return age;
}
