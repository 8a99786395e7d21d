/**
 * Tessera's error catalogue. Every error that crosses a module boundary is a {@link TesseraError}
 * with a stable `code` (`TESSERA_<AREA>_<WHAT>`), listed in docs/errors.md (a test checks parity).
 *
 * Messages name *what* was wrong and *where* (file, row, field, site, round) but never carry data
 * values that could identify a patient or reveal a weight update.
 */
export class TesseraError extends Error {
  readonly code: string;
  /** Structured context safe to log (identifiers, counts, field names: never PHI or tensor values). */
  readonly context: Readonly<Record<string, string | number | boolean>>;

  constructor(
    code: string,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = Object.freeze({ ...context });
  }
}

/** Thrown when a configuration file or option fails validation (unknown key, wrong type, out of range). */
export class ConfigError extends TesseraError {
  constructor(message: string, context: Record<string, string | number | boolean> = {}, options?: ErrorOptions) {
    super('TESSERA_CONFIG_INVALID', message, context, options);
  }
}

/** Thrown when input from outside (file, row, message, body) is malformed. */
export class InputError extends TesseraError {
  constructor(
    code: `TESSERA_INPUT_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/** Thrown when a peer's identity cannot be established or is refused (mTLS, certificate, site id). */
export class IdentityError extends TesseraError {
  constructor(
    code: `TESSERA_IDENTITY_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/**
 * Thrown by consortium provisioning and revocation tooling: output folder not empty
 * (`TESSERA_PROVISION_OUT_DIR_NOT_EMPTY`), CA folder incomplete or manifest unreadable
 * (`TESSERA_PROVISION_CA_DIR_INVALID`), id or serial not in the manifest (`TESSERA_PROVISION_NOT_FOUND`).
 */
export class ProvisionError extends TesseraError {
  constructor(
    code: `TESSERA_PROVISION_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/** Thrown when a protocol message arrives out of order, for the wrong round/site, or is otherwise invalid. */
export class ProtocolError extends TesseraError {
  constructor(
    code: `TESSERA_PROTOCOL_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/**
 * Thrown by secure aggregation (shared/src/secagg, the coordinator's SecAgg workflow and the site's SecAgg
 * client): bad parameters, a key whose signature or certificate does not verify, a share that does not
 * decrypt, a stage out of order, too few shares or survivors. Messages name sites, rounds and stages, never
 * key material, shares or update values.
 */
export class SecAggError extends TesseraError {
  constructor(
    code: `TESSERA_SECAGG_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/**
 * Thrown by a site's PACS sources when a PACS cannot be used at all: it cannot be reached or searched
 * (`TESSERA_PACS_UNREACHABLE`), or it refuses the association or the query (`TESSERA_PACS_REFUSED`). Problems
 * with single instances are report entries, not errors. Messages name the host and the reason, never a
 * patient, an accession number or an original UID.
 */
export class PacsError extends TesseraError {
  constructor(
    code: `TESSERA_PACS_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/** Thrown when a lifecycle transition is not allowed (round or study state machine). */
export class IllegalStateError extends TesseraError {
  constructor(message: string, context: Record<string, string | number | boolean> = {}) {
    super('TESSERA_STATE_ILLEGAL_TRANSITION', message, context);
  }
}

/**
 * Thrown by the audit ledger: an entry that cannot be recorded (`TESSERA_AUDIT_ENTRY_INVALID`: not JSON, too
 * large, or content where only metadata belongs), a key and certificate that do not belong together
 * (`TESSERA_AUDIT_SIGNER_INVALID`), a ledger file or database that cannot be read or continued
 * (`TESSERA_AUDIT_LEDGER_INVALID`), or an update or delete refused by the append-only table
 * (`TESSERA_AUDIT_APPEND_ONLY`).
 */
export class AuditError extends TesseraError {
  constructor(
    code: `TESSERA_AUDIT_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/**
 * Thrown by the coordinator's REST API; the code decides the HTTP status: `TESSERA_API_UNAUTHENTICATED` 401,
 * `TESSERA_API_FORBIDDEN` 403, `TESSERA_API_INVALID_REQUEST` 400, `TESSERA_API_NOT_FOUND` 404,
 * `TESSERA_API_CONFLICT` 409, `TESSERA_API_RATE_LIMITED` 429, `TESSERA_API_UNAVAILABLE` 503. Also thrown by the
 * operator CLI for the API's answers.
 */
export class ApiError extends TesseraError {
  constructor(
    code: `TESSERA_API_${string}`,
    message: string,
    context: Record<string, string | number | boolean> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, context, options);
  }
}

/** Narrow an unknown thrown value to a message safe to log. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
