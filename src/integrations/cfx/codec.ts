/**
 * IPC-CFX wire codec: bytes ⇄ envelopes, with no database and no network.
 *
 * The CFX SDK (Newtonsoft.Json on .NET) is the de-facto reference sender, so this module
 * accepts what it writes and what it reads:
 * - UTF-8 JSON, optionally gzip (AMQP `content-encoding: gzip`, or just the 1f 8b magic);
 * - one envelope object, or an array of envelopes (first character `[`);
 * - envelope keys matched case-insensitively (Newtonsoft does), canonical case preferred;
 * - `$type` annotations (`"CFX.Production.UnitsDeparted, CFX"`) first in `MessageBody` and in
 *   polymorphic sub-objects; they are removed and remembered as `kind` (see normalizeCfxBody);
 * - .NET timestamps with 7 fractional digits, and zoneless timestamps (DateTime.Kind Unspecified);
 * - .NET TimeSpan strings and SEMI E10 ResourceState codes, including legacy forms.
 *
 * Field-level validation of message bodies lives in messages.ts.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';

/** The CFX version we write into envelopes we create (the SDK 2.1.1 default). */
export const CFX_VERSION = '2.1';

/** Stable codes of CfxDecodeError. Never rename one; add new ones at the end. */
export type CfxDecodeCode =
  | 'CFX_EMPTY'
  | 'CFX_GZIP'
  | 'CFX_UNSUPPORTED_ENCODING'
  | 'CFX_TOO_LARGE'
  | 'CFX_BAD_UTF8'
  | 'CFX_NOT_JSON'
  | 'CFX_BAD_PAYLOAD'
  | 'CFX_BAD_ENVELOPE'
  | 'CFX_NAME_MISMATCH'
  | 'CFX_BAD_DATETIME'
  | 'CFX_BAD_TIMESPAN'
  | 'CFX_BAD_RESOURCE_STATE';

/**
 * Why a CFX payload, envelope or value was refused. `field` names the offending envelope key
 * (e.g. `UniqueID`, `MessageBody`) or is empty for payload-level problems, so the ingestion
 * layer can record a precise, stable reason in its dead-letter store.
 */
export class CfxDecodeError extends Error {
  readonly code: CfxDecodeCode;
  readonly field: string;

  constructor(code: CfxDecodeCode, field: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CfxDecodeError';
    this.code = code;
    this.field = field;
  }
}

/** A decoded, normalised CFX envelope. Body keys keep their wire (PascalCase) spelling. */
export interface CfxEnvelope {
  /** Full CFX message name, e.g. `CFX.Production.UnitsDeparted` (assembly suffix removed). */
  messageName: string;
  /** True when MessageName was absent and was derived from the body's `$type`. */
  messageNameFromType: boolean;
  /** Envelope `Version`, e.g. "2.1"; null when absent. */
  version: string | null;
  /** Event time; the receive time when the envelope had no TimeStamp (see timeStampSource). */
  timeStamp: Date;
  /**
   * Where timeStamp came from: `envelope` (with zone), `envelope-no-zone` (zoneless, read with
   * the configured offset, UTC by default) or `receive` (TimeStamp absent: receive time used).
   */
  timeStampSource: 'envelope' | 'envelope-no-zone' | 'receive';
  /** TimeStamp exactly as sent (sub-millisecond digits are lost in `timeStamp`); null if absent. */
  rawTimeStamp: string | null;
  /** Envelope UniqueID as sent: the de-duplication key. */
  uniqueId: string;
  /** Sender handle (`Vendor.Model.Serial`); null when absent. */
  source: string | null;
  target: string | null;
  requestId: string | null;
  /** The body's root `$type` without assembly suffix, e.g. `CFX.Production.UnitsDeparted`; null if absent. */
  bodyType: string | null;
  /**
   * MessageBody with every `$type` removed; polymorphic sub-objects carry `kind` (their CFX type
   * name, e.g. `CFX.Structures.NumericMeasurement`) instead, and Newtonsoft `{"$type","$values"}`
   * collection wrappers are unwrapped to plain arrays.
   */
  body: Record<string, unknown>;
}

/** One array element that could not be decoded as an envelope. */
export interface CfxRejection {
  /** Position in the received JSON array (0 for a single-envelope payload). */
  index: number;
  code: CfxDecodeCode;
  /** Offending envelope key, e.g. `UniqueID`. */
  field: string;
  message: string;
  /** UniqueID / MessageName when they could be read, to help logging and de-duplication. */
  uniqueId: string | null;
  messageName: string | null;
  /** The element as parsed from JSON, for the dead-letter store. */
  raw: unknown;
}

/** Result of decodeCfxPayload. */
export interface CfxDecodeResult {
  /** Good envelopes, in payload order. */
  envelopes: CfxEnvelope[];
  /** Array elements that failed, with their index. Always empty for a single-object payload (it throws instead). */
  rejected: CfxRejection[];
  /** True when the payload was a JSON array. */
  batch: boolean;
}

export interface CfxDecodeOptions {
  /** When the message was received; used when TimeStamp is absent. Default: now. */
  receivedAt?: Date;
  /** Offset (minutes east of UTC) assumed for zoneless timestamps. Default 0 (UTC). */
  zonelessOffsetMinutes?: number;
  /** Refuse payloads that decompress to more than this many bytes (gzip bomb guard). Default 64 MiB. */
  maxDecodedBytes?: number;
}

const DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024;
const MAX_DEPTH = 200;

/**
 * Decodes one AMQP message body into envelopes.
 *
 * Payload-level problems (bad gzip, invalid UTF-8, not JSON, neither object nor array) and a
 * bad single-object envelope throw CfxDecodeError. For an array, each element is decoded on
 * its own: good ones are returned in `envelopes`, bad ones in `rejected` with their index, so
 * one broken element never loses the rest of a batch.
 */
export function decodeCfxPayload(
  body: Buffer | Uint8Array | string,
  contentEncoding?: string,
  options: CfxDecodeOptions = {},
): CfxDecodeResult {
  const text = typeof body === 'string' ? body : bytesToText(body, contentEncoding, options);
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') throw new CfxDecodeError('CFX_EMPTY', '', 'CFX payload is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (err) {
    throw new CfxDecodeError('CFX_NOT_JSON', '', `CFX payload is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (Array.isArray(parsed)) {
    const envelopes: CfxEnvelope[] = [];
    const rejected: CfxRejection[] = [];
    parsed.forEach((element, index) => {
      try {
        envelopes.push(decodeCfxEnvelope(element, options));
      } catch (err) {
        if (!(err instanceof CfxDecodeError)) throw err;
        rejected.push({ index, code: err.code, field: err.field, message: err.message, ...peekIds(element), raw: element });
      }
    });
    return { envelopes, rejected, batch: true };
  }
  if (isPlainObject(parsed)) return { envelopes: [decodeCfxEnvelope(parsed, options)], rejected: [], batch: false };
  throw new CfxDecodeError('CFX_BAD_PAYLOAD', '', `CFX payload must be a JSON object or array, got ${describe(parsed)}`);
}

/**
 * Decodes one already-parsed envelope object (e.g. from a test or an HTTP bridge).
 * Throws CfxDecodeError naming the offending envelope key.
 */
export function decodeCfxEnvelope(value: unknown, options: CfxDecodeOptions = {}): CfxEnvelope {
  if (!isPlainObject(value)) throw new CfxDecodeError('CFX_BAD_ENVELOPE', '', `CFX envelope must be a JSON object, got ${describe(value)}`);

  const rawBody = envelopeField(value, 'MessageBody');
  if (!isPlainObject(rawBody)) {
    throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'MessageBody', `MessageBody: required object, got ${describe(rawBody)}`);
  }
  const typeAnnotation = rawBody['$type'];
  if (typeAnnotation !== undefined && typeof typeAnnotation !== 'string') {
    throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'MessageBody.$type', `MessageBody.$type: must be a string, got ${describe(typeAnnotation)}`);
  }
  const bodyType = typeof typeAnnotation === 'string' ? stripAssembly(typeAnnotation) : null;
  if (bodyType === '') throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'MessageBody.$type', 'MessageBody.$type: empty type name');

  const rawName = envelopeField(value, 'MessageName');
  let messageName: string;
  let messageNameFromType = false;
  if (rawName === undefined || rawName === null || rawName === '') {
    if (bodyType === null) {
      throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'MessageName', 'MessageName: required string (and MessageBody has no $type to derive it from)');
    }
    messageName = bodyType;
    messageNameFromType = true;
  } else if (typeof rawName !== 'string') {
    throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'MessageName', `MessageName: required string, got ${describe(rawName)}`);
  } else {
    messageName = stripAssembly(rawName);
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(messageName)) {
    throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'MessageName', `MessageName: not a dotted type name: ${JSON.stringify(messageName)}`);
  }
  if (bodyType !== null && bodyType !== messageName) {
    throw new CfxDecodeError(
      'CFX_NAME_MISMATCH',
      'MessageName',
      `MessageName ${JSON.stringify(messageName)} does not match MessageBody.$type ${JSON.stringify(bodyType)}`,
    );
  }

  const uniqueIdRaw = envelopeField(value, 'UniqueID');
  if (typeof uniqueIdRaw !== 'string' || uniqueIdRaw.trim() === '') {
    throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'UniqueID', `UniqueID: required non-empty string, got ${describe(uniqueIdRaw)}`);
  }

  const version = optionalEnvelopeString(value, 'Version', true);
  const source = optionalEnvelopeString(value, 'Source');
  const target = optionalEnvelopeString(value, 'Target');
  const requestId = optionalEnvelopeString(value, 'RequestID');

  const rawTs = envelopeField(value, 'TimeStamp');
  let timeStamp: Date;
  let timeStampSource: CfxEnvelope['timeStampSource'];
  let rawTimeStamp: string | null = null;
  if (rawTs === undefined || rawTs === null || rawTs === '') {
    timeStamp = options.receivedAt ?? new Date();
    timeStampSource = 'receive';
  } else if (typeof rawTs !== 'string') {
    throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'TimeStamp', `TimeStamp: must be an ISO 8601 string, got ${describe(rawTs)}`);
  } else {
    rawTimeStamp = rawTs;
    try {
      timeStamp = parseCfxDateTime(rawTs, options.zonelessOffsetMinutes ?? 0);
    } catch (err) {
      throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'TimeStamp', `TimeStamp: ${(err as Error).message}`, { cause: err });
    }
    timeStampSource = cfxDateTimeHasZone(rawTs) ? 'envelope' : 'envelope-no-zone';
  }

  const body = normalizeCfxBody(rawBody) as Record<string, unknown>;
  return {
    messageName,
    messageNameFromType,
    version,
    timeStamp,
    timeStampSource,
    rawTimeStamp,
    uniqueId: uniqueIdRaw.trim(),
    source,
    target,
    requestId,
    bodyType,
    body,
  };
}

/**
 * Removes `$type` annotations recursively. An object that carried `$type` gets a `kind` key
 * holding the type name without assembly (e.g. `CFX.Structures.NumericMeasurement`), because
 * for polymorphic members (measurements, feeders, process data, faults) the type is data.
 * The root object's `$type` is dropped (the envelope keeps it as `bodyType`).
 * Newtonsoft collection wrappers `{"$type": "...", "$values": [...]}` become plain arrays.
 * The input is not modified.
 */
export function normalizeCfxBody(value: unknown): unknown {
  return normalizeValue(value, 0, true);
}

function normalizeValue(value: unknown, depth: number, isRoot: boolean): unknown {
  if (depth > MAX_DEPTH) throw new CfxDecodeError('CFX_BAD_ENVELOPE', 'MessageBody', `MessageBody: nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) return value.map((v) => normalizeValue(v, depth + 1, false));
  if (!isPlainObject(value)) return value;
  if (Array.isArray(value['$values'])) return normalizeValue(value['$values'], depth + 1, false);
  const out: Record<string, unknown> = {};
  const type = value['$type'];
  if (!isRoot && typeof type === 'string' && type.trim() !== '') setOwn(out, 'kind', stripAssembly(type));
  for (const [key, v] of Object.entries(value)) {
    if (key === '$type' || key === '$id') continue;
    if (key === 'kind' && 'kind' in out) continue;
    setOwn(out, key, normalizeValue(v, depth + 1, false));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** An envelope to send. Body keys use the CFX wire (PascalCase) spelling. */
export interface CfxOutgoingEnvelope {
  messageName: string;
  version?: string | null;
  /** Defaults to now. A Date is written as ISO 8601 UTC. */
  timeStamp?: Date | string;
  /** Defaults to a new random UUID. */
  uniqueId?: string;
  source?: string | null;
  target?: string | null;
  requestId?: string | null;
  body: Record<string, unknown>;
}

export interface CfxEncodeOptions {
  /**
   * Write `"$type": "<MessageName>, CFX"` as the first body key, as the SDK does, and turn our
   * `kind` keys back into `$type`. Default true.
   */
  typeAnnotations?: boolean;
}

/**
 * Serialises one envelope to CFX JSON (PascalCase envelope keys in SDK order). Used for
 * responses and for anything the MES publishes, so .NET SDK receivers can read it.
 */
export function encodeCfxEnvelope(env: CfxOutgoingEnvelope | CfxEnvelope, options: CfxEncodeOptions = {}): string {
  return JSON.stringify(toWireEnvelope(env, options));
}

/**
 * Serialises several envelopes to one AMQP body (a JSON array when more than one), gzipped on
 * request; returns the bytes and the content-encoding to put on the AMQP message.
 */
export function encodeCfxPayload(
  envs: Array<CfxOutgoingEnvelope | CfxEnvelope>,
  options: CfxEncodeOptions & { gzip?: boolean } = {},
): { body: Buffer; contentEncoding: 'gzip' | undefined } {
  const wire = envs.map((e) => toWireEnvelope(e, options));
  const json = JSON.stringify(wire.length === 1 ? wire[0] : wire);
  const bytes = Buffer.from(json, 'utf8');
  return options.gzip ? { body: gzipSync(bytes), contentEncoding: 'gzip' } : { body: bytes, contentEncoding: undefined };
}

function toWireEnvelope(env: CfxOutgoingEnvelope | CfxEnvelope, options: CfxEncodeOptions): Record<string, unknown> {
  const withTypes = options.typeAnnotations ?? true;
  const ts = env.timeStamp ?? new Date();
  const body = withTypes ? denormalizeBody(env.body, 0) : stripKinds(env.body, 0);
  const messageBody = withTypes ? { $type: `${env.messageName}, CFX`, ...(body as Record<string, unknown>) } : body;
  return {
    MessageName: env.messageName,
    Version: env.version ?? CFX_VERSION,
    TimeStamp: ts instanceof Date ? ts.toISOString() : ts,
    UniqueID: env.uniqueId ?? randomUUID(),
    Source: env.source ?? null,
    Target: env.target ?? null,
    RequestID: env.requestId ?? null,
    MessageBody: messageBody,
  };
}

/** `kind` → `$type: "<kind>, CFX"` (first key), recursively; the inverse of normalizeCfxBody. */
function denormalizeBody(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return value.map((v) => denormalizeBody(v, depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  if (depth > 0 && typeof value['kind'] === 'string') out['$type'] = `${value['kind']}, CFX`;
  for (const [k, v] of Object.entries(value)) {
    if (k === 'kind' || k === '$type') continue;
    setOwn(out, k, denormalizeBody(v, depth + 1));
  }
  return out;
}

function stripKinds(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return value.map((v) => stripKinds(v, depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'kind' || k === '$type') continue;
    setOwn(out, k, stripKinds(v, depth + 1));
  }
  return out;
}

/**
 * Builds the response to a CFX request: new UniqueID, TimeStamp now, Source = our handle,
 * Target = the requester's Source, RequestID copied so the requester can correlate it.
 */
export function makeResponse(
  request: Pick<CfxEnvelope, 'source' | 'requestId'>,
  messageName: string,
  body: Record<string, unknown>,
  ourHandle: string,
): CfxOutgoingEnvelope {
  return {
    messageName,
    version: CFX_VERSION,
    timeStamp: new Date(),
    uniqueId: randomUUID(),
    source: ourHandle,
    target: request.source,
    requestId: request.requestId,
    body,
  };
}

/**
 * The answer to a request the MES does not implement (CFX.NotSupportedResponse), as the
 * standard requires instead of silence.
 */
export function makeNotSupportedResponse(
  request: Pick<CfxEnvelope, 'source' | 'requestId' | 'messageName'>,
  ourHandle: string,
  message = `Request ${request.messageName} is not supported by this endpoint`,
): CfxOutgoingEnvelope {
  return makeResponse(
    request,
    'CFX.NotSupportedResponse',
    { RequestResult: { Result: 'Failed', ResultCode: 0, Message: message } },
    ourHandle,
  );
}

// ---------------------------------------------------------------------------------------------
// Value parsers shared with messages.ts
// ---------------------------------------------------------------------------------------------

const DATE_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/** True when an ISO 8601 date-time string carries a zone designator (Z or ±hh:mm). */
export function cfxDateTimeHasZone(s: string): boolean {
  const m = DATE_TIME_RE.exec(s.trim());
  return m !== null && m[8] !== undefined;
}

/**
 * Parses a CFX (.NET) date-time: ISO 8601 with any number of fractional digits (.NET writes 7;
 * digits beyond milliseconds are truncated) and an optional zone. A zoneless value is read at
 * `zonelessOffsetMinutes` east of UTC (default 0). Years below 100 are honoured
 * (DateTime.MinValue is "0001-01-01T00:00:00"). Throws CfxDecodeError('CFX_BAD_DATETIME').
 */
export function parseCfxDateTime(s: string, zonelessOffsetMinutes = 0): Date {
  const m = DATE_TIME_RE.exec(s.trim());
  if (!m) throw new CfxDecodeError('CFX_BAD_DATETIME', '', `not an ISO 8601 date-time: ${JSON.stringify(s)}`);
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  const ms = frac === '' ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw new CfxDecodeError('CFX_BAD_DATETIME', '', `date-time out of range: ${JSON.stringify(s)}`);
  }
  let offsetMinutes = zonelessOffsetMinutes;
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) throw new CfxDecodeError('CFX_BAD_DATETIME', '', `zone offset out of range: ${JSON.stringify(s)}`);
    offsetMinutes = sign * (oh * 60 + om);
  } else if (zone !== undefined) {
    offsetMinutes = 0;
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

const TIMESPAN_RE = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/;
const ISO_DURATION_RE = /^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses a .NET TimeSpan string to milliseconds: `[-][d.]hh:mm[:ss[.fffffff]]`
 * ("00:01:25", "6.00:00:00", "00:00:00.5000000", "-00:00:01"), a bare day count ("6"), or, as
 * a courtesy to non-.NET senders, an ISO 8601 duration ("PT1M25S"). Sub-millisecond ticks are
 * kept as a fractional part. Throws CfxDecodeError('CFX_BAD_TIMESPAN').
 */
export function parseTimeSpan(s: string): number {
  if (typeof s !== 'string') throw new CfxDecodeError('CFX_BAD_TIMESPAN', '', `TimeSpan must be a string, got ${describe(s)}`);
  const t = s.trim();
  const bad = (why: string) => new CfxDecodeError('CFX_BAD_TIMESPAN', '', `${why}: ${JSON.stringify(s)}`);
  let m = TIMESPAN_RE.exec(t);
  if (m) {
    const [, neg, days = '0', hh, mm, ss = '0', frac = ''] = m;
    const hours = Number(hh);
    const minutes = Number(mm);
    const seconds = Number(ss);
    if (hours > 23 || minutes > 59 || seconds > 59) throw bad('TimeSpan component out of range');
    const ticks =
      ((Number(days) * 24 + hours) * 3600 + minutes * 60 + seconds) * 10_000_000 + (frac === '' ? 0 : Number(frac.padEnd(7, '0')));
    const ms = ticks / 10_000;
    return neg ? -ms : ms;
  }
  if (/^-?\d+$/.test(t)) {
    const days = Number(t);
    return days * 86_400_000;
  }
  m = ISO_DURATION_RE.exec(t);
  if (m && t !== 'P' && t !== '-P' && !t.endsWith('T')) {
    const [, neg, d = '0', h = '0', mi = '0', sec = '0'] = m;
    const ms = ((Number(d) * 24 + Number(h)) * 3600 + Number(mi) * 60) * 1000 + Math.round(Number(sec) * 1_000_000) / 1000;
    return neg ? -ms : ms;
  }
  throw bad('not a .NET TimeSpan');
}

/** SEMI E10 major states as named by CFX (ResourceState 1000…6000). */
export type E10State = 'Productive' | 'Standby' | 'Engineering' | 'ScheduledDowntime' | 'UnscheduledDowntime' | 'NonScheduled';

const E10_BY_DIGIT: Record<string, E10State> = {
  '1': 'Productive',
  '2': 'Standby',
  '3': 'Engineering',
  '4': 'ScheduledDowntime',
  '5': 'UnscheduledDowntime',
  '6': 'NonScheduled',
};

/** ResourceState codes defined by the CFX SDK 2.1 (CFX.Structures.ResourceState), with their enum names. */
export const RESOURCE_STATE_CODES: Readonly<Record<number, string>> = {
  1000: 'PRD', 1100: 'PRD_RegularWork', 1200: 'PRD_WorkForThirdParties', 1300: 'PRD_Rework', 1400: 'PRD_Engineering',
  2000: 'SBY', 2100: 'SBY_NoOperator', 2200: 'SBY_NoProduct', 2201: 'SBY_NoProductBlocked', 2202: 'SBY_NoProductStarved',
  2300: 'SBY_NoSupportTool', 2400: 'SBY_AssociatedClusterModuleDown', 2500: 'SBY_NoHost',
  3000: 'ENG', 3100: 'ENG_ProcessExperiments', 3200: 'ENG_EquipmentExperiments',
  4000: 'SDT', 4100: 'SDT_UserMaintenanceDelay', 4200: 'SDT_SuppliedMaintenanceDelay', 4300: 'SDT_PreventiveMaintenance',
  4400: 'SDT_ChangeOfConsumables', 4500: 'SDT_Setup', 4600: 'SDT_ProductionTest', 4700: 'SDT_FacilitiesRelated',
  5000: 'USD', 5100: 'USD_UserMaintentanceDelay', 5200: 'USD_SuppliedMaintenanceDelay', 5300: 'USD_Repair',
  5400: 'USD_OutOfSpecInputMaterial', 5500: 'USD_ChangeOfConsumables', 5600: 'USD_FacilitiesRelated',
  6000: 'NST', 6100: 'NST_UnworkedShifts', 6200: 'NST_EquipmentInstallation', 6300: 'NST_EquipmentModifications',
  6400: 'NST_OfflineTraining', 6500: 'NST_ShutdownAndStartup',
};

/** Legacy pre-1.x codes the SDK itself maps (StateJsonConverter). */
const LEGACY_EXACT: Record<string, number> = { '22A0': 2201, '22B0': 2202 };

export interface ResourceStateInfo {
  /** A code from RESOURCE_STATE_CODES. */
  code: number;
  /** The SEMI E10 major state (the leading digit of the code). */
  e10: E10State;
  /** The value as sent, when it was a legacy (non-decimal) code such as "22A0". */
  legacy?: string;
}

/**
 * Parses a CFX ResourceState as it appears on the wire: "1100", 1100, an SDK enum name such as
 * "PRD_RegularWork" (case-insensitive), or a legacy hex-style code.
 *
 * Legacy mapping (documented, deterministic):
 * - "22A0" → 2201 (SBY_NoProductBlocked) and "22B0" → 2202 (SBY_NoProductStarved), exactly as
 *   the SDK's own converter does;
 * - any other 4-character code `[1-6][0-9][0-9A-F][0-9A-F]` containing a hex letter maps to
 *   its sub-state `XY00` when the SDK defines it (e.g. "23C0" → 2300), otherwise to its major
 *   state `X000` (e.g. "47F0" → 4000); `legacy` keeps the original text.
 * Anything else (unknown decimal codes, leading digit outside 1–6, other text) is refused with
 * CfxDecodeError('CFX_BAD_RESOURCE_STATE').
 */
export function parseResourceState(v: string | number): ResourceStateInfo {
  const refuse = () => new CfxDecodeError('CFX_BAD_RESOURCE_STATE', '', `unknown ResourceState ${JSON.stringify(v)}`);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || RESOURCE_STATE_CODES[v] === undefined) throw refuse();
    return { code: v, e10: e10Of(v) };
  }
  if (typeof v !== 'string') throw refuse();
  const t = v.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const code = Number(t);
    if (RESOURCE_STATE_CODES[code] === undefined) throw refuse();
    return { code, e10: e10Of(code) };
  }
  const exact = LEGACY_EXACT[t];
  if (exact !== undefined) return { code: exact, e10: e10Of(exact), legacy: v.trim() };
  if (/^[1-6][0-9][0-9A-F]{2}$/.test(t)) {
    const sub = Number(t.slice(0, 2)) * 100;
    const code = RESOURCE_STATE_CODES[sub] !== undefined ? sub : Number(t[0]) * 1000;
    return { code, e10: e10Of(code), legacy: v.trim() };
  }
  for (const [code, name] of Object.entries(RESOURCE_STATE_CODES)) {
    if (name.toUpperCase() === t) return { code: Number(code), e10: e10Of(Number(code)) };
  }
  throw refuse();
}

function e10Of(code: number): E10State {
  const e10 = E10_BY_DIGIT[String(code)[0] ?? ''];
  if (!e10) throw new CfxDecodeError('CFX_BAD_RESOURCE_STATE', '', `ResourceState ${code} has no E10 major state`);
  return e10;
}

// ---------------------------------------------------------------------------------------------
// Small helpers (also used by messages.ts)
// ---------------------------------------------------------------------------------------------

/** True for a JSON object (not null, not an array). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** Short description of a JSON value's type for error messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return v.length > 40 ? `string ${JSON.stringify(v.slice(0, 40))}…` : `string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

/** "CFX.Production.UnitsDeparted, CFX" → "CFX.Production.UnitsDeparted". */
function stripAssembly(typeName: string): string {
  const comma = typeName.indexOf(',');
  return (comma === -1 ? typeName : typeName.slice(0, comma)).trim();
}

/** Assigns without triggering the `__proto__` setter. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Envelope keys: exact spelling first, then case-insensitive (Newtonsoft matches that way). */
function envelopeField(obj: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(obj, key)) return obj[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function optionalEnvelopeString(obj: Record<string, unknown>, key: string, allowNumber = false): string | null {
  const v = envelopeField(obj, key);
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (allowNumber && typeof v === 'number') return String(v);
  throw new CfxDecodeError('CFX_BAD_ENVELOPE', key, `${key}: must be a string, got ${describe(v)}`);
}

function peekIds(element: unknown): { uniqueId: string | null; messageName: string | null } {
  if (!isPlainObject(element)) return { uniqueId: null, messageName: null };
  const id = envelopeField(element, 'UniqueID');
  const name = envelopeField(element, 'MessageName');
  return { uniqueId: typeof id === 'string' ? id : null, messageName: typeof name === 'string' ? name : null };
}

function bytesToText(body: Buffer | Uint8Array, contentEncoding: string | undefined, options: CfxDecodeOptions): string {
  const max = options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  let bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  const gzipMagic = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (enc === 'gzip' || enc === 'x-gzip' || gzipMagic) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: max });
    } catch (err) {
      const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new CfxDecodeError(
        tooLarge ? 'CFX_TOO_LARGE' : 'CFX_GZIP',
        '',
        tooLarge ? `gzip payload inflates beyond ${max} bytes` : `gzip payload could not be decompressed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  } else if (enc === 'deflate') {
    try {
      bytes = inflateSync(bytes, { maxOutputLength: max });
    } catch (err) {
      throw new CfxDecodeError('CFX_GZIP', '', `deflate payload could not be decompressed: ${(err as Error).message}`, { cause: err });
    }
  } else if (enc !== '' && enc !== 'identity' && enc !== 'utf-8' && enc !== 'utf8') {
    throw new CfxDecodeError('CFX_UNSUPPORTED_ENCODING', '', `unsupported content-encoding ${JSON.stringify(contentEncoding)}`);
  }
  if (bytes.length > max) throw new CfxDecodeError('CFX_TOO_LARGE', '', `payload is larger than ${max} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new CfxDecodeError('CFX_BAD_UTF8', '', 'CFX payload is not valid UTF-8', { cause: err });
  }
}
