/**
 * One error type for the whole MES. Every refusal carries a stable machine-readable
 * `code`; the HTTP status is derived from the code through one table, and the HTTP
 * layer renders it as RFC 9457 problem+json.
 */

/** Stable error codes and their HTTP status. Add new codes here, never rename one. */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  SIGNATURE_INVALID: 401,
  FORBIDDEN: 403,
  STATION_NOT_PERMITTED: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  DUPLICATE: 409,
  STILL_REFERENCED: 409,
  STATE_CONFLICT: 409,
  REVISION_RELEASED: 409,
  CONCURRENT_UPDATE: 409,
  INTERLOCK_REFUSED: 409,
  QUANTITY_EXCEEDED: 409,
  BASIS_FROZEN: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REFERENCE_NOT_FOUND: 422,
  IMPORT_INVALID: 422,
  RULE_VIOLATION: 422,
  LOGIN_THROTTLED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  // Materials: reel-label scans (EIGP 114 parser codes), receiving, loading, MSD, labels, printers.
  LABEL_NOT_15434: 422,
  LABEL_FORMAT_UNSUPPORTED: 422,
  LABEL_FIELD_INVALID: 422,
  LABEL_FIELD_MISSING: 422,
  LABEL_DUPLICATE_FIELD: 422,
  MPN_NOT_ON_AVL: 422,
  PART_AMBIGUOUS: 422,
  LOAD_REFUSED: 422,
  CONSUMABLE_INVALID: 422,
  MSL_EVENT_NOT_ALLOWED: 409,
  MSL_EVENT_OUT_OF_ORDER: 409,
  MSL_EVENT_AFTER_NOW: 422,
  PACKAGE_LABEL_INVALID: 422,
  PRINTER_UNREACHABLE: 502,
  PRINTER_SEND_FAILED: 502,
  PRINTER_TIMEOUT: 504,
  // Machine integration (CFX, MQTT).
  CFX_PAYLOAD_INVALID: 400,
  // Quality and shipping: NCR closure, packing and shipment release refusals.
  NCR_NOT_CLOSABLE: 409,
  PACKING_REFUSED: 409,
  SHIPMENT_BLOCKED: 409,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** One failing input field: a JSON-pointer-like path and the reason. */
export interface FieldError {
  /** Path of the failing field, e.g. `/lines/3/quantity` or `line 12: quantity`. */
  field: string;
  /** Stable reason code, e.g. `required`, `format`, `refdes_count`. */
  code: string;
  message: string;
  /** For file imports: the 1-based line number in the source file. */
  line?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { errors?: FieldError[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.errors = opts.errors;
    this.details = opts.details;
  }
}

export const notFound = (what: string, key: string | number): AppError =>
  new AppError('NOT_FOUND', `${what} ${JSON.stringify(key)} does not exist`, { details: { entity: what, key } });

export const validationFailed = (errors: FieldError[], message = 'The request is invalid'): AppError =>
  new AppError('VALIDATION_FAILED', message, { errors });

interface PgErrorLike {
  code?: string;
  constraint?: string;
  detail?: string;
  table?: string;
  column?: string;
  message?: string;
}

function isPgError(e: unknown): e is PgErrorLike & Error {
  return typeof e === 'object' && e !== null && typeof (e as PgErrorLike).code === 'string' && (e as PgErrorLike).code!.length === 5;
}

/**
 * Translates PostgreSQL SQLSTATEs into AppErrors in one place:
 * 23505 unique → 409 DUPLICATE, 23503 foreign key → 422 REFERENCE_NOT_FOUND (insert/update)
 * or 409 STILL_REFERENCED (delete), 23514 check → 400 VALIDATION_FAILED,
 * 40001/40P01 → 409 CONCURRENT_UPDATE, and the MES's own trigger errors (SQLSTATE P0001 with
 * a `MES:<CODE>:` prefix) → that code. Anything else is returned unchanged.
 */
export function translateDbError(e: unknown): unknown {
  if (e instanceof AppError || !isPgError(e)) return e;
  const detail = e.detail ?? '';
  switch (e.code) {
    case '23505':
      return new AppError('DUPLICATE', `Already exists: ${detail || e.constraint || 'duplicate key'}`, {
        details: { constraint: e.constraint },
      });
    case '23503':
      if (/is still referenced/.test(detail)) {
        return new AppError('STILL_REFERENCED', `Cannot remove: ${detail}`, { details: { constraint: e.constraint } });
      }
      return new AppError('REFERENCE_NOT_FOUND', `Referenced record does not exist: ${detail}`, {
        details: { constraint: e.constraint },
      });
    case '23514':
      return new AppError('VALIDATION_FAILED', `Value violates rule ${e.constraint ?? ''}`.trim(), {
        errors: [{ field: e.constraint ?? e.column ?? 'unknown', code: 'check', message: `violates ${e.constraint}` }],
      });
    case '23502':
      return new AppError('VALIDATION_FAILED', `Missing value for ${e.column}`, {
        errors: [{ field: e.column ?? 'unknown', code: 'required', message: 'is required' }],
      });
    case '22P02':
    case '22003':
    case '22007':
    case '22008':
      return new AppError('VALIDATION_FAILED', 'A value has the wrong format', {
        errors: [{ field: e.column ?? 'unknown', code: 'format', message: e.message ?? 'invalid value' }],
      });
    case '40001':
    case '40P01':
      return new AppError('CONCURRENT_UPDATE', 'The record was changed concurrently; retry the operation');
    case 'P0001': {
      const m = /^MES:([A-Z_]+):\s*(.*)$/s.exec(e.message ?? '');
      if (m && m[1]! in ERROR_STATUS) return new AppError(m[1] as ErrorCode, m[2]!);
      return e;
    }
    default:
      return e;
  }
}
