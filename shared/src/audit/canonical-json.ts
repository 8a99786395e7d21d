import { AuditError } from '../errors.js';

/** A JSON value as the ledger stores it: no `undefined`, no functions, only finite numbers. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The byte string that is hashed and signed: JSON with object keys sorted (by UTF-16 code units, as RFC 8785
 * does) at every level, no whitespace, numbers as ECMAScript prints them. Arrays keep their order.
 *
 * Unlike `JSON.stringify` it refuses what would not survive a round trip unchanged — NaN and ±Infinity (which
 * `JSON.stringify` silently turns into `null`), `undefined` inside arrays, functions, bigints — so the hash of
 * a parsed entry is always the hash of the entry that was written. Object keys whose value is `undefined` are
 * dropped, as `JSON.stringify` does. Throws AuditError `TESSERA_AUDIT_ENTRY_INVALID` naming the path.
 */
export function canonicalJson(value: unknown, where = '$'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw invalid(where, 'is not a finite number');
      // -0 and 0 must hash alike: JSON has no negative zero.
      return JSON.stringify(Object.is(value, -0) ? 0 : value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${where}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw invalid(where, 'is not a plain object');
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, `${where}.${k}`)}`).join(',')}}`;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      throw invalid(where, `has type ${typeof value}, which JSON cannot carry`);
  }
  // Unreachable: the switch covers every `typeof` result.
  throw invalid(where, 'has an unknown type');
}

function invalid(where: string, what: string): AuditError {
  return new AuditError('TESSERA_AUDIT_ENTRY_INVALID', `${where} ${what}`, { path: where });
}
