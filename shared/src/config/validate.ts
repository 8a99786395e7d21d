import type { Static, TSchema } from '@sinclair/typebox';
import { type ValueError, Value, ValueErrorType } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../errors.js';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/** How many schema problems one error message lists before "and N more". */
const MAX_PROBLEMS_REPORTED = 5;

/**
 * Validates `input` against `schema` after filling defaults; throws one {@link ConfigError} that names
 * the source and the JSON path of each problem (up to five), e.g. `study.yaml: /rounds: expected integer`,
 * `agent.yaml: unknown key 'foo' at /policy`, `/strategy must be one of 'fedavg', …`. Unknown keys fail
 * because Tessera's schemas set `additionalProperties: false`. `crossCheck` runs on the valid value for
 * rules a schema cannot state (unique ids, references); it throws its own ConfigError.
 */
export function validateConfig<S extends TSchema>(
  schema: S,
  input: unknown,
  source: string,
  crossCheck?: (value: Static<S>, source: string) => void,
): Readonly<Static<S>> {
  const value: unknown = Value.Default(schema, Value.Clone(input));
  if (!Value.Check(schema, value)) {
    const problems = [...Value.Errors(schema, value)];
    const shown = problems.slice(0, MAX_PROBLEMS_REPORTED).map(describeProblem);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
    throw new ConfigError(`${source}: ${shown.join('; ')}${more}`, { source, path: problems[0]?.path || '/' });
  }
  crossCheck?.(value, source);
  return deepFreeze(value);
}

/** One schema problem in words, with its JSON path. Matches on the error type, never on TypeBox's wording. */
function describeProblem(error: ValueError): string {
  const path = error.path === '' ? '/' : error.path;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const cut = path.lastIndexOf('/');
    return `unknown key '${path.slice(cut + 1)}' at ${cut <= 0 ? '/' : path.slice(0, cut)}`;
  }
  if (error.type === ValueErrorType.ObjectRequiredProperty) return `${path} is required`;
  if (error.type === ValueErrorType.Union) {
    const allowed = literalsOf(error.schema);
    if (allowed.length > 0) return `${path} must be one of ${allowed.map((v) => `'${v}'`).join(', ')}`;
    // Objects told apart by a `kind` or `type` literal: the problem of the member the value names.
    const named = memberNamedBy(error);
    if (named !== undefined) return describeProblem(named);
  }
  return `${path}: ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}`;
}

/** For a union of objects with a `kind`/`type` literal, the first error of the member the value's tag selects. */
function memberNamedBy(error: ValueError): ValueError | undefined {
  const value = error.value as Record<string, unknown> | null | undefined;
  if (value === null || typeof value !== 'object') return undefined;
  const members = (error.schema as { anyOf?: { properties?: Record<string, { const?: unknown }> }[] }).anyOf ?? [];
  for (const [i, member] of members.entries()) {
    for (const key of ['kind', 'type']) {
      const tag = member.properties?.[key]?.const;
      if (tag !== undefined && value[key] === tag) return error.errors[i]?.First();
    }
  }
  return undefined;
}

function literalsOf(schema: TSchema): string[] {
  const members = (schema as { anyOf?: { const?: unknown }[] }).anyOf ?? [];
  return members.map((m) => m.const).filter((c): c is string => typeof c === 'string');
}

/** Parses YAML or JSON text (JSON is YAML), then {@link validateConfig}. */
export function parseConfigText<S extends TSchema>(
  schema: S,
  text: string,
  source: string,
  crossCheck?: (value: Static<S>, source: string) => void,
): Readonly<Static<S>> {
  let raw: unknown;
  try {
    raw = parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML/JSON: ${errorMessage(err).split('\n')[0] ?? ''}`, { source }, {
      cause: err,
    });
  }
  return validateConfig(schema, raw ?? {}, source, crossCheck);
}
