import { InputError } from '../../../shared/src/errors.js';
// weights.js directly, not the ml barrel: the barrel loads TF.js, which the coordinator never needs.
import { assertFinite } from '../../../shared/src/ml/weights.js';
import type { ClientUpdate } from './strategy.js';

/**
 * Checks one update against the current global model.
 * @throws InputError `TESSERA_INPUT_WEIGHTS_SHAPE` (wrong length), `TESSERA_INPUT_WEIGHTS_NONFINITE`
 * (NaN/±Infinity, index only) or `TESSERA_INPUT_NUM_EXAMPLES` (not a positive integer); context has `siteId`.
 */
export function validateUpdate(global: Float32Array, update: ClientUpdate): void {
  const siteId = update.siteId;
  checkHeader(global, update);
  try {
    assertFinite(update.weights, `update from site '${siteId}'`);
  } catch (err) {
    if (err instanceof InputError) {
      throw new InputError('TESSERA_INPUT_WEIGHTS_NONFINITE', err.message, { ...err.context, siteId }, { cause: err });
    }
    throw err;
  }
}

/** An update that failed validation, and why. */
export interface RejectedUpdate {
  siteId: string;
  error: InputError;
}

/**
 * Splits updates into valid ones and rejected ones (with their `InputError`), so the round workflow
 * can record rejected sites as failures (data, not exceptions) and aggregate the rest.
 */
export function partitionUpdates(
  global: Float32Array,
  updates: readonly ClientUpdate[],
): { valid: ClientUpdate[]; rejected: RejectedUpdate[] } {
  const valid: ClientUpdate[] = [];
  const rejected: RejectedUpdate[] = [];
  for (const update of updates) {
    try {
      validateUpdate(global, update);
      valid.push(update);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      rejected.push({ siteId: update.siteId, error: err });
    }
  }
  return { valid, rejected };
}

/**
 * The O(sites) part of {@link validateUpdates}: at least one update; each has the global model's length
 * and a positive integer example count. Values are not looked at.
 */
export function validateUpdateHeaders(global: Float32Array, updates: readonly ClientUpdate[]): void {
  if (updates.length === 0) throw new InputError('TESSERA_INPUT_UPDATES_EMPTY', 'no client updates to aggregate');
  for (const update of updates) checkHeader(global, update);
}

function checkHeader(global: Float32Array, update: ClientUpdate): void {
  const siteId = update.siteId;
  if (update.weights.length !== global.length) {
    throw new InputError(
      'TESSERA_INPUT_WEIGHTS_SHAPE',
      `update from site '${siteId}' has ${update.weights.length} values, expected ${global.length}`,
      { siteId, values: update.weights.length, expectedParams: global.length },
    );
  }
  if (!Number.isSafeInteger(update.numExamples) || update.numExamples <= 0) {
    throw new InputError('TESSERA_INPUT_NUM_EXAMPLES', `update from site '${siteId}' has numExamples ≤ 0 or non-integer`, {
      siteId,
    });
  }
}

/**
 * Validates all updates (and that there is at least one) before any aggregation starts.
 * @throws InputError `TESSERA_INPUT_UPDATES_EMPTY`, or the first update's error from {@link validateUpdate}.
 */
export function validateUpdates(global: Float32Array, updates: readonly ClientUpdate[]): void {
  if (updates.length === 0) throw new InputError('TESSERA_INPUT_UPDATES_EMPTY', 'no client updates to aggregate');
  assertFinite(global, 'global weights');
  for (const update of updates) validateUpdate(global, update);
}
