/**
 * HIPAA Safe Harbor geography (45 CFR 164.514(b)(2)(i)(B)): a ZIP code may keep its first three digits
 * only when the area formed by all ZIP codes with those digits holds more than 20,000 people; otherwise
 * the three digits become `000`. The 17 restricted prefixes below are the ones HHS lists from the 2000
 * Census (OCR "Guidance Regarding Methods for De-identification of PHI", 2012, §2.4), the figures HHS
 * still points to.
 */

/** ZIP3 prefixes whose areas held 20,000 people or fewer (2000 Census). */
export const RESTRICTED_ZIP3: ReadonlySet<string> = new Set([
  '036', '059', '063', '102', '203', '556', '692', '790', '821', '823', '830', '831', '878', '879', '884', '890', '893',
]);

/**
 * Generalises a postal code to its Safe Harbor ZIP3: `'93291'` → `'932'`, `'03601-1234'` → `'000'`.
 * Returns undefined for a code that is not a US ZIP (5 digits, optionally +4): such a code is removed.
 */
export function safeHarborZip3(postalCode: string): string | undefined {
  const m = /^\s*(\d{3})\d{2}(?:-?\d{4})?\s*$/.exec(postalCode);
  if (m?.[1] === undefined) return undefined;
  return RESTRICTED_ZIP3.has(m[1]) ? '000' : m[1];
}
