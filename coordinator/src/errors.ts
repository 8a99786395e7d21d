import { TesseraError } from '../../shared/src/errors.js';

/**
 * Thrown by the coordinator when a request conflicts with what it holds: a study id that exists with a
 * different contract (`TESSERA_STUDY_CONFLICT`). The REST API answers 409.
 */
export class ConflictError extends TesseraError {
  constructor(code: `TESSERA_STUDY_${string}`, message: string, context: Record<string, string | number | boolean> = {}) {
    super(code, message, context);
  }
}

/**
 * Thrown when a model version cannot be read back: its file is gone (`TESSERA_MODEL_MISSING`) or its bytes
 * no longer hash to its id (`TESSERA_MODEL_CORRUPT`).
 */
export class ModelStoreError extends TesseraError {
  constructor(code: 'TESSERA_MODEL_MISSING' | 'TESSERA_MODEL_CORRUPT', message: string, context: Record<string, string | number | boolean> = {}, options?: ErrorOptions) {
    super(code, message, context, options);
  }
}
