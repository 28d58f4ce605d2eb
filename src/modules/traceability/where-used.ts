import type { Db, Queryable } from '../../platform/db.ts';
import { AppError, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import type { Hold, QualityService } from '../quality/index.ts';
import type { MaterialSource, MaterialWhereUsedQuery } from './materials.ts';
import { stateCase, UNIT_STATES, type UnitState } from './states.ts';

/**
 * Where-used and recall impact: from a starting point to the affected units, their state,
 * work orders, cartons, shipments and customers. Material starting points (lot, package, MPN +
 * date codes, paste jar, stencil) are answered by materials' `materialWhereUsed`, a station time
 * window by quality's where-used; program revision and operator are answered here from the
 * process records and inspection / test results. Everything after the unit ids is set-based
 * over the id array (one statement for the counts, one for a page of units).
 */

export type TraceQuery =
  | { kind: 'material_lot'; materialLotId: number }
  | { kind: 'package'; package: number | string }
  | { kind: 'mpn'; mpn: string; dateCodeFrom?: string; dateCodeTo?: string }
  | { kind: 'paste_jar'; package: number | string }
  | { kind: 'stencil'; stencil: number | string }
  | { kind: 'program'; program: string; revision?: string; equipment?: number | string }
  | { kind: 'operator'; operator: string; from?: string; to?: string }
  | { kind: 'station_window'; station: number | string; from: string; to: string };

export const TRACE_QUERY_KINDS = ['material_lot', 'package', 'mpn', 'paste_jar', 'stencil', 'program', 'operator', 'station_window'] as const;

export interface ImpactCounts {
  total: number;
  byState: Record<UnitState, number>;
  byWorkOrder: { workOrderId: number; number: string; customer: string; customerPo: string; units: number; byState: Partial<Record<UnitState, number>> }[];
  byCustomer: { customer: string; units: number; shipped: number }[];
  cartons: { id: number; code: string; state: string; units: number }[];
  shipments: { id: number; number: string; customer: string; customerPo: string; state: string; releasedAt: string | null; units: number }[];
}
export interface AffectedUnit {
  unitId: number; serial: string; status: string; state: UnitState; workOrderId: number; workOrderNumber: string; customer: string;
  carton: string | null; shipment: string | null; via: string | null;
}

const notFound = (what: string, key: unknown, field: string) =>
  new AppError('NOT_FOUND', `${what} ${JSON.stringify(key)} does not exist`, { details: { entity: what, key }, errors: [{ field, code: 'unknown', message: `no ${what} ${key}` }] });

function time(v: string | undefined, field: string): Date | null {
  if (v === undefined) return null;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw validationFailed([{ field, code: 'format', message: 'must be a date-time' }]);
  return d;
}

/**
 * Sorted distinct unit ids as runs of consecutive ids (`lo[i]..hi[i]`). Units are numbered in
 * the order they were created, so the units of one question (a reel lot feeds the units built
 * while it was on the machine; a work order's units are created together) come in few long
 * runs: each run is one index range scan instead of one index probe per unit.
 */
export function idRuns(ids: Iterable<number>): { lo: number[]; hi: number[] } {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const lo: number[] = [];
  const hi: number[] = [];
  for (const id of sorted) {
    if (hi.length && hi[hi.length - 1] === id - 1) hi[hi.length - 1] = id;
    else {
      lo.push(id);
      hi.push(id);
    }
  }
  return { lo, hi };
}

/**
 * The affected units read once and counted (`$1` / `$2` the runs of unit ids, see idRuns; `$3`
 * the ids a quality hold covers), with one page of the units (`$4` after this unit id, `$5` at
 * most this many; 0 for the counts only). Set-based throughout:
 * - `u`: the units with their carton, per run one merge join of two index range scans (the unit
 *   and carton-unit indexes are both ordered by unit id), not index probes per unit;
 * - `cx`: the distinct cartons (a few hundred for ten thousand units) with their shipment;
 * - held panels and lots are the few flagged rows (partial index of migration 0050), not a
 *   lookup per unit;
 * - `x`: one narrow row per unit (state, work order, carton), grouped once by (work order,
 *   carton, state) into `g`; every count is a sum over those few groups, joined to the names.
 * The page comes as column arrays (a small JSON document rather than one object per unit);
 * `cartonShipments` names the carton and shipment of its units.
 */
export const IMPACT_SQL = `WITH r AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS r(lo, hi)),
    u AS MATERIALIZED (SELECT u.* FROM r CROSS JOIN LATERAL (
                         SELECT u.id, u.serial, u.status, u.work_order_id, u.panel_id, u.lot_id, u.on_hold, cu.carton_id
                           FROM units u LEFT JOIN shipping_carton_units cu ON cu.unit_id = u.id AND cu.unit_id BETWEEN r.lo AND r.hi
                          WHERE u.id BETWEEN r.lo AND r.hi) u),
    cx AS MATERIALIZED (SELECT c.id, c.code, c.state, c.shipment_id, sh.number, sh.customer, sh.customer_po, sh.state AS sh_state, sh.released_at
                          FROM (SELECT DISTINCT carton_id FROM u WHERE carton_id IS NOT NULL) d JOIN shipping_cartons c ON c.id = d.carton_id LEFT JOIN shipping_shipments sh ON sh.id = c.shipment_id),
    x AS MATERIALIZED (
      SELECT u.id, u.serial, u.status, u.work_order_id, u.carton_id,
             ${stateCase({
               shipped: `c.sh_state = 'released'`,
               held: `u.on_hold OR w.state = 'on_hold' OR u.panel_id IN (SELECT id FROM panels WHERE on_hold) OR u.lot_id IN (SELECT id FROM production_lots WHERE on_hold)
                      OR u.id IN (SELECT unnest($3::bigint[]))`,
               packed: 'u.carton_id IS NOT NULL',
             })} AS state
        FROM u JOIN work_orders w ON w.id = u.work_order_id LEFT JOIN cx c ON c.id = u.carton_id),
    g AS MATERIALIZED (
      SELECT g.work_order_id, g.carton_id, g.state, g.n, w.number AS wo, w.customer AS wo_customer, w.customer_po, c.code AS carton, c.state AS carton_state,
             c.shipment_id, c.number AS shipment, c.customer AS sh_customer, c.customer_po AS sh_po, c.sh_state, c.released_at
        FROM (SELECT work_order_id, carton_id, state, count(*)::int AS n FROM x GROUP BY 1, 2, 3) g
        JOIN work_orders w ON w.id = g.work_order_id LEFT JOIN cx c ON c.id = g.carton_id)
  SELECT json_build_object(
    'total', (SELECT COALESCE(sum(n), 0)::int FROM g),
    'byState', (SELECT COALESCE(json_object_agg(state, n), '{}') FROM (SELECT state, sum(n)::int AS n FROM g GROUP BY state) s),
    'byWorkOrder', (SELECT COALESCE(json_agg(json_build_object('workOrderId', work_order_id, 'number', wo, 'customer', wo_customer, 'customerPo', customer_po, 'units', n, 'byState', st) ORDER BY wo), '[]')
                      FROM (SELECT work_order_id, wo, wo_customer, customer_po, sum(n)::int AS n, json_object_agg(state, n) AS st
                              FROM (SELECT work_order_id, wo, wo_customer, customer_po, state, sum(n)::int AS n FROM g GROUP BY 1, 2, 3, 4, 5) a GROUP BY 1, 2, 3, 4) b),
    'byCustomer', (SELECT COALESCE(json_agg(json_build_object('customer', customer, 'units', n, 'shipped', shipped) ORDER BY customer), '[]')
                     FROM (SELECT COALESCE(sh_customer, wo_customer) AS customer, sum(n)::int AS n, COALESCE(sum(n) FILTER (WHERE state = 'shipped'), 0)::int AS shipped FROM g GROUP BY 1) c),
    'cartons', (SELECT COALESCE(json_agg(json_build_object('id', carton_id, 'code', carton, 'state', carton_state, 'units', n) ORDER BY carton), '[]')
                  FROM (SELECT carton_id, carton, carton_state, sum(n)::int AS n FROM g WHERE carton_id IS NOT NULL GROUP BY 1, 2, 3) c),
    'shipments', (SELECT COALESCE(json_agg(json_build_object('id', shipment_id, 'number', shipment, 'customer', sh_customer, 'customerPo', sh_po, 'state', sh_state,
                    'releasedAt', released_at, 'units', n) ORDER BY shipment), '[]')
                    FROM (SELECT shipment_id, shipment, sh_customer, sh_po, sh_state, released_at, sum(n)::int AS n FROM g WHERE shipment_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) s),
    'page', (SELECT json_build_object('unitId', COALESCE(json_agg(id ORDER BY id), '[]'), 'serial', COALESCE(json_agg(serial ORDER BY id), '[]'),
                'status', COALESCE(json_agg(status ORDER BY id), '[]'), 'state', COALESCE(json_agg(state ORDER BY id), '[]'),
                'workOrderId', COALESCE(json_agg(work_order_id ORDER BY id), '[]'), 'cartonId', COALESCE(json_agg(carton_id ORDER BY id), '[]'))
               FROM (SELECT * FROM x WHERE id > $4 ORDER BY id LIMIT $5) p),
    'cartonShipments', (SELECT COALESCE(json_object_agg(id, json_build_object('code', code, 'shipment', number, 'customer', customer)), '{}') FROM cx WHERE $5 > 0)
  ) AS r`;

interface ImpactRow extends ImpactCounts {
  page: { unitId: number[]; serial: string[]; status: string[]; state: UnitState[]; workOrderId: number[]; cartonId: (number | null)[] };
  cartonShipments: Record<string, { code: string; shipment: string | null; customer: string | null }>;
}

export function createWhereUsed(db: Db, deps: { materials: MaterialSource; quality: QualityService }) {
  async function idBy(q: Queryable, table: string, ref: number | string, what: string, field: string, extra = ''): Promise<number> {
    const col = typeof ref === 'number' ? 'id' : 'code';
    const r = await q.query<{ id: number }>(`SELECT id FROM ${table} WHERE ${col} = $1 ${extra}`, [ref]);
    if (!r.rows[0]) throw notFound(what, ref, field);
    return r.rows[0].id;
  }

  async function viaMaterials(q: Queryable, mq: MaterialWhereUsedQuery): Promise<Map<number, string | null>> {
    const r = await deps.materials.materialWhereUsed(mq, q);
    return new Map(r.units.map((u) => [u.unitId, u.via]));
  }

  /** The unit ids a question finds, each with how it was reached (when the source says). */
  async function unitsOf(query: TraceQuery, q: Queryable): Promise<Map<number, string | null>> {
    switch (query.kind) {
      case 'material_lot': {
        const r = await q.query('SELECT 1 FROM material_lots WHERE id = $1', [query.materialLotId]);
        if (!r.rowCount) throw notFound('material lot', query.materialLotId, '/materialLotId');
        return viaMaterials(q, { lotId: query.materialLotId });
      }
      case 'package':
        return viaMaterials(q, { packageId: await idBy(q, 'material_packages', query.package, 'package', '/package') });
      case 'paste_jar':
        return viaMaterials(q, { pasteJarPackageId: await idBy(q, 'material_packages', query.package, 'paste jar', '/package', `AND kind = 'paste-jar'`) });
      case 'stencil':
        return viaMaterials(q, { stencilId: await idBy(q, 'stencils', query.stencil, 'stencil', '/stencil') });
      case 'mpn': {
        if (query.dateCodeFrom !== undefined && query.dateCodeTo !== undefined && query.dateCodeFrom > query.dateCodeTo) {
          throw validationFailed([{ field: '/dateCodeTo', code: 'range', message: 'dateCodeTo must not be before dateCodeFrom' }]);
        }
        return viaMaterials(q, { mpn: query.mpn, ...(query.dateCodeFrom !== undefined ? { dateCodeFrom: query.dateCodeFrom } : {}), ...(query.dateCodeTo !== undefined ? { dateCodeTo: query.dateCodeTo } : {}) });
      }
      case 'program': {
        const eq = query.equipment === undefined ? null : await idBy(q, 'equipment', query.equipment, 'equipment', '/equipment');
        const r = await q.query<{ unit_id: number; via: string }>(
          `SELECT unit_id, min(via) AS via FROM (
             SELECT unit_id, 'process' AS via FROM process_records WHERE program_name = $1 AND ($2::text IS NULL OR program_revision = $2) AND ($3::bigint IS NULL OR equipment_id = $3)
             UNION ALL
             SELECT unit_id, 'result' FROM quality_results WHERE program_name = $1 AND ($2::text IS NULL OR program_revision = $2) AND ($3::bigint IS NULL OR equipment_id = $3)) x
           GROUP BY unit_id`,
          [query.program, query.revision ?? null, eq],
        );
        return new Map(r.rows.map((x) => [x.unit_id, x.via]));
      }
      case 'operator': {
        const from = time(query.from, '/from');
        const to = time(query.to, '/to');
        if (from && to && to <= from) throw validationFailed([{ field: '/to', code: 'range', message: 'to must be after from' }]);
        const r = await q.query<{ unit_id: number; via: string }>(
          `SELECT unit_id, min(via) AS via FROM (
             SELECT unit_id, 'process' AS via FROM process_records WHERE operator = $1 AND ($2::timestamptz IS NULL OR completed_at >= $2) AND ($3::timestamptz IS NULL OR completed_at < $3)
             UNION ALL
             SELECT unit_id, 'result' FROM quality_results WHERE operator = $1 AND ($2::timestamptz IS NULL OR completed_at >= $2) AND ($3::timestamptz IS NULL OR completed_at < $3)
             UNION ALL
             SELECT unit_id, 'rework' FROM quality_rework_actions WHERE operator = $1 AND ($2::timestamptz IS NULL OR performed_at >= $2) AND ($3::timestamptz IS NULL OR performed_at < $3)) x
           GROUP BY unit_id`,
          [query.operator, from, to],
        );
        return new Map(r.rows.map((x) => [x.unit_id, x.via]));
      }
      case 'station_window': {
        const from = time(query.from, '/from')!;
        const to = time(query.to, '/to')!;
        if (to <= from) throw validationFailed([{ field: '/to', code: 'range', message: 'to must be after from' }]);
        const stationId = await idBy(q, 'stations', query.station, 'station', '/station');
        const units = await deps.quality.whereUsed({ kind: 'station_window', stationId, from, to }, q);
        return new Map(units.map((u) => [u.unitId, 'process']));
      }
      default:
        throw validationFailed([{ field: '/kind', code: 'enum', message: `kind must be one of ${TRACE_QUERY_KINDS.join(', ')}` }]);
    }
  }

  /** Quality holds covering the units now (active only), for the on-hold bucket. */
  async function heldOf(ids: number[], q: Queryable): Promise<number[]> {
    return [...new Set((await deps.quality.holdsCovering(ids, {}, q)).map((h) => h.unitId))];
  }

  /** Counts over the units, and the page of them (`limit` 0: none). */
  async function counts(ids: Iterable<number>, held: number[], q: Queryable, page: { afterId: number; limit: number }): Promise<ImpactCounts & { units: Omit<AffectedUnit, 'via'>[] }> {
    const { lo, hi } = idRuns(ids);
    // Not a named statement: planned for the actual number of runs and units each time.
    const r = (await q.query<{ r: ImpactRow }>(IMPACT_SQL, [lo, hi, held, page.afterId, page.limit])).rows[0]!.r;
    const { page: p, cartonShipments, ...c } = r;
    const wo = new Map(c.byWorkOrder.map((w) => [w.workOrderId, w]));
    const units = p.unitId.map((unitId, i) => {
      const w = wo.get(p.workOrderId[i]!)!;
      const cs = p.cartonId[i] === null ? null : cartonShipments[String(p.cartonId[i])]!;
      return {
        unitId, serial: p.serial[i]!, status: p.status[i]!, state: p.state[i]!, workOrderId: w.workOrderId, workOrderNumber: w.number,
        customer: cs?.customer ?? w.customer, carton: cs?.code ?? null, shipment: cs?.shipment ?? null,
      };
    });
    return {
      ...c,
      byState: Object.fromEntries(UNIT_STATES.map((s) => [s, Number((c.byState as Record<string, number>)[s] ?? 0)])) as Record<UnitState, number>,
      units,
    };
  }

  /**
   * Runs a question's statements in one snapshot: the caller's transaction when given, else a
   * repeatable-read transaction of its own (the unit list and its counts agree).
   */
  function reading<T>(q: Queryable | undefined, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return q ? fn(q) : db.tx(fn, { isolation: 'repeatable read' });
  }

  /** Recall impact: the counts only (fast path, no unit list). */
  async function impact(query: TraceQuery, outer?: Queryable): Promise<{ query: TraceQuery } & ImpactCounts> {
    return reading(outer, async (q) => {
      const ids = [...(await unitsOf(query, q)).keys()];
      const { units: _none, ...c } = await counts(ids, await heldOf(ids, q), q, { afterId: 0, limit: 0 });
      return { query, ...c };
    });
  }

  /** Where-used: the counts and one page of the affected units (by unit id). */
  async function whereUsed(query: TraceQuery, page: { afterId?: number; limit?: number } = {}, outer?: Queryable) {
    const limit = Math.min(Math.max(page.limit ?? 500, 1), 10_000);
    return reading(outer, async (q) => {
      const found = await unitsOf(query, q);
      const ids = [...found.keys()];
      const c = await counts(ids, await heldOf(ids, q), q, { afterId: page.afterId ?? 0, limit });
      const units: AffectedUnit[] = c.units.map((u) => ({ ...u, via: found.get(u.unitId) ?? null }));
      return { query, ...c, units, nextAfterId: units.length === limit ? units[units.length - 1]!.unitId : null };
    });
  }

  /**
   * Containment in one action: runs the question and places one quality hold of scope `units`
   * on exactly the units it finds (quality's hold, audited there, recording the question), in one
   * transaction.
   */
  async function holdWhereUsed(who: Principal, input: { query: TraceQuery; reasonCode: string; reason: string }): Promise<Hold & { units: number }> {
    return db.tx(async (tx) => {
      const ids = [...(await unitsOf(input.query, tx)).keys()];
      return deps.quality.holdWhereUsed(who, { query: input.query, unitIds: ids, reasonCode: input.reasonCode, reason: input.reason }, tx);
    });
  }

  return { whereUsed, impact, holdWhereUsed, unitIdsOf: (query: TraceQuery, outer?: Queryable) => reading(outer, async (q) => [...(await unitsOf(query, q)).keys()]) };
}
