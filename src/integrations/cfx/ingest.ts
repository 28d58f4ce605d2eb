import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { isScopedDb, isTainted, runInTransaction } from '../tx-scope.ts';
import {
  CfxDecodeError, decodeCfxPayload, encodeCfxEnvelope, makeNotSupportedResponse, type CfxDecodeResult, type CfxEnvelope, type CfxOutgoingEnvelope,
} from './codec.ts';
import { classifyMessage, SUPPORTED_MESSAGES, validateMessage, type CfxFieldError, type TypedMessage } from './messages.ts';
import { ApplyInOrder, type CfxDeps, type EndpointInfo, type HandlerContext, type HandlerRegistry, type HandlerResult, type JointResult, type Machine, type PassageRequest, type Rejection } from './handlers/types.ts';
import { TransactionBook } from './book.ts';
import { schedule, type ScheduleItem } from './schedule.ts';
import type { BatchResult } from '../../modules/tracking/index.ts';
import { machinePrincipal, type MachineResolver } from './machines.ts';
import { insertDeadLetters, type NewDeadLetter } from '../store.ts';

/**
 * The CFX ingestion pipeline: bytes in, effects committed, responses out. Every door (AMQP
 * broker consumer, point-to-point request listener, HTTP, replay) goes through `ingest`.
 *
 * For a batch of payloads, in one transaction:
 * 1. decode (outside the transaction): a payload that cannot be read at all, and each array
 *    element that is not an envelope, becomes a dead letter with its reason;
 * 2. resolve each envelope's Source handle to a machine, validate supported messages (field
 *    errors → dead letter), classify the rest (unsupported → kept; unsupported request →
 *    answered with NotSupportedResponse);
 * 3. de-duplicate against cfx_inbox by UniqueID (a duplicate has no effect; a repeated request
 *    gets the stored response again);
 * 4. run each message's handler in order; handlers that may refuse get a savepoint, so a
 *    refusal never undoes the other messages of the batch;
 * 5. write the inbox rows (one per message, with its outcome), dead letters and unassigned
 *    messages in bulk, and commit. Only then does the transport acknowledge.
 * If anything unexpected fails, the batch is rolled back and re-run in safe mode (a savepoint
 * per message), so one poisonous message goes to the dead-letter store and the others commit.
 */

export type Transport = 'amqp' | 'amqp-p2p' | 'http' | 'replay';
export type InboxOutcome = 'applied' | 'recorded' | 'unsupported' | 'answered' | 'rejected' | 'unassigned' | 'own';
export const INBOX_OUTCOMES: readonly InboxOutcome[] = ['applied', 'recorded', 'unsupported', 'answered', 'rejected', 'unassigned', 'own'];

export interface IncomingPayload {
  payload: Buffer | string;
  contentEncoding?: string | null;
  transport: Transport;
  receivedAt?: Date;
  /** The authenticated caller (HTTP): a station-bound token may only speak for its stations' machines. */
  caller?: Principal;
  /** Replay of kept messages: rejected / unassigned inbox rows of these UniqueIDs may be processed again. */
  replay?: boolean;
  /** The payload already decoded by the transport (see decodeForIngest), so it is not decoded twice. */
  decoded?: CfxDecodeResult | CfxDecodeError;
}

/** Decodes a payload once, for a transport that needs to look inside before batching (lane choice). */
export function decodeForIngest(payload: Buffer | string, contentEncoding: string | null | undefined, receivedAt: Date, zonelessOffsetMinutes = 0): CfxDecodeResult | CfxDecodeError {
  try {
    return decodeCfxPayload(payload, contentEncoding ?? undefined, { receivedAt, zonelessOffsetMinutes });
  } catch (e) {
    if (e instanceof CfxDecodeError) return e;
    throw e;
  }
}

const UNIT_LISTS = ['Units', 'InspectedUnits', 'TestedUnits', 'RepairedUnits', 'InstalledMaterials', 'UnitProcessData'];

/**
 * The ordering key of a payload: the unit it is about (PrimaryIdentifier or the first
 * UnitIdentifier), else its sender. Batches keep the order of payloads with the same key, so a
 * unit's messages are applied in the order received even when it moves from machine to machine,
 * and a machine's unit-less messages (states, faults) in theirs.
 */
export function orderingKey(d: CfxDecodeResult | CfxDecodeError): string | null {
  if (d instanceof CfxDecodeError) return null;
  const env = d.envelopes[0];
  if (!env) return null;
  const b = env.body;
  if (typeof b.PrimaryIdentifier === 'string' && b.PrimaryIdentifier !== '') return `u:${b.PrimaryIdentifier}`;
  for (const k of UNIT_LISTS) {
    const list = b[k];
    if (Array.isArray(list) && list.length && typeof (list[0] as Record<string, unknown>)?.UnitIdentifier === 'string') return `u:${(list[0] as Record<string, string>).UnitIdentifier}`;
  }
  return env.source === null ? null : `s:${env.source}`;
}

export interface MessageOutcome {
  /** Position in the payload (array index; 0 for a single envelope). */
  index: number;
  uniqueId: string | null;
  messageName: string | null;
  outcome: InboxOutcome | 'duplicate';
  detail?: string;
  /** For rejected messages: the stable reason code and the dead letter keeping the message. */
  reasonCode?: string;
  deadLetterId?: number;
}

export interface IngestResult {
  messages: MessageOutcome[];
  /** Response envelopes (CFX wire form) for the requests in the payload, in order. */
  responses: Record<string, unknown>[];
  /** Set when the payload as a whole could not be read (it is kept as one dead letter). */
  payloadError: { code: string; message: string; deadLetterId: number } | null;
}

export interface PipelineOptions {
  /** The MES's CFX handle. */
  handle: string;
  endpoint: () => EndpointInfo;
  /** Offset (minutes east of UTC) for zoneless timestamps. */
  zonelessOffsetMinutes?: number;
  log?: (msg: string, err?: unknown) => void;
}

interface DeadLetterRow extends NewDeadLetter {
  /** Where its id is reported. */
  target: { work?: Work; item?: ItemState };
}

interface ItemState {
  input: IncomingPayload;
  result: IngestResult;
  works: Work[];
  decodeRejections: DeadLetterRow[];
}

interface Work {
  item: ItemState;
  index: number;
  env: CfxEnvelope;
  /** Bytes kept if the message must be dead-lettered. */
  raw: () => { payload: Buffer; contentEncoding: string | null };
  cls: 'supported' | 'request-unsupported' | 'unsupported';
  typed: TypedMessage | null;
  errors: CfxFieldError[] | null;
  machine: Machine | null;
  // Result of processing (reset for each attempt).
  outcome?: InboxOutcome | 'duplicate';
  detail?: string | null;
  rejection?: Rejection | null;
  response?: Record<string, unknown> | null;
  deadLetterId?: number;
  /** Safe mode: the outcome its passages' finish gave (the handler returned pending). */
  passageResult?: HandlerResult;
}

class SafeModeNeeded extends Error {}

const wire = (e: CfxOutgoingEnvelope): Record<string, unknown> => JSON.parse(encodeCfxEnvelope(e)) as Record<string, unknown>;
const isRetryable = (e: unknown) =>
  e instanceof AppError && (e.code === 'CONCURRENT_UPDATE' || (e.code === 'DUPLICATE' && String(e.details?.constraint ?? '').startsWith('cfx_inbox')));

export function createCfxPipeline(deps: CfxDeps, registry: HandlerRegistry, resolver: MachineResolver, opts: PipelineOptions) {
  const db: Db = deps.db;
  if (!isScopedDb(db)) throw new Error('The CFX pipeline needs services built on a transaction-scoped Db (withTransactionScopes), so effects and inbox commit together');
  const log = opts.log ?? (() => undefined);

  // ── preparation (no transaction) ───────────────────────────────────────────────────────

  async function prepare(input: IncomingPayload): Promise<ItemState> {
    const item: ItemState = { input, result: { messages: [], responses: [], payloadError: null }, works: [], decodeRejections: [] };
    const receivedAt = input.receivedAt ?? new Date();
    const bytes = typeof input.payload === 'string' ? Buffer.from(input.payload, 'utf8') : input.payload;
    const decoded = input.decoded ?? decodeForIngest(input.payload, input.contentEncoding, receivedAt, opts.zonelessOffsetMinutes ?? 0);
    if (decoded instanceof CfxDecodeError) {
      const e = decoded;
      item.decodeRejections.push({
        transport: input.transport, payload: bytes, contentEncoding: input.contentEncoding ?? null, uniqueId: null, source: null, messageName: null,
        reasonCode: e.code, reason: e.message, field: e.field || null, errors: null, target: { item },
      });
      return item;
    }
    for (const r of decoded.rejected) {
      const row: DeadLetterRow = {
        transport: input.transport, payload: Buffer.from(JSON.stringify(r.raw) ?? 'null', 'utf8'), contentEncoding: null, uniqueId: r.uniqueId, source: null,
        messageName: r.messageName, reasonCode: r.code, reason: r.message, field: r.field || null, errors: null, target: {},
      };
      item.decodeRejections.push(row);
      item.result.messages.push({ index: r.index, uniqueId: r.uniqueId, messageName: r.messageName, outcome: 'rejected', reasonCode: r.code, detail: r.message });
    }
    let position = 0;
    for (const env of decoded.envelopes) {
      // Array positions of good envelopes: the ones not taken by rejected elements, in order.
      while (decoded.rejected.some((r) => r.index === position)) position++;
      const single = !decoded.batch;
      const cls = classifyMessage(env.messageName);
      const v = cls === 'supported' ? validateMessage(env, { zonelessOffsetMinutes: opts.zonelessOffsetMinutes ?? 0 }) : null;
      item.works.push({
        item, index: decoded.batch ? position : 0, env, cls,
        raw: single
          ? () => ({ payload: bytes, contentEncoding: input.contentEncoding ?? null })
          : () => ({ payload: Buffer.from(encodeCfxEnvelope(env, { typeAnnotations: env.bodyType !== null }), 'utf8'), contentEncoding: null }),
        typed: v?.ok ? v.message : null,
        errors: v && !v.ok ? v.errors : null,
        machine: env.source === opts.handle ? null : await resolver.resolve(env.source),
      });
      position++;
    }
    return item;
  }

  // ── processing (in the batch transaction) ──────────────────────────────────────────────

  function setResult(w: Work, r: HandlerResult): void {
    if (r.outcome === 'pending') throw new Error(`${w.env.messageName} ${w.env.uniqueId}: pending outcome without queued passages`);
    w.outcome = r.outcome;
    w.detail = 'detail' in r ? (r.detail ?? null) : null;
    w.rejection = r.outcome === 'rejected' ? r.rejection : null;
    w.response = 'response' in r && r.response ? wire(r.response) : null;
  }

  type Deferred = Map<string, { rows: unknown[]; write: (q: Queryable, rows: unknown[]) => Promise<unknown> }>;

  async function process(tx: Tx, w: Work, batch: Map<string, Work>, mode: Mode, deferred: Deferred, wave: Wave, book: TransactionBook): Promise<void> {
    const safe = mode === 'safe';
    const env = w.env;
    if (env.source !== null && env.source === opts.handle) {
      w.outcome = 'own';
      w.detail = "one of this MES's own messages, echoed by the broker";
      return;
    }
    if (w.cls === 'unsupported') {
      w.outcome = 'unsupported';
      w.detail = `${env.messageName} is not interpreted by this MES; kept`;
      return;
    }
    if (w.cls === 'request-unsupported') return setResult(w, { outcome: 'answered', response: makeNotSupportedResponse(env, opts.handle), detail: 'NotSupportedResponse' });
    if (w.errors) {
      const first = w.errors[0]!;
      return setResult(w, { outcome: 'rejected', rejection: { code: 'CFX_INVALID', message: w.errors.map((e) => e.message).join('; '), field: first.field, errors: w.errors } });
    }
    const typed = w.typed!;
    const spec = registry.get(typed.name);
    if (!spec) return setResult(w, { outcome: 'recorded', detail: `no handler registered for ${typed.name}; kept` });
    const isRequest = SUPPORTED_MESSAGES[typed.name].request;
    if (isRequest && env.target && env.target !== opts.handle && w.item.input.transport === 'amqp') {
      return setResult(w, { outcome: 'recorded', detail: `request addressed to ${env.target}, not to this MES; kept, not answered` });
    }
    const caller = w.item.input.caller;
    if (!w.machine && !isRequest && caller?.stationIds) {
      // A token bound to stations may not leave messages for handles nobody can vouch it owns.
      return setResult(w, {
        outcome: 'rejected',
        rejection: { code: 'STATION_NOT_PERMITTED', message: `${caller.name} is limited to its stations; ${env.source ?? 'a message without Source'} is no machine of theirs`, field: 'Source' },
      });
    }
    if (!w.machine && !isRequest) {
      if (env.source === null) return setResult(w, { outcome: 'rejected', rejection: { code: 'CFX_NO_SOURCE', message: 'the envelope has no Source handle; the sender cannot be told', field: 'Source' } });
      w.outcome = 'unassigned';
      w.detail = `no equipment has the CFX handle ${env.source}; kept for replay once it is registered`;
      return;
    }
    if (w.machine && caller?.stationIds && !caller.stationIds.includes(w.machine.stationId)) {
      return setResult(w, {
        outcome: 'rejected',
        rejection: { code: 'STATION_NOT_PERMITTED', message: `${caller.name} may not speak for ${env.source} (station ${w.machine.stationCode})`, field: 'Source' },
      });
    }
    // Rows deferred by this message join the batch's only if its handler did not fail.
    const staged: [string, unknown[], (q: Queryable, rows: unknown[]) => Promise<unknown>][] = [];
    const ctx: HandlerContext = {
      tx, envelope: env, machine: w.machine, principal: machinePrincipal(env.source ?? 'unknown', w.machine), deps, handle: opts.handle,
      endpoint: opts.endpoint(), transport: w.item.input.transport,
      settle: (uniqueId, result) => settle(tx, batch, uniqueId, result),
      defer: async (key, rows, write) => {
        if (rows.length === 0) return;
        if (safe) await write(tx, rows);
        else staged.push([key, rows, write as (q: Queryable, rows: unknown[]) => Promise<unknown>]);
      },
      passages: async (requests, finish) => {
        const principal = ctx.principal;
        if (safe) {
          // Safe mode: at once, inside this message's savepoint.
          w.passageResult = await finish(await runPassages(requests.map((request) => ({ principal, request }))));
          return;
        }
        await wave.add({ work: w, principal, requests, finish });
      },
      joint: async (key, inputs, call, finish) => {
        const entry = { work: w, key, inputs, call, finish } as unknown as JointEntry;
        if (safe) {
          w.passageResult = await finish((await runJoint([entry])).get(entry)! as JointResult<never>);
          return;
        }
        wave.join(entry);
      },
      transactions: {
        get: (tid) => book.get(w.machine!.equipmentId, tid),
        put: (tid, row) => book.put(w.machine!.equipmentId, tid, row),
      },
      inOrder: mode !== 'levels',
      remember: (key, load) => book.remember(key, load),
      activeRecipe: (equipmentId, at) => book.activeRecipe(equipmentId, at, () => deps.equipment.activeRecipe(equipmentId, LATEST, tx), () => deps.equipment.activeRecipe(equipmentId, at, tx)),
    };
    if (env.messageName === 'CFX.Production.RecipeActivated' && w.machine) book.forgetRecipe(w.machine.equipmentId);
    const commitStaged = () => {
      for (const [key, rows, write] of staged) {
        const d = deferred.get(key);
        if (d) d.rows.push(...rows);
        else deferred.set(key, { rows: [...rows], write });
      }
    };
    const run = () => spec.handle(ctx, typed.body as never);
    if (!safe) {
      // Fast path: no savepoint. A failure, or a refusal a service raised after writing, means the
      // batch is redone with a savepoint per message (and per service transaction).
      let r: HandlerResult;
      try {
        r = await run();
      } catch (e) {
        if (isRetryable(e)) throw e;
        throw new SafeModeNeeded(`${env.messageName} ${env.uniqueId}: ${(e as Error).message}`, { cause: e });
      }
      if (isTainted()) throw new SafeModeNeeded(`${env.messageName} ${env.uniqueId}: a service refused after writing`);
      commitStaged();
      if (r.outcome === 'pending') {
        if (!wave.has(w)) throw new SafeModeNeeded(`${env.messageName} ${env.uniqueId}: pending outcome without queued passages`);
        return; // the wave's flush gives the outcome
      }
      return setResult(w, r);
    }
    const sp = 'cfx_msg';
    await tx.query(`SAVEPOINT ${sp}`);
    let result: HandlerResult;
    try {
      result = await run();
      // Its production transactions are written inside its savepoint.
      await book.flush();
    } catch (e) {
      await tx.query(`ROLLBACK TO SAVEPOINT ${sp}`);
      await tx.query(`RELEASE SAVEPOINT ${sp}`);
      book.forget();
      if (isRetryable(e)) throw e;
      if (e instanceof AppError && e.status < 500) {
        return setResult(w, { outcome: 'rejected', rejection: { code: e.code, message: e.message, ...(e.errors ? { errors: e.errors } : {}) } });
      }
      log(`CFX handler failed for ${env.messageName} ${env.uniqueId}`, e);
      return setResult(w, { outcome: 'rejected', rejection: { code: 'HANDLER_FAILED', message: `processing failed: ${(e as Error).message ?? String(e)}` } });
    }
    // A rejection the handler returned keeps what it wrote (e.g. the refusal record of the interlock).
    try {
      await tx.query(`RELEASE SAVEPOINT ${sp}`);
      commitStaged();
    } catch {
      // The handler left the transaction aborted (a failed statement it caught): undo it all.
      await tx.query(`ROLLBACK TO SAVEPOINT ${sp}`);
      await tx.query(`RELEASE SAVEPOINT ${sp}`);
      book.forget();
      if (result.outcome !== 'rejected') {
        return setResult(w, { outcome: 'rejected', rejection: { code: 'HANDLER_FAILED', message: 'processing left the transaction in an error state' } });
      }
    }
    if (result.outcome === 'pending') {
      if (!w.passageResult) return setResult(w, { outcome: 'rejected', rejection: { code: 'HANDLER_FAILED', message: 'the handler queued no passages' } });
      return setResult(w, w.passageResult);
    }
    setResult(w, result);
  }

  // ── tracking passages, applied in waves ────────────────────────────────────────────────

  /**
   * Runs passages through the tracking service: starts and completes of every machine in one
   * set-based batch call (each with its machine as caller), aborts one by one. Results in
   * request order.
   */
  async function runPassages(requests: { principal: Principal; request: PassageRequest }[]): Promise<BatchResult<unknown>[]> {
    const tracking = deps.tracking;
    if (!tracking) throw new Error('tracking service not available');
    const out: BatchResult<unknown>[] = new Array(requests.length);
    const moves = requests.map((r, i) => [r, i] as const).filter(([r]) => r.request.kind !== 'abort');
    if (moves.length) {
      const res = await tracking.passages(moves.map(([r]) => ({ ...(r.request as Exclude<PassageRequest, { kind: 'abort' }>), who: r.principal })));
      // A failure that is no clean refusal (an error, a lost race, a refusal after writing) is the
      // batch's: it is retried or redone in safe mode, never given to a message as its outcome.
      const unclean = res.find((r): r is { ok: false; error: AppError } => !r.ok && (r.error.status >= 500 || isRetryable(r.error)));
      if (unclean) throw unclean.error;
      if (isTainted()) throw new SafeModeNeeded('a tracking passage failed after writing');
      res.forEach((r, k) => (out[moves[k]![1]] = r));
    }
    for (const [i, r] of requests.entries()) {
      if (r.request.kind !== 'abort') continue;
      try {
        out[i] = { ok: true, value: await tracking.abort(r.principal, r.request.input) };
      } catch (e) {
        if (!(e instanceof AppError) || e.status >= 500) throw e;
        out[i] = { ok: false, error: e };
      }
    }
    return out;
  }

  interface WaveEntry { work: Work; principal: Principal; requests: PassageRequest[]; finish: (results: BatchResult<unknown>[]) => Promise<HandlerResult> }
  interface JointEntry { work: Work; key: string; inputs: unknown[]; call: (inputs: unknown[]) => Promise<unknown>; finish: (r: JointResult<unknown>) => Promise<HandlerResult> }

  /**
   * Makes the joint calls of one key (see HandlerContext.joint): once with every message's
   * inputs; when that is refused, once per message, so each refusal reaches its own message. A
   * failure that is no clean refusal (an error, or a refusal after writing) is thrown: the batch
   * is then redone in safe mode.
   */
  async function runJoint(group: JointEntry[]): Promise<Map<JointEntry, JointResult<unknown>>> {
    const out = new Map<JointEntry, JointResult<unknown>>();
    const clean = (e: unknown): e is AppError => e instanceof AppError && e.status < 500 && !isRetryable(e) && !isTainted();
    try {
      const value = await group[0]!.call(group.flatMap((j) => j.inputs));
      for (const j of group) out.set(j, { ok: true, value, joined: group.length > 1 });
      return out;
    } catch (e) {
      if (!clean(e)) throw e;
      if (group.length === 1) return out.set(group[0]!, { ok: false, error: e });
    }
    for (const j of group) {
      try {
        out.set(j, { ok: true, value: await j.call(j.inputs), joined: false });
      } catch (e) {
        if (!clean(e)) throw e;
        out.set(j, { ok: false, error: e });
      }
    }
    return out;
  }

  /**
   * What the messages of one level queued (see schedule.ts): their joint service calls, then
   * their passages with one tracking call (`passages`), applied by `flush`; each message's
   * `finish` then gives it its outcome.
   */
  function createWave() {
    let entries: WaveEntry[] = [];
    let joints: JointEntry[] = [];
    let ids = new Set<string>();
    let aborts = new Set<string>();
    const members = new Set<Work>();
    async function flushPassages(): Promise<void> {
      if (entries.length === 0) return;
      const now = entries;
      entries = [];
      ids = new Set();
      aborts = new Set();
      const results = await runPassages(now.flatMap((e) => e.requests.map((request) => ({ principal: e.principal, request }))));
      let k = 0;
      for (const e of now) {
        const mine = results.slice(k, k + e.requests.length);
        k += e.requests.length;
        setResult(e.work, await e.finish(mine));
        members.delete(e.work);
      }
    }
    async function flush(): Promise<void> {
      if (joints.length) {
        const now = joints;
        joints = [];
        const groups = new Map<string, JointEntry[]>();
        for (const j of now) {
          const g = groups.get(j.key);
          if (g) g.push(j);
          else groups.set(j.key, [j]);
        }
        for (const g of groups.values()) {
          const res = await runJoint(g);
          for (const j of g) {
            setResult(j.work, await j.finish(res.get(j)!));
            members.delete(j.work);
          }
        }
      }
      await flushPassages();
    }
    return {
      flush,
      has: (w: Work) => members.has(w),
      join(e: JointEntry): void {
        joints.push(e);
        members.add(e.work);
      },
      /** Queues a message's passages (an abort is applied after the wave's starts and completes, so it never shares a wave with them for one unit). */
      async add(e: WaveEntry): Promise<void> {
        const clash = e.requests.some((r) => (r.kind === 'abort' ? ids.has(r.input.identifier) : aborts.has(r.input.identifier)));
        if (clash) await flushPassages();
        entries.push(e);
        members.add(e.work);
        for (const r of e.requests) {
          ids.add(r.input.identifier);
          if (r.kind === 'abort') aborts.add(r.input.identifier);
        }
      },
    };
  }
  type Wave = ReturnType<typeof createWave>;

  /** Gives an earlier message its final outcome (see HandlerContext.settle). */
  async function settle(tx: Tx, batch: Map<string, Work>, uniqueId: string, r: HandlerResult): Promise<void> {
    const inBatch = batch.get(uniqueId);
    if (inBatch) return setResult(inBatch, r);
    const detail = 'detail' in r ? (r.detail ?? null) : r.outcome === 'rejected' ? r.rejection.message : null;
    const row = (
      await tx.query<{ source: string | null; message_name: string; body: Record<string, unknown> | null; transport: string; event_at: Date | null }>(
        `UPDATE cfx_inbox SET outcome = $2, detail = $3, applied_at = CASE WHEN $2 = 'applied' THEN clock_timestamp() END, body = CASE WHEN $2 = 'applied' THEN NULL ELSE body END
          WHERE unique_id = $1 RETURNING source, message_name, body, transport, event_at`,
        [uniqueId, r.outcome, detail],
      )
    ).rows[0];
    if (row && r.outcome === 'rejected') {
      const env = { messageName: row.message_name, source: row.source, uniqueId, timeStamp: row.event_at ?? new Date(), body: row.body ?? {} };
      await insertDeadLetters(tx, [{
        transport: row.transport, payload: Buffer.from(encodeCfxEnvelope(env), 'utf8'), contentEncoding: null, uniqueId, source: row.source, messageName: row.message_name,
        reasonCode: r.rejection.code, reason: r.rejection.message, field: r.rejection.field ?? null, errors: r.rejection.errors ?? null,
      }]);
    }
  }

  async function flush(tx: Tx, items: ItemState[], fresh: Work[], deferred: Deferred): Promise<void> {
    for (const d of deferred.values()) await d.write(tx, d.rows);
    // Dead letters: undecodable payloads and elements, and rejected messages.
    const dl: DeadLetterRow[] = [];
    for (const it of items) dl.push(...it.decodeRejections);
    for (const w of fresh) {
      if (w.outcome !== 'rejected') continue;
      const raw = w.raw();
      dl.push({
        transport: w.item.input.transport, payload: raw.payload, contentEncoding: raw.contentEncoding, uniqueId: w.env.uniqueId, source: w.env.source,
        messageName: w.env.messageName, reasonCode: w.rejection!.code, reason: w.rejection!.message, field: w.rejection!.field ?? null,
        errors: w.rejection!.errors ?? null, target: { work: w },
      });
    }
    const ids = await insertDeadLetters(tx, dl);
    dl.forEach((row, i) => {
      if (row.target.work) row.target.work.deadLetterId = ids[i];
      else if (row.target.item) row.target.item.result.payloadError = { code: row.reasonCode, message: row.reason, deadLetterId: ids[i]! };
      else {
        const item = items.find((it) => it.decodeRejections.includes(row));
        const m = item?.result.messages.find((x) => x.uniqueId === row.uniqueId && x.reasonCode === row.reasonCode && x.deadLetterId === undefined);
        if (m) m.deadLetterId = ids[i];
      }
    });
    // Unassigned: the envelope in wire form, for replay.
    const un = fresh.filter((w) => w.outcome === 'unassigned');
    if (un.length) {
      await tx.query(
        `INSERT INTO cfx_unassigned (unique_id, source, message_name, transport, event_at, envelope)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
         ON CONFLICT (unique_id) DO UPDATE SET replayed_at = NULL, replay_outcome = 'unassigned', replay_detail = 'handle still unknown at replay'`,
        [
          un.map((w) => w.env.uniqueId), un.map((w) => w.env.source), un.map((w) => w.env.messageName), un.map((w) => w.item.input.transport),
          un.map((w) => w.env.timeStamp), un.map((w) => encodeCfxEnvelope(w.env, { typeAnnotations: w.env.bodyType !== null })),
        ],
        'cfx_unassigned_insert',
      );
    }
    // The inbox: one row per message, whatever became of it (applied_at: the clock at this last statement, just before the commit).
    if (fresh.length) {
      const keepBody = (w: Work) => w.outcome === 'recorded' || w.outcome === 'unsupported';
      await tx.query(
        `INSERT INTO cfx_inbox (unique_id, source, message_name, transport, event_at, received_at, applied_at, outcome, station_id, equipment_id, detail, body, response)
         SELECT u, s, n, t, e, r, CASE WHEN o IN ('applied', 'answered') THEN clock_timestamp() END, o, st, eq, d, b::jsonb, rs::jsonb
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[])
             AS x(u, s, n, t, e, r, o, st, eq, d, b, rs)`,
        [
          fresh.map((w) => w.env.uniqueId), fresh.map((w) => w.env.source), fresh.map((w) => w.env.messageName), fresh.map((w) => w.item.input.transport),
          fresh.map((w) => w.env.timeStamp), fresh.map((w) => w.item.input.receivedAt ?? new Date()), fresh.map((w) => w.outcome),
          fresh.map((w) => w.machine?.stationId ?? null), fresh.map((w) => w.machine?.equipmentId ?? null),
          fresh.map((w) => (w.outcome === 'rejected' ? w.rejection!.message : (w.detail ?? null))),
          fresh.map((w) => (keepBody(w) ? JSON.stringify(w.env.body) : null)), fresh.map((w) => (w.response ? JSON.stringify(w.response) : null)),
        ],
        'cfx_inbox_insert',
      );
    }
  }

  /** The TransactionID a supported message carries (WorkStarted / WorkCompleted, results, installed materials …). */
  function transactionIdOf(w: Work): string | null {
    const tid = (w.typed?.body as { transactionId?: unknown } | undefined)?.transactionId;
    return typeof tid === 'string' && tid !== '' ? tid : null;
  }

  /** What the scheduler needs to know of a message: its kind (see schedule.ts). */
  function kindOf(w: Work): ScheduleItem['kind'] {
    const name = w.env.messageName;
    if (w.cls !== 'supported' || w.errors || !w.typed || !registry.get(name) || (w.env.source !== null && w.env.source === opts.handle)) return 'free';
    if (SUPPORTED_MESSAGES[name as keyof typeof SUPPORTED_MESSAGES].request) return 'barrier';
    if (!w.machine) return 'free';
    if (name === 'CFX.Production.WorkStarted') return 'start';
    if (name === 'CFX.Production.WorkCompleted') return 'complete';
    return NON_READERS.has(name) ? 'free' : 'effect';
  }

  /**
   * The levels of a batch (schedule.ts): each message's kind, station and units. A message
   * naming no unit but a TransactionID is about the units of that transaction (named by its
   * WorkStarted earlier in the batch, or before). A panel and its units are one key: one query
   * finds which of the named identifiers are panels or units of panels.
   */
  async function plan(tx: Tx, fresh: Work[], book: TransactionBook): Promise<number[][]> {
    const items: ScheduleItem[] = [];
    const started = new Map<string, string[]>();
    const raw = new Set<string>();
    for (const w of fresh) {
      const kind = kindOf(w);
      let units = kind === 'free' || kind === 'barrier' ? [] : namedUnits(w.env.body);
      const tid = transactionIdOf(w);
      if (tid && w.machine && kind !== 'free') {
        const key = `${w.machine.equipmentId}\u0000${tid}`;
        if (kind === 'start' && units.length) started.set(key, units);
        else if (units.length === 0) units = started.get(key) ?? (await book.get(w.machine.equipmentId, tid))?.identifiers ?? [];
      }
      for (const u of units) raw.add(u);
      items.push({ kind, stationId: w.machine?.stationId ?? null, units });
    }
    if (raw.size) {
      const panels = (
        await tx.query<{ panel: string; ident: string }>(
          `SELECT p.code AS panel, p.code AS ident FROM panels p WHERE p.code = ANY($1::text[])
           UNION ALL SELECT p.code, u.serial FROM units u JOIN panels p ON p.id = u.panel_id WHERE u.serial = ANY($1::text[])`,
          [[...raw]],
          'cfx_plan_panels',
        )
      ).rows;
      if (panels.length) {
        const canon = new Map(panels.map((r) => [r.ident, r.panel]));
        for (const it of items) it.units = [...new Set(it.units.map((u) => canon.get(u) ?? u))];
      }
    }
    return schedule(items);
  }

  /**
   * How a batch is applied: `levels` (schedule.ts), `ordered` (one message after the other in
   * the order received, flat; after an ApplyInOrder), `safe` (in order, a savepoint per message).
   */
  type Mode = 'levels' | 'ordered' | 'safe';

  async function attempt(items: ItemState[], mode: Mode): Promise<void> {
    const safe = mode === 'safe';
    const works = items.flatMap((it) => it.works);
    for (const it of items) {
      it.result.payloadError = null;
      for (const m of it.result.messages) delete m.deadLetterId;
    }
    for (const w of works) {
      w.outcome = undefined;
      w.detail = null;
      w.rejection = null;
      w.response = null;
      w.deadLetterId = undefined;
    }
    await db.tx((tx) =>
      runInTransaction(tx, async () => {
        const ids = [...new Set(works.map((w) => w.env.uniqueId))];
        const replayIds = [...new Set(works.filter((w) => w.item.input.replay).map((w) => w.env.uniqueId))];
        if (replayIds.length) await tx.query(`DELETE FROM cfx_inbox WHERE unique_id = ANY($1) AND outcome IN ('rejected', 'unassigned')`, [replayIds]);
        const answers = answersOnly(works);
        const existing = new Map(
          ids.length
            ? (await tx.query<{ unique_id: string; response: Record<string, unknown> | null }>(answers ? DEDUP_ANSWERS_SQL : DEDUP_SQL, [ids], answers ? 'cfx_inbox_dedup_answers' : 'cfx_inbox_dedup'))
              .rows.map((r) => [r.unique_id, r])
            : [],
        );
        const batch = new Map<string, Work>();
        const fresh: Work[] = [];
        const deferred: Deferred = new Map();
        const wave = createWave();
        for (const w of works) {
          const prior = existing.get(w.env.uniqueId);
          const first = batch.get(w.env.uniqueId);
          if (prior || first) {
            w.outcome = 'duplicate';
            w.response = prior ? prior.response : null;
            w.detail = first ? 'repeated within the same batch' : null;
            continue;
          }
          batch.set(w.env.uniqueId, w);
          fresh.push(w);
        }
        // The production transactions of the batch: one read (see book.ts).
        const book = new TransactionBook(tx);
        await book.load(fresh.flatMap((w) => {
          const tid = transactionIdOf(w);
          return tid && w.machine ? [{ equipmentId: w.machine.equipmentId, transactionId: tid }] : [];
        }));
        // Safe mode: one message after the other, each in its savepoint. Fast path: in levels (schedule.ts).
        const levels = mode === 'levels' ? await plan(tx, fresh, book) : mode === 'ordered' ? fresh.map((_, i) => [i]) : [fresh.map((_, i) => i)];
        let n = 0;
        // Requests go first (see priority.ts), but a batch holds its locks while it waits: its
        // waits together are bounded by GATE_BUDGET_MS, so a stream of requests cannot stretch it.
        const gateUntil = performance.now() + GATE_BUDGET_MS;
        for (const level of levels) {
          for (const i of level) {
            // Long batches must not hold the event loop either.
            if (gate && performance.now() < gateUntil) await gate(gateUntil - performance.now());
            if (++n % 50 === 0) await yieldToIo();
            await process(tx, fresh[i]!, batch, mode, deferred, wave, book);
          }
          await wave.flush();
        }
        await book.flush();
        const unsettled = fresh.find((w) => w.outcome === undefined);
        if (unsettled) throw new SafeModeNeeded(`${unsettled.env.messageName} ${unsettled.env.uniqueId} got no outcome`);
        // A request repeated inside one batch gets the first one's answer.
        for (const w of works) if (w.outcome === 'duplicate' && !w.response) w.response = batch.get(w.env.uniqueId)?.response ?? null;
        await flush(tx, items, fresh, deferred);
      }, { savepoints: safe }),
    );
  }

  /**
   * Applies a batch of payloads in one transaction and returns, per payload, what became of
   * each message and the responses to its requests. Throws only when the database is
   * unreachable or keeps failing: then nothing was committed and the transport must not
   * acknowledge.
   */
  async function ingest(inputs: IncomingPayload[]): Promise<IngestResult[]> {
    const items: ItemState[] = [];
    for (const [k, input] of inputs.entries()) {
      // Long batches must not hold the event loop: requests (ValidateUnitsRequest) share it.
      if (k % 25 === 24) await yieldToIo();
      items.push(await prepare(input));
    }
    let mode: Mode = 'levels';
    for (let tries = 1; ; tries++) {
      try {
        await attempt(items, mode);
        break;
      } catch (e) {
        if (isConnectionError(e) || tries >= 6) throw e;
        if (isRetryable(e)) continue;
        if (e instanceof ApplyInOrder && mode === 'levels') {
          mode = 'ordered';
          continue;
        }
        if (mode !== 'safe') {
          log(`CFX batch of ${inputs.length} payload(s) re-run with a savepoint per message: ${(e as Error).message}`);
          mode = 'safe';
          continue;
        }
        throw e;
      }
    }
    for (const it of items) {
      for (const w of it.works) {
        it.result.messages.push({
          index: w.index, uniqueId: w.env.uniqueId, messageName: w.env.messageName, outcome: w.outcome!,
          ...(w.outcome === 'rejected' ? { reasonCode: w.rejection!.code, detail: w.rejection!.message, ...(w.deadLetterId ? { deadLetterId: w.deadLetterId } : {}) } : w.detail ? { detail: w.detail } : {}),
        });
        if (w.response) it.result.responses.push(w.response);
      }
      it.result.messages.sort((a, b) => a.index - b.index);
    }
    return items.map((it) => it.result);
  }

  return { ingest, handle: opts.handle, registry };
}
export type CfxPipeline = ReturnType<typeof createCfxPipeline>;

/** "At any time": the latest activation (see TransactionBook.activeRecipe). */
const LATEST = new Date('9999-12-31T00:00:00Z');

/**
 * The batch's UniqueIDs already in the inbox: one probe of the primary key per ID (LATERAL …
 * LIMIT 1), so the plan never depends on the table's statistics. (`unique_id = ANY($1)` let the
 * planner choose a sequential scan of the whole inbox whenever its statistics were missing or
 * stale, e.g. a cached generic plan made while the table was small: measured 5.5 million rows read
 * per 20,000 messages on a server with autovacuum off.)
 */
const DEDUP_SQL = `SELECT i.unique_id, i.response FROM unnest($1::text[]) AS k(id)
  CROSS JOIN LATERAL (SELECT unique_id, response FROM cfx_inbox WHERE unique_id = k.id LIMIT 1) i`;
/**
 * The same for a batch of requests only (ValidateUnitsRequest …): their effects are their answer
 * (kept in the inbox for a repeated request), so their commit does not wait for the WAL flush
 * (synchronous_commit off for this transaction, set in the same round trip), which under bulk
 * ingestion is most of a request's commit time. A refusal logged by the interlock sets the flush
 * back on for the transaction (refusals are records). Batches that change anything else commit
 * as always.
 */
const DEDUP_ANSWERS_SQL = `${DEDUP_SQL}
  UNION ALL SELECT NULL, NULL FROM (SELECT set_config('synchronous_commit', 'off', true) AS v) s WHERE s.v IS NULL`; // the setting, no row

/** Whether a batch holds requests only (see DEDUP_ANSWERS_SQL). */
function answersOnly(works: readonly { cls: string; env: { messageName: string } }[]): boolean {
  return works.length > 0 && works.every((w) => w.cls === 'request-unsupported' || (w.cls === 'supported' && SUPPORTED_MESSAGES[w.env.messageName as keyof typeof SUPPORTED_MESSAGES].request));
}

/** The most a batch waits, in all, for requests being answered (see priority.ts). */
const GATE_BUDGET_MS = 100;
/**
 * Awaited before each message of a batch (see priority.ts): the broker consumer's thread sets it so
 * that its batches give way to the requests the listener is answering. None by default.
 */
let gate: ((maxWaitMs: number) => Promise<void>) | null = null;
export function setIngestGate(fn: ((maxWaitMs: number) => Promise<void>) | null): void {
  gate = fn;
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P03', '08006', '08003', '08001'].includes(code) || /Connection terminated|not queryable/i.test(String((e as Error)?.message));
}

/**
 * Messages that neither read nor change anything the interlock or a passage judges: event-log
 * and reading appends (deferred to the end of the batch anyway), station states and faults,
 * heartbeats; and the passage messages, whose passages queue themselves. Other messages may
 * need the queued passages applied first (see createWave's `before`).
 */
const NON_READERS = new Set([
  'CFX.Production.WorkStarted', 'CFX.Production.WorkCompleted', 'CFX.Production.UnitsArrived', 'CFX.Production.UnitsDeparted',
  'CFX.Sensor.Identification.IdentifiersRead', 'CFX.Production.ReadingsRecorded', 'CFX.Production.Processing.UnitsProcessed',
  'CFX.ResourcePerformance.StationStateChanged', 'CFX.ResourcePerformance.FaultOccurred', 'CFX.ResourcePerformance.FaultCleared',
  'CFX.ResourcePerformance.FaultAcknowledged', 'CFX.ResourcePerformance.StationOnline', 'CFX.ResourcePerformance.StationOffline',
  'CFX.Heartbeat', 'CFX.EndpointConnected', 'CFX.EndpointShuttingDown',
]);

/** Every unit or carrier identifier a message body names (PrimaryIdentifier and the unit lists). */
export function namedUnits(body: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof body.PrimaryIdentifier === 'string' && body.PrimaryIdentifier !== '') out.push(body.PrimaryIdentifier);
  for (const k of UNIT_LISTS) {
    const list = body[k];
    if (!Array.isArray(list)) continue;
    for (const u of list) {
      const id = (u as Record<string, unknown> | null)?.UnitIdentifier;
      if (typeof id === 'string' && id !== '') out.push(id);
    }
  }
  return out;
}
