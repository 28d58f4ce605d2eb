import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed, type FieldError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { ProductsService } from '../products/index.ts';
import { basisHash, DEFAULT_PROGRAM_REQUIRED_FOR, parseBasis, snapshotBasis, type BuildBasis, type ParsedBasis } from './basis.ts';
import { parseWorkOrderFile, type ImportFormat, type WorkOrderImportRow } from './import.ts';
import { checkSerialPattern, DEFAULT_SERIAL_PATTERN } from './serial.ts';

/**
 * Work orders: what to build, how many, for whom, on which line, and the state machine that
 * governs them. Release freezes the build basis; from then on master-data edits never reach
 * the work order, except through an explicit, audited re-basing.
 */

export const WORK_ORDER_STATES = ['planned', 'released', 'in_progress', 'completed', 'closed', 'on_hold', 'cancelled'] as const;
export type WorkOrderState = (typeof WORK_ORDER_STATES)[number];
export const WORK_ORDER_ACTIONS = ['release', 'start', 'hold', 'resume', 'complete', 'close', 'cancel'] as const;
export type WorkOrderAction = (typeof WORK_ORDER_ACTIONS)[number];

/**
 * The legal transitions, as data: action → states it may start from, the state it leads to
 * (`previous` = the state remembered when the hold began) and whether a reason is required.
 */
export const TRANSITIONS: Record<WorkOrderAction, { from: readonly WorkOrderState[]; to: WorkOrderState | 'previous'; reason: 'required' | 'optional' }> = {
  release: { from: ['planned'], to: 'released', reason: 'optional' },
  start: { from: ['released'], to: 'in_progress', reason: 'optional' },
  hold: { from: ['planned', 'released', 'in_progress'], to: 'on_hold', reason: 'required' },
  resume: { from: ['on_hold'], to: 'previous', reason: 'optional' },
  complete: { from: ['in_progress'], to: 'completed', reason: 'optional' },
  close: { from: ['completed'], to: 'closed', reason: 'optional' },
  cancel: { from: ['planned', 'released', 'in_progress', 'on_hold'], to: 'cancelled', reason: 'required' },
};

/** The actions allowed from a state, e.g. for a UI's buttons. */
export function legalActions(state: WorkOrderState): WorkOrderAction[] {
  return WORK_ORDER_ACTIONS.filter((a) => TRANSITIONS[a].from.includes(state));
}

export interface WorkOrder {
  id: number; number: string; customer: string; customerPo: string; productRevisionId: number; productCode: string; revision: string;
  quantity: number; overrunUnits: number; overrunPercent: number; maxUnits: number; dueDate: string | null; lineId: number | null; lineCode: string | null;
  state: WorkOrderState; holdReturnState: WorkOrderState | null; serialPattern: string | null; unitsCreated: number; serialSeq: number;
  basisId: number | null; basisHash: string | null; notes: string; source: string; createdAt: Date; createdBy: string;
  releasedAt: Date | null; releasedBy: string | null; completedAt: Date | null; closedAt: Date | null; activeOnLine: boolean;
}

export interface WorkOrderInput {
  number: string; customer?: string; customerPo?: string; productRevisionId: number; quantity: number; overrunUnits?: number; overrunPercent?: number;
  dueDate?: string | null; lineId?: number | null; serialPattern?: string | null; notes?: string;
}
export type WorkOrderPatch = Partial<Omit<WorkOrderInput, 'number'>>;

export interface StoredBasis { id: number; workOrderId: number; version: number; hash: string; reason: string | null; createdAt: Date; createdBy: string; basis: BuildBasis }

export interface ImportResult { format: ImportFormat; created: number; updated: number; unchanged: number; numbers: string[] }

const WO_SELECT = `w.id, w.number, w.customer, w.customer_po AS "customerPo", w.product_revision_id AS "productRevisionId", p.code AS "productCode",
  r.revision, w.quantity, w.overrun_units AS "overrunUnits", w.overrun_percent AS "overrunPercent", w.max_units AS "maxUnits",
  to_char(w.due_date, 'YYYY-MM-DD') AS "dueDate", w.line_id AS "lineId", l.code AS "lineCode", w.state, w.hold_return_state AS "holdReturnState",
  w.serial_pattern AS "serialPattern", w.units_created AS "unitsCreated", w.serial_seq AS "serialSeq", w.basis_id AS "basisId", b.hash AS "basisHash",
  w.notes, w.source, w.created_at AS "createdAt", w.created_by AS "createdBy", w.released_at AS "releasedAt", w.released_by AS "releasedBy",
  w.completed_at AS "completedAt", w.closed_at AS "closedAt", (a.line_id IS NOT NULL) AS "activeOnLine"
  FROM work_orders w JOIN product_revisions r ON r.id = w.product_revision_id JOIN products p ON p.id = r.product_id
  LEFT JOIN lines l ON l.id = w.line_id LEFT JOIN build_bases b ON b.id = w.basis_id LEFT JOIN line_active_work_orders a ON a.work_order_id = w.id`;

/** Which states leave a work order editable in which fields. */
const EDITABLE_ANYTIME: readonly (keyof WorkOrderPatch)[] = ['customer', 'customerPo', 'dueDate', 'notes'];
const EDITABLE_UNTIL_DONE: readonly (keyof WorkOrderPatch)[] = ['quantity', 'overrunUnits', 'overrunPercent'];
const EDITABLE_WHEN_PLANNED: readonly (keyof WorkOrderPatch)[] = ['productRevisionId', 'lineId', 'serialPattern'];

export interface WorkOrdersOptions {
  /** Station types whose route steps need a released program before release (default: placement). */
  programRequiredFor?: readonly string[];
}

export function createWorkOrdersService(db: Db, deps: { products: ProductsService }, opts: WorkOrdersOptions = {}) {
  const programRequiredFor = opts.programRequiredFor ?? DEFAULT_PROGRAM_REQUIRED_FOR;

  async function get(id: number, q: Queryable = db): Promise<WorkOrder> {
    const r = (await q.query<WorkOrder>(`SELECT ${WO_SELECT} WHERE w.id = $1`, [id])).rows[0];
    if (!r) throw notFound('work order', id);
    return r;
  }

  async function getByNumber(number: string, q: Queryable = db): Promise<WorkOrder | undefined> {
    return (await q.query<WorkOrder>(`SELECT ${WO_SELECT} WHERE w.number = $1`, [number])).rows[0];
  }

  /** A work order by id or number (CLI, scanners and ERP speak numbers). */
  async function resolve(ref: number | string, q: Queryable = db): Promise<WorkOrder> {
    if (typeof ref === 'number') return get(ref, q);
    const wo = await getByNumber(ref, q);
    if (!wo) throw notFound('work order', ref);
    return wo;
  }

  /**
   * Work orders by due date. `q` searches number, product code, customer and customer PO
   * (anywhere, case-insensitive); `dueBy` keeps those due on or before that day; `states` any of
   * several states.
   */
  async function list(
    f: { state?: WorkOrderState; states?: readonly WorkOrderState[]; lineId?: number; productRevisionId?: number; number?: string; q?: string; dueBy?: string; limit?: number } = {},
  ): Promise<WorkOrder[]> {
    const q = f.q?.trim() ? `%${f.q.trim().toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
    return (
      await db.query<WorkOrder>(
        `SELECT ${WO_SELECT} WHERE ($1::text IS NULL OR w.state = $1) AND ($2::bigint IS NULL OR w.line_id = $2)
           AND ($3::bigint IS NULL OR w.product_revision_id = $3) AND ($4::text IS NULL OR w.number = $4)
           AND ($6::text IS NULL OR lower(w.number) LIKE $6 OR lower(p.code) LIKE $6 OR lower(w.customer) LIKE $6 OR lower(w.customer_po) LIKE $6)
           AND ($7::date IS NULL OR w.due_date <= $7) AND ($8::text[] IS NULL OR w.state = ANY($8))
         ORDER BY w.due_date NULLS LAST, w.number LIMIT $5`,
        [f.state ?? null, f.lineId ?? null, f.productRevisionId ?? null, f.number ?? null, Math.min(f.limit ?? 500, 5000), q, f.dueBy ?? null, f.states?.length ? f.states : null],
      )
    ).rows;
  }

  function checkInput(input: Partial<WorkOrderInput>): FieldError[] {
    const errs: FieldError[] = [];
    if (input.serialPattern != null) errs.push(...checkSerialPattern(input.serialPattern, '/serialPattern'));
    if (input.dueDate != null && !/^\d{4}-\d{2}-\d{2}$/.test(input.dueDate)) errs.push({ field: '/dueDate', code: 'format', message: 'due date must be YYYY-MM-DD' });
    return errs;
  }

  /** Locks the work order row for a change and returns it. */
  async function lock(tx: Tx, id: number): Promise<WorkOrder> {
    const r = await tx.query('SELECT 1 FROM work_orders WHERE id = $1 FOR UPDATE', [id]);
    if (!r.rowCount) throw notFound('work order', id);
    return get(id, tx);
  }

  async function create(who: Principal, input: WorkOrderInput & { source?: string }, q?: Queryable): Promise<WorkOrder> {
    const errs = checkInput(input);
    if (errs.length) throw validationFailed(errs, `The work order is invalid: ${errs.map((e) => e.message).join('; ')}`);
    return inTx(db, q, async (tx) => {
      const r = await tx.query<{ id: number }>(
        `INSERT INTO work_orders (number, customer, customer_po, product_revision_id, quantity, overrun_units, overrun_percent, due_date, line_id,
                                  serial_pattern, notes, source, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
        [
          input.number, input.customer ?? '', input.customerPo ?? '', input.productRevisionId, input.quantity, input.overrunUnits ?? 0, input.overrunPercent ?? 0,
          input.dueDate ?? null, input.lineId ?? null, input.serialPattern ?? null, input.notes ?? '', input.source ?? 'api', who.name,
        ],
      );
      const wo = await get(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'work_order', entityId: wo.id, after: wo });
      return wo;
    });
  }

  async function update(who: Principal, id: number, patch: WorkOrderPatch, q?: Queryable): Promise<WorkOrder> {
    const errs = checkInput(patch);
    if (errs.length) throw validationFailed(errs, `The change is invalid: ${errs.map((e) => e.message).join('; ')}`);
    return inTx(db, q, async (tx) => {
      const before = await lock(tx, id);
      const given = (Object.keys(patch) as (keyof WorkOrderPatch)[]).filter((k) => patch[k] !== undefined);
      const done = ['completed', 'closed', 'cancelled'].includes(before.state);
      const refused = given.filter((k) =>
        EDITABLE_WHEN_PLANNED.includes(k) ? before.state !== 'planned' : EDITABLE_UNTIL_DONE.includes(k) ? done : EDITABLE_ANYTIME.includes(k) ? before.state === 'closed' || before.state === 'cancelled' : true,
      );
      if (refused.length) {
        throw new AppError('STATE_CONFLICT', `Work order ${before.number} is ${before.state}; ${refused.join(', ')} can no longer change`, {
          errors: refused.map((k) => ({ field: `/${k}`, code: 'frozen', message: `cannot change while ${before.state}` })),
        });
      }
      if (given.length === 0) return before;
      const cols: Record<keyof WorkOrderPatch, string> = {
        customer: 'customer', customerPo: 'customer_po', productRevisionId: 'product_revision_id', quantity: 'quantity', overrunUnits: 'overrun_units',
        overrunPercent: 'overrun_percent', dueDate: 'due_date', lineId: 'line_id', serialPattern: 'serial_pattern', notes: 'notes',
      };
      try {
        await tx.query(`UPDATE work_orders SET ${given.map((k, i) => `${cols[k]} = $${i + 2}`).join(', ')} WHERE id = $1`, [id, ...given.map((k) => patch[k])]);
      } catch (e) {
        if (e instanceof AppError && e.errors?.[0]?.field === 'work_orders_quantity_limit') {
          throw new AppError('QUANTITY_EXCEEDED', `Work order ${before.number} already has ${before.unitsCreated} units; the quantity plus overrun cannot be lower`);
        }
        throw e;
      }
      const after = await get(id, tx);
      await recordAudit(tx, who, { action: 'update', entity: 'work_order', entityId: id, before, after });
      return after;
    });
  }

  /** What stops this work order from being released (or re-based); empty when nothing does. */
  async function releaseCheck(id: number, q: Queryable = db): Promise<FieldError[]> {
    const wo = await get(id, q);
    return (await snapshotBasis(q, deps.products, { productRevisionId: wo.productRevisionId, workOrderId: wo.id, lineId: wo.lineId, programRequiredFor })).blockers;
  }

  async function freezeBasis(tx: Tx, who: Principal, wo: WorkOrder, revisionId: number, reason: string | null): Promise<{ id: number; hash: string }> {
    const { basis, blockers } = await snapshotBasis(tx, deps.products, { productRevisionId: revisionId, workOrderId: wo.id, lineId: wo.lineId, programRequiredFor });
    if (blockers.length) {
      throw new AppError('RULE_VIOLATION', `Work order ${wo.number} cannot be ${wo.basisId ? 're-based' : 'released'}: ${blockers.map((b) => b.message).join('; ')}`, { errors: blockers });
    }
    const hash = basisHash(basis);
    const r = await tx.query<{ id: number }>(
      `INSERT INTO build_bases (work_order_id, version, basis, hash, reason, created_by)
       VALUES ($1, (SELECT COALESCE(max(version), 0) + 1 FROM build_bases WHERE work_order_id = $1), $2, $3, $4, $5) RETURNING id`,
      [wo.id, JSON.stringify(basis), hash, reason, who.name],
    );
    return { id: r.rows[0]!.id, hash };
  }

  /**
   * Releases a planned work order: checks the build basis is complete (refusing with every
   * reason listed), freezes it, and makes the work order its line's active one if the line is free.
   */
  async function release(who: Principal, id: number, reason?: string, q?: Queryable): Promise<WorkOrder> {
    return inTx(db, q, async (tx) => {
      const before = await lock(tx, id);
      assertLegal(before, 'release');
      const basis = await freezeBasis(tx, who, before, before.productRevisionId, null);
      await tx.query(`UPDATE work_orders SET state = 'released', basis_id = $2, released_at = now(), released_by = $3 WHERE id = $1`, [id, basis.id, who.name]);
      await tx.query(
        `INSERT INTO line_active_work_orders (line_id, work_order_id, activated_by) VALUES ($1, $2, $3) ON CONFLICT (line_id) DO NOTHING`,
        [before.lineId, id, who.name],
      );
      const after = await get(id, tx);
      await recordAudit(tx, who, { action: 'release', entity: 'work_order', entityId: id, before, after, reason: reason ?? null });
      return after;
    });
  }

  function assertLegal(wo: WorkOrder, action: WorkOrderAction) {
    if (!TRANSITIONS[action].from.includes(wo.state)) {
      const allowed = legalActions(wo.state);
      throw new AppError('STATE_CONFLICT', `Work order ${wo.number} is ${wo.state}; it cannot ${action} (allowed: ${allowed.join(', ') || 'nothing'})`, {
        details: { state: wo.state, action, allowed },
      });
    }
  }

  /** Applies one action of the transition table (release included), audited with its reason. */
  async function transition(who: Principal, id: number, action: WorkOrderAction, reason?: string | null, q?: Queryable): Promise<WorkOrder> {
    const t = TRANSITIONS[action];
    if (t.reason === 'required' && !reason?.trim()) {
      throw validationFailed([{ field: '/reason', code: 'required', message: `${action} needs a reason` }], `To ${action} a work order, give a reason`);
    }
    if (action === 'release') return release(who, id, reason ?? undefined, q);
    return inTx(db, q, async (tx) => {
      const before = await lock(tx, id);
      assertLegal(before, action);
      const to = t.to === 'previous' ? before.holdReturnState! : t.to;
      await tx.query(
        `UPDATE work_orders SET state = $2, hold_return_state = $3,
            completed_at = CASE WHEN $2 = 'completed' THEN now() ELSE completed_at END,
            closed_at = CASE WHEN $2 = 'closed' THEN now() ELSE closed_at END WHERE id = $1`,
        [id, to, to === 'on_hold' ? before.state : null],
      );
      // A finished work order no longer occupies its line.
      if (['completed', 'closed', 'cancelled'].includes(to)) await tx.query('DELETE FROM line_active_work_orders WHERE work_order_id = $1', [id]);
      const after = await get(id, tx);
      await recordAudit(tx, who, { action, entity: 'work_order', entityId: id, before, after, reason: reason ?? null });
      return after;
    });
  }

  /**
   * Moves a released work order to in progress when its first unit is processed. Called by
   * tracking inside its transaction; a no-op unless the state is still `released`.
   */
  async function markStarted(tx: Tx, who: Principal, id: number): Promise<void> {
    const r = await tx.query(`UPDATE work_orders SET state = 'in_progress' WHERE id = $1 AND state = 'released'`, [id]);
    if (r.rowCount) await recordAudit(tx, who, { action: 'start', entity: 'work_order', entityId: id, before: { state: 'released' }, after: { state: 'in_progress' }, reason: 'first unit processed' });
  }

  /**
   * Re-freezes the build basis from current master data (optionally from another product
   * revision). Allowed only while no unit has been processed, so no unit was ever built
   * against two bases; the old basis stays stored.
   */
  async function rebase(who: Principal, id: number, input: { reason: string; productRevisionId?: number }): Promise<WorkOrder> {
    if (!input.reason?.trim()) throw validationFailed([{ field: '/reason', code: 'required', message: 're-basing needs a reason' }]);
    return db.tx(async (tx) => {
      const before = await lock(tx, id);
      if (!before.basisId || !['released', 'in_progress', 'on_hold'].includes(before.state)) {
        throw new AppError('STATE_CONFLICT', `Work order ${before.number} is ${before.state}; only a released work order can be re-based`);
      }
      const started = await tx.query(`SELECT 1 FROM units WHERE work_order_id = $1 AND (visits > 0 OR status = 'in_process') LIMIT 1`, [id]);
      if (started.rowCount) throw new AppError('STATE_CONFLICT', `Work order ${before.number} has units in production; it can no longer be re-based`);
      const revId = input.productRevisionId ?? before.productRevisionId;
      const basis = await freezeBasis(tx, who, before, revId, input.reason);
      await tx.query('UPDATE work_orders SET basis_id = $2, product_revision_id = $3 WHERE id = $1', [id, basis.id, revId]);
      const after = await get(id, tx);
      await recordAudit(tx, who, { action: 'rebase', entity: 'work_order', entityId: id, before, after, reason: input.reason });
      return after;
    });
  }

  /** Makes a released work order the one its line is running (the interlock refuses others). */
  async function activate(who: Principal, id: number): Promise<WorkOrder> {
    return db.tx(async (tx) => {
      const wo = await lock(tx, id);
      if (!['released', 'in_progress'].includes(wo.state)) throw new AppError('STATE_CONFLICT', `Work order ${wo.number} is ${wo.state}; only a released work order can run on a line`);
      if (wo.lineId === null) throw new AppError('STATE_CONFLICT', `Work order ${wo.number} has no line`);
      const prev = (await tx.query<{ work_order_id: number }>('SELECT work_order_id FROM line_active_work_orders WHERE line_id = $1 FOR UPDATE', [wo.lineId])).rows[0];
      await tx.query(
        `INSERT INTO line_active_work_orders (line_id, work_order_id, activated_by) VALUES ($1, $2, $3)
         ON CONFLICT (line_id) DO UPDATE SET work_order_id = EXCLUDED.work_order_id, activated_at = now(), activated_by = EXCLUDED.activated_by`,
        [wo.lineId, id, who.name],
      );
      await recordAudit(tx, who, { action: 'activate', entity: 'line', entityId: wo.lineId, before: { workOrderId: prev?.work_order_id ?? null }, after: { workOrderId: id, number: wo.number } });
      return get(id, tx);
    });
  }

  async function activeOnLine(lineId: number, q: Queryable = db): Promise<WorkOrder | undefined> {
    return (await q.query<WorkOrder>(`SELECT ${WO_SELECT} WHERE a.line_id = $1`, [lineId])).rows[0];
  }

  async function listBases(id: number): Promise<Omit<StoredBasis, 'basis'>[]> {
    return (
      await db.query<Omit<StoredBasis, 'basis'>>(
        `SELECT id, work_order_id AS "workOrderId", version, hash, reason, created_at AS "createdAt", created_by AS "createdBy" FROM build_bases WHERE work_order_id = $1 ORDER BY version`,
        [id],
      )
    ).rows;
  }

  /** The current (or a given) build basis of a work order as stored. */
  async function getBasis(id: number, basisId?: number): Promise<StoredBasis> {
    const wo = await get(id);
    const bid = basisId ?? wo.basisId;
    if (bid === null) throw new AppError('NOT_FOUND', `Work order ${wo.number} has no build basis yet; it is ${wo.state}`);
    const r = await db.one<StoredBasis>(
      `SELECT id, work_order_id AS "workOrderId", version, hash, reason, created_at AS "createdAt", created_by AS "createdBy", basis
         FROM build_bases WHERE id = $1 AND work_order_id = $2`,
      [bid, id],
    );
    if (!r) throw notFound('build basis', bid);
    return r;
  }

  // Bases never change, so a parsed basis is cached by its hash for the interlock's hot path.
  const cache = new Map<string, ParsedBasis>();
  /** The parsed, route-indexed basis for the interlock; from memory after the first use. */
  async function loadBasis(basisId: number, hash: string, q: Queryable = db): Promise<ParsedBasis> {
    const hit = cache.get(hash);
    if (hit) return hit;
    const r = (await q.query<{ basis: BuildBasis; hash: string }>('SELECT basis, hash FROM build_bases WHERE id = $1', [basisId])).rows[0];
    if (!r) throw notFound('build basis', basisId);
    const parsed = parseBasis(r.hash, r.basis);
    if (cache.size >= 1000) cache.clear();
    cache.set(r.hash, parsed);
    return parsed;
  }

  /**
   * Imports work orders from CSV or JSON (the ERP's export). All or nothing: every problem is
   * listed by line (CSV) or item (JSON) and nothing is written. Existing planned work orders
   * are updated; existing released ones must not differ.
   */
  async function importWorkOrders(who: Principal, text: string, format: ImportFormat): Promise<ImportResult> {
    const { rows, errors } = parseWorkOrderFile(text, format);
    const fail = (errs: FieldError[]) => {
      errs.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
      return new AppError('IMPORT_INVALID', `The work-order file has ${errs.length} error(s); nothing was imported`, { errors: errs });
    };
    if (errors.length) throw fail(errors);
    const result: ImportResult = { format, created: 0, updated: 0, unchanged: 0, numbers: [] };
    await db.tx(async (tx) => {
      const errs: FieldError[] = [];
      const resolved: { row: WorkOrderImportRow; input: WorkOrderInput }[] = [];
      for (const row of rows) {
        const err = (field: string, code: string, message: string) => errs.push({ field: `${row.where}: ${field}`, code, message, line: row.sourceLine });
        const rev = await deps.products.findRevision(row.product, row.revision, tx);
        if (!rev) err('revision', 'unknown_revision', `product ${row.product} has no revision ${row.revision}`);
        let lineId: number | null = null;
        if (row.lineCode) {
          const l = (await tx.query<{ id: number }>('SELECT id FROM lines WHERE code = $1', [row.lineCode])).rows[0];
          if (!l) err('line', 'unknown_line', `line ${row.lineCode} does not exist`);
          lineId = l?.id ?? null;
        }
        for (const e of checkInput({ serialPattern: row.serialPattern ?? null })) err('serialPattern', e.code, e.message);
        if (!rev) continue;
        resolved.push({
          row,
          input: {
            number: row.number, customer: row.customer, customerPo: row.customerPo, productRevisionId: rev.id, quantity: row.quantity,
            overrunUnits: row.overrunUnits, overrunPercent: row.overrunPercent, dueDate: row.dueDate, lineId, serialPattern: row.serialPattern ?? null, notes: row.notes,
          },
        });
      }
      const plans: { input: WorkOrderInput; existing?: WorkOrder; patch?: WorkOrderPatch }[] = [];
      for (const { row, input } of resolved) {
        const existing = await getByNumber(input.number, tx);
        if (!existing) {
          plans.push({ input });
          continue;
        }
        const { number: _n, ...fields } = input;
        const patch: WorkOrderPatch = {};
        for (const [k, v] of Object.entries(fields) as [keyof WorkOrderPatch, unknown][]) {
          if (v !== undefined && JSON.stringify(v ?? null) !== JSON.stringify((existing as unknown as Record<string, unknown>)[k] ?? null)) (patch as Record<string, unknown>)[k] = v;
        }
        if (Object.keys(patch).length && existing.state !== 'planned') {
          errs.push({ field: `${row.where}: number`, code: 'already_released', message: `work order ${input.number} is ${existing.state}; ${Object.keys(patch).join(', ')} differ and can no longer change by import`, line: row.sourceLine });
        }
        plans.push({ input, existing, patch });
      }
      if (errs.length) throw fail(errs);
      for (const p of plans) {
        result.numbers.push(p.input.number);
        if (!p.existing) {
          await create(who, { ...p.input, source: 'import' }, tx);
          result.created++;
        } else if (p.patch && Object.keys(p.patch).length) {
          await update(who, p.existing.id, p.patch, tx);
          result.updated++;
        } else result.unchanged++;
      }
    });
    return result;
  }

  /** The serial pattern for a work order: its own, else its product's, else the default. */
  async function serialPatternFor(wo: Pick<WorkOrder, 'serialPattern' | 'productRevisionId'>, q: Queryable = db): Promise<string> {
    if (wo.serialPattern) return wo.serialPattern;
    const r = await q.query<{ pattern: string }>(
      `SELECT sp.pattern FROM product_serial_patterns sp JOIN product_revisions r ON r.product_id = sp.product_id WHERE r.id = $1`,
      [wo.productRevisionId],
    );
    return r.rows[0]?.pattern ?? DEFAULT_SERIAL_PATTERN;
  }

  async function productSerialPattern(productId: number): Promise<string> {
    await deps.products.products.get(productId);
    const r = await db.one<{ pattern: string }>('SELECT pattern FROM product_serial_patterns WHERE product_id = $1', [productId]);
    return r?.pattern ?? DEFAULT_SERIAL_PATTERN;
  }

  async function setProductSerialPattern(who: Principal, productId: number, pattern: string | null): Promise<{ productId: number; pattern: string }> {
    if (pattern !== null) {
      const errs = checkSerialPattern(pattern, '/pattern');
      if (errs.length) throw validationFailed(errs, `The serial pattern is invalid: ${errs.map((e) => e.message).join('; ')}`);
    }
    return db.tx(async (tx) => {
      await deps.products.products.get(productId, tx);
      const before = (await tx.query<{ pattern: string }>('SELECT pattern FROM product_serial_patterns WHERE product_id = $1 FOR UPDATE', [productId])).rows[0];
      if (pattern === null) await tx.query('DELETE FROM product_serial_patterns WHERE product_id = $1', [productId]);
      else {
        await tx.query(
          `INSERT INTO product_serial_patterns (product_id, pattern, updated_by) VALUES ($1, $2, $3)
           ON CONFLICT (product_id) DO UPDATE SET pattern = EXCLUDED.pattern, updated_at = now(), updated_by = EXCLUDED.updated_by`,
          [productId, pattern, who.name],
        );
      }
      await recordAudit(tx, who, { action: 'set_serial_pattern', entity: 'product', entityId: productId, before: before ?? null, after: { pattern } });
      return { productId, pattern: pattern ?? DEFAULT_SERIAL_PATTERN };
    });
  }

  return {
    get, getByNumber, resolve, list, create, update, releaseCheck, release, transition, markStarted, rebase, activate, activeOnLine,
    listBases, getBasis, loadBasis, importWorkOrders, serialPatternFor, productSerialPattern, setProductSerialPattern,
  };
}
export type WorkOrdersService = ReturnType<typeof createWorkOrdersService>;
