/**
 * UCUM units through NLM's `@lhncbc/ucum-lhc` (validation and conversion, including mass ↔ substance
 * amount with a molecular weight). The package ships no type declarations: this is its one typed door.
 */
import { createRequire } from 'node:module';

interface UcumUtils {
  validateUnitString(unit: string): { status: 'valid' | 'invalid' | 'error'; msg?: string[] };
  convertUnitTo(from: string, value: number, to: string, options?: { molecularWeight?: number }): { status: 'succeeded' | 'failed' | 'error'; toVal?: number; msg?: string[] };
}

const require = createRequire(import.meta.url);
let utils: UcumUtils | undefined;
function ucum(): UcumUtils {
  utils ??= (require('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } }).UcumLhcUtils.getInstance();
  return utils;
}

const valid = new Map<string, boolean>();

/** Whether `unit` is a valid UCUM (case-sensitive) unit expression. */
export function isUcumUnit(unit: string): boolean {
  let ok = valid.get(unit);
  if (ok === undefined) {
    ok = ucum().validateUnitString(unit).status === 'valid';
    valid.set(unit, ok);
  }
  return ok;
}

/** `value` in `from` expressed in `to`, or undefined when the units do not convert (different dimensions, no molecular weight). */
export function convertUnit(value: number, from: string, to: string, molecularWeight?: number): number | undefined {
  if (from === to) return value;
  const r = ucum().convertUnitTo(from, value, to, molecularWeight !== undefined ? { molecularWeight } : {});
  return r.status === 'succeeded' && typeof r.toVal === 'number' && Number.isFinite(r.toVal) ? r.toVal : undefined;
}
