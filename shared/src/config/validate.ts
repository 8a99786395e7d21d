import type { Static, TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../errors.js';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates `input` against `schema` after filling defaults; throws one {@link ConfigError} that names
 * the source and the JSON path of each problem (up to five), e.g. `study.yaml: /rounds must be >= 1`.
 * Unknown keys fail because Tessera's schemas set `additionalProperties: false`.
 */
export function validateConfig<S extends TSchema>(schema: S, input: unknown, source: string): Readonly<Static<S>> {
  const value: unknown = Value.Default(schema, Value.Clone(input));
  if (Value.Check(schema, value)) return deepFreeze(value);
  const problems: string[] = [];
  for (const error of Value.Errors(schema, value)) {
    const where = error.path === '' ? '/' : error.path;
    // Match on the error type, not its wording: TypeBox 0.34 says "Unexpected property", so the old test
    // for 'additional' in the message never matched and unknown keys read "/x unexpected property".
    const message =
      error.type === ValueErrorType.ObjectAdditionalProperties ? 'has an unknown key' : error.message.toLowerCase();
    problems.push(`${where} ${message}`);
    if (problems.length >= 5) break;
  }
  throw new ConfigError(`${source}: ${problems.join('; ')}`, { source });
}

/** Parses YAML or JSON text (JSON is YAML), then {@link validateConfig}. */
export function parseConfigText<S extends TSchema>(schema: S, text: string, source: string): Readonly<Static<S>> {
  let raw: unknown;
  try {
    raw = parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML/JSON: ${errorMessage(err).split('\n')[0] ?? ''}`, { source }, {
      cause: err,
    });
  }
  return validateConfig(schema, raw ?? {}, source);
}
