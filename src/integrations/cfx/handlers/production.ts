import { AppError } from '../../../platform/errors.ts';
import type { CountInput, MovementInput, ReadingInput } from '../../../modules/equipment/index.ts';
import type { BatchResult } from '../../../modules/tracking/index.ts';
import { emptyTransaction, type ParkedCompletion, type TransactionRow } from '../book.ts';
import type { CfxBodies, CfxPolymorphic, UnitPosition } from '../messages.ts';
import { applied, pending, recorded, rejected, type HandlerContext, type HandlerResult, type HandlerSpec, type Machine, type PassageRequest, type Rejection } from './types.ts';

/**
 * Production messages → the tracking service (the interlock's start / complete, the same
 * functions as POST /api/v1/tracking/start and /complete) and the equipment service (counts,
 * unit movements).
 *
 * Out-of-order arrival within a unit's life is harmless by construction:
 * - UnitsArrived, UnitsDeparted and IdentifiersRead are appended to an event log and change no
 *   unit state, so a UnitsDeparted before its WorkCompleted changes nothing;
 * - a unit's state changes only through WorkStarted (start) and WorkCompleted (complete), each
 *   at its event time (TimeStamp), and the pair is tied by TransactionID in cfx_transactions:
 *   a WorkCompleted applies even without a start (tracking accepts a completion without one);
 *   a WorkStarted arriving after its WorkCompleted is recognised as stale and not applied (it
 *   would put a finished unit back in process); a WorkCompleted that names no units and arrives
 *   before its WorkStarted is parked and applied when the WorkStarted brings the units.
 */

const m = (ctx: HandlerContext): Machine => ctx.machine!;

/** The identifiers a unit-list message is about: each unit's, else the carrier / panel barcode. */
export function identifiersOf(b: { primaryIdentifier: string | null; units: UnitPosition[] }): string[] {
  const ids = b.units.map((u) => u.unitIdentifier).filter((s) => s.trim() !== '');
  if (ids.length) return [...new Set(ids)];
  return b.primaryIdentifier && b.primaryIdentifier.trim() !== '' ? [b.primaryIdentifier] : [];
}

/** Turns a service refusal into a rejection with the most specific code (the interlock's reason when there is one); null for what is not a refusal. */
export function refusalOf(e: unknown, identifier?: string): Rejection | null {
  // A concurrent update (a deadlock or serialization failure between two batches) is no refusal:
  // the batch is retried.
  if (!(e instanceof AppError) || e.status >= 500 || e.code === 'CONCURRENT_UPDATE') return null;
  const verdict = e.details?.verdict as { primary?: { code: string; number: number; message: string } | null } | undefined;
  const primary = verdict?.primary;
  const prefix = identifier ? `${identifier}: ` : '';
  if (primary) return { code: primary.code, message: `${prefix}${primary.message} (FailureCode ${primary.number})` };
  return { code: e.code, message: `${prefix}${e.message}`, ...(e.errors ? { errors: e.errors } : {}) };
}

async function program(ctx: HandlerContext, name: string | null, revision: string | null): Promise<{ name: string | null; revision: string | null }> {
  if (name) return { name, revision };
  const active = await ctx.activeRecipe(m(ctx).equipmentId, ctx.envelope.timeStamp);
  return { name: active?.recipeName ?? null, revision: active?.revision ?? null };
}

async function movements(ctx: HandlerContext, kind: MovementInput['kind'], b: { primaryIdentifier: string | null; units: UnitPosition[]; lane?: number | null }): Promise<HandlerResult> {
  const mc = m(ctx);
  const rows: MovementInput[] = b.units.length
    ? b.units.map((u) => ({ stationId: mc.stationId, equipmentId: mc.equipmentId, at: ctx.envelope.timeStamp, kind, identifier: u.unitIdentifier, position: u.positionNumber, lane: b.lane ?? null, messageId: ctx.envelope.uniqueId }))
    : [{ stationId: mc.stationId, equipmentId: mc.equipmentId, at: ctx.envelope.timeStamp, kind, identifier: b.primaryIdentifier!, position: null, lane: b.lane ?? null, messageId: ctx.envelope.uniqueId }];
  await ctx.defer('movements', rows, ctx.deps.equipment.recordMovements);
  return applied();
}

type Result = 'pass' | 'fail' | 'scrap';
const UNIT_RESULT: Record<string, Result | 'skip'> = { Pass: 'pass', Fail: 'fail', Scrap: 'scrap', Skip: 'skip' };

/** The message's outcome from its passages' results: rejected with the first refusal's code, naming every refusal. */
function outcomeOf(results: BatchResult<unknown>[], ids: string[], ok: (r: BatchResult<unknown>, i: number) => boolean = () => false, detail?: string): HandlerResult {
  const refusals: Rejection[] = [];
  results.forEach((r, i) => {
    if (r.ok || ok(r, i)) return;
    const refusal = refusalOf(r.error, ids[i]);
    if (!refusal) throw r.error; // not a refusal (a concurrent update): the batch is retried
    refusals.push(refusal);
  });
  if (refusals.length) return rejected(refusals[0]!.code, refusals.map((x) => x.message).join('; '), refusals[0]!.errors ? { errors: refusals[0]!.errors } : {});
  return applied(detail);
}

/** An abort of a unit that was not in process is nothing to undo, not a refusal. */
const notStarted = (r: BatchResult<unknown>) => !r.ok && r.error.code === 'STATE_CONFLICT' && r.error.details?.inProcess === false;

/**
 * Applies a WorkCompleted to the units: counts for OEE, then a tracking passage per unit,
 * queued with the batch's other passages: complete with the unit's result (its Status, else
 * the message's Result), or, for Result Aborted / Skipped (and units with Status Skip), an
 * abort of the started step (a unit that was not started stays as it is). `onResult` gives
 * the outcome to another message (a parked completion applied by its WorkStarted).
 */
async function applyCompletion(
  ctx: HandlerContext,
  b: CfxBodies['CFX.Production.WorkCompleted'],
  at: Date,
  messageId: string,
  ids: string[],
  tx: TransactionRow | null,
  onResult?: (r: HandlerResult) => Promise<HandlerResult>,
): Promise<HandlerResult> {
  const mc = m(ctx);
  const fallback: Result | null = b.result === 'Completed' ? 'pass' : b.result === 'Failed' ? 'fail' : null;
  const statusOf = new Map(b.units.map((u) => [u.unitIdentifier, u.status]));
  const results = ids.map((id) => ({ id, result: statusOf.get(id) ? UNIT_RESULT[statusOf.get(id)!]! : fallback }));
  const prog = await program(ctx, tx?.recipe_name ?? null, tx?.recipe_revision ?? null);
  const counts: CountInput[] = [];
  const good = results.filter((r) => r.result === 'pass').length;
  const bad = results.filter((r) => r.result === 'fail' || r.result === 'scrap').length;
  if (good) counts.push({ stationId: mc.stationId, equipmentId: mc.equipmentId, at, kind: 'completed', units: good, recipeName: prog.name, messageId });
  if (bad) counts.push({ stationId: mc.stationId, equipmentId: mc.equipmentId, at, kind: 'failed', units: bad, recipeName: prog.name, messageId });
  await ctx.defer('counts', counts, ctx.deps.equipment.recordCounts);
  if (!ctx.deps.tracking) {
    const r = recorded('tracking service not available: completion kept for later, counts recorded');
    return onResult ? onResult(r) : r;
  }
  const requests: PassageRequest[] = results.map((r) =>
    r.result === null || r.result === 'skip'
      ? { kind: 'abort', input: { equipment: mc.equipmentCode, identifier: r.id, reason: `CFX WorkCompleted ${messageId}: Result ${b.result}${r.result === 'skip' ? ', unit status Skip' : ''}` } }
      : {
          kind: 'complete',
          input: { equipment: mc.equipmentCode, identifier: r.id, result: r.result, programName: prog.name, programRevision: prog.revision, startedAt: tx?.started_at ?? null, completedAt: at },
        },
  );
  const aborted = requests.filter((r) => r.kind === 'abort').length;
  await ctx.passages(requests, async (res) => {
    const skipped = res.filter((r, i) => requests[i]!.kind === 'abort' && notStarted(r)).length;
    const detail = aborted
      ? `${aborted - skipped} started passage(s) aborted${skipped ? `, ${skipped} unit(s) were not in process` : ''} (Result ${b.result})`
      : undefined;
    const r = outcomeOf(res, ids, (x, i) => requests[i]!.kind === 'abort' && notStarted(x), detail);
    return onResult ? onResult(r) : r;
  });
  return pending();
}

/**
 * Books a completion on its production transaction once it is applied (an earlier booking is
 * kept): a refused completion must not stand in for a later valid one of the same TransactionID.
 */
async function bookCompletion(ctx: HandlerContext, transactionId: string, r: HandlerResult, at: Date, messageId: string, named: string[]): Promise<void> {
  if (r.outcome !== 'applied') return;
  const base = (await ctx.transactions.get(transactionId)) ?? emptyTransaction();
  ctx.transactions.put(transactionId, {
    ...base, identifiers: base.identifiers.length ? base.identifiers : named, completed_at: base.completed_at ?? at, completed_message: base.completed_message ?? messageId,
  });
}

export const productionHandlers = [
  {
    name: 'CFX.Production.UnitsArrived',
    handle: (ctx, b) => movements(ctx, 'arrived', b),
  } satisfies HandlerSpec<'CFX.Production.UnitsArrived'>,
  {
    name: 'CFX.Production.UnitsDeparted',
    handle: (ctx, b) => movements(ctx, 'departed', b),
  } satisfies HandlerSpec<'CFX.Production.UnitsDeparted'>,
  {
    name: 'CFX.Sensor.Identification.IdentifiersRead',
    handle: (ctx, b) => movements(ctx, 'identified', b),
  } satisfies HandlerSpec<'CFX.Sensor.Identification.IdentifiersRead'>,
  {
    name: 'CFX.Production.WorkStarted',
    async handle(ctx, b) {
      const mc = m(ctx);
      const ids = identifiersOf(b);
      const at = ctx.envelope.timeStamp;
      // The transaction as it was, and the start's facts (see book.ts: written at the end of the batch).
      const row = await ctx.transactions.get(b.transactionId);
      const next: TransactionRow = {
        ...(row ?? emptyTransaction()), identifiers: ids.length ? ids : (row?.identifiers ?? []), recipe_name: b.recipeName ?? row?.recipe_name ?? null,
        recipe_revision: b.revision ?? row?.recipe_revision ?? null, started_at: at, started_message: ctx.envelope.uniqueId,
      };
      ctx.transactions.put(b.transactionId, next);
      if (row?.parked_completion) {
        // The completion came first and named no units: apply it now that the units are known.
        const p = row.parked_completion;
        const txRow = { ...next, identifiers: ids };
        ctx.transactions.put(b.transactionId, { ...next, parked_completion: null });
        const done = applied(`start not applied: its WorkCompleted ${p.uniqueId} had arrived first and was applied now`);
        return applyCompletion(ctx, p.body as unknown as CfxBodies['CFX.Production.WorkCompleted'], new Date(p.at), p.uniqueId, ids, txRow, async (r) => {
          await bookCompletion(ctx, b.transactionId, r, new Date(p.at), p.uniqueId, ids);
          await ctx.settle(p.uniqueId, r);
          return done;
        });
      }
      if (row?.completed_message) return applied(`stale: TransactionID ${b.transactionId} was completed by ${row.completed_message}; start not applied`);
      if (ids.length === 0) return rejected('CFX_NO_UNITS', 'WorkStarted names no units and no PrimaryIdentifier');
      const tracking = ctx.deps.tracking;
      if (!tracking) return recorded('tracking service not available: start kept for later');
      const prog = await program(ctx, b.recipeName, b.revision);
      await ctx.passages(
        ids.map((id) => ({ kind: 'start', input: { equipment: mc.equipmentCode, identifier: id, programName: prog.name, programRevision: prog.revision } })),
        async (res) => outcomeOf(res, ids),
      );
      return pending();
    },
  } satisfies HandlerSpec<'CFX.Production.WorkStarted'>,
  {
    name: 'CFX.Production.WorkCompleted',
    async handle(ctx, b) {
      const mc = m(ctx);
      const at = ctx.envelope.timeStamp;
      const named = identifiersOf(b);
      // The transaction as it was.
      const row = await ctx.transactions.get(b.transactionId);
      if (row?.completed_message && row.completed_message !== ctx.envelope.uniqueId) {
        return applied(`TransactionID ${b.transactionId} was already completed by ${row.completed_message}`);
      }
      const ids = named.length ? named : (row?.identifiers ?? []);
      if (ids.length === 0) {
        if (row?.started_message) return rejected('CFX_NO_UNITS', `WorkCompleted names no units and its WorkStarted ${row.started_message} named none either`);
        if (row?.parked_completion) return recorded(`another completion of TransactionID ${b.transactionId} (${row.parked_completion.uniqueId}) is already waiting for its WorkStarted; this one is kept, not applied`);
        const parked: ParkedCompletion = { uniqueId: ctx.envelope.uniqueId, at: at.toISOString(), body: b as unknown as ParkedCompletion['body'] };
        // Parked: the completion is not recorded as applied until its WorkStarted names the units.
        ctx.transactions.put(b.transactionId, { ...(row ?? emptyTransaction()), parked_completion: parked });
        return recorded(`waiting for the WorkStarted of TransactionID ${b.transactionId} to name the units`);
      }
      // Booked on the transaction only when applied (bookCompletion); a parked one is not booked either.
      return applyCompletion(ctx, b, at, ctx.envelope.uniqueId, ids, row, async (r) => {
        await bookCompletion(ctx, b.transactionId, r, at, ctx.envelope.uniqueId, named);
        return r;
      });
    },
  } satisfies HandlerSpec<'CFX.Production.WorkCompleted'>,
  {
    name: 'CFX.Production.UnitsDisqualified',
    async handle(ctx, b) {
      const mc = m(ctx);
      const n = Math.max(b.units.length, 1);
      await ctx.defer('counts', [
        { stationId: mc.stationId, equipmentId: mc.equipmentId, at: ctx.envelope.timeStamp, kind: 'disqualified' as const, units: n, recipeName: null, messageId: ctx.envelope.uniqueId },
      ], ctx.deps.equipment.recordCounts);
      const tracking = ctx.deps.tracking;
      if (!tracking) return recorded(`counted for OEE quality (${n} unit(s)); tracking service not available: the units are not scrapped`);
      // The units themselves; the carrier / panel only when no unit is named.
      const ids = identifiersOf(b);
      const reason = `disqualified by ${mc.equipmentCode} (CFX ${ctx.envelope.uniqueId})${b.reason ? `: ${b.reason}` : ''}${b.comments ? ` — ${b.comments}` : ''}`;
      const refusals: Rejection[] = [];
      let scrapped = 0;
      for (const id of ids) {
        try {
          scrapped += (await tracking.scrap(ctx.principal, { equipment: mc.equipmentCode, identifier: id, reason })).scrapped.length;
        } catch (e) {
          const refusal = refusalOf(e, id);
          if (!refusal) throw e;
          // The same code as the interlock gives for an identifier nobody knows.
          refusals.push(e instanceof AppError && e.code === 'NOT_FOUND' ? { code: 'UNKNOWN_UNIT', message: `${id}: no unit or panel is known as ${id}` } : refusal);
        }
      }
      if (refusals.length) return rejected(refusals[0]!.code, refusals.map((x) => x.message).join('; '));
      return applied(`${scrapped} unit(s) scrapped; counted for OEE quality`);
    },
  } satisfies HandlerSpec<'CFX.Production.UnitsDisqualified'>,
  {
    name: 'CFX.Production.Processing.UnitsProcessed',
    async handle(ctx, b) {
      const mc = m(ctx);
      const at = ctx.envelope.timeStamp;
      const rows: ReadingInput[] = [];
      const add = (unit: string | null, data: CfxPolymorphic | null, prefix: string) => {
        if (!data) return;
        for (const [name, value] of flattenProcessData(data, prefix)) {
          rows.push({
            at, stationId: mc.stationId, equipmentId: mc.equipmentId, unitIdentifier: unit, name, value: typeof value === 'number' ? value : null,
            textValue: typeof value === 'number' ? null : value, unit: null, source: 'cfx', origin: ctx.envelope.uniqueId,
          });
        }
      };
      const units = b.unitProcessData.filter((u) => u.unitIdentifier);
      // Common data belongs to every unit of the message (to the station alone when none is named).
      if (b.commonProcessData) {
        if (units.length) for (const u of units) add(u.unitIdentifier, b.commonProcessData, 'common');
        else add(null, b.commonProcessData, 'common');
      }
      for (const u of b.unitProcessData) {
        add(u.unitIdentifier, u.unitProcessData, 'unit');
        if (u.unitResult) rows.push({ at, stationId: mc.stationId, equipmentId: mc.equipmentId, unitIdentifier: u.unitIdentifier, name: 'unit.result', value: null, textValue: u.unitResult, unit: null, source: 'cfx', origin: ctx.envelope.uniqueId });
      }
      rows.push({ at, stationId: mc.stationId, equipmentId: mc.equipmentId, unitIdentifier: units.length === 1 ? units[0]!.unitIdentifier : null, name: 'overall.result', value: null, textValue: b.overallResult, unit: null, source: 'cfx', origin: ctx.envelope.uniqueId });
      await ctx.defer('readings', rows, ctx.deps.equipment.recordReadings);
      return applied(`${rows.length} process-data reading(s) stored`);
    },
  } satisfies HandlerSpec<'CFX.Production.Processing.UnitsProcessed'>,
];

/**
 * The leaves of a CFX process-data object (UnitsProcessed), as reading name → value: numbers
 * as numbers, strings and booleans as text, arrays by index; the `$type` names the first level
 * (e.g. `unit.ReflowProcessData.ZoneData.0.Setpoint`). At most 500 leaves per object.
 */
export function flattenProcessData(data: CfxPolymorphic, prefix: string): [string, number | string][] {
  const out: [string, number | string][] = [];
  const type = data.kind ? data.kind.split(',')[0]!.split('.').pop()! : null;
  const walk = (v: unknown, path: string) => {
    if (out.length >= 500 || v === null || v === undefined) return;
    if (typeof v === 'number') {
      if (Number.isFinite(v)) out.push([path, v]);
    } else if (typeof v === 'string' || typeof v === 'boolean') out.push([path, String(v)]);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}.${i}`));
    else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== '$type') walk(x, `${path}.${k}`);
  };
  walk(data.data, type ? `${prefix}.${type}` : prefix);
  return out;
}
