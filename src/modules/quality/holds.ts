import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { MaterialsService } from '../materials/index.ts';
import type { WorkOrdersService } from '../work-orders/index.ts';
import { HOLD_SCOPES, type HoldScope } from './reasons.ts';
import { auditSignature, type SignatureInput, type Signatures } from './signatures.ts';

/**
 * Holds with scopes: unit, a list of units (e.g. a where-used result), panel, production lot,
 * work order, product revision, material lot, package, station, and station + time window. The
 * `quality_holds` table is the one source of truth; which units a hold covers is computed when
 * asked (interlock, packing, clearance), so a unit that reaches a held scope later is covered too.
 *
 * Doors: the interlock refuses held units (rules HOLD_*, see interlock.ts) and any unit at a held
 * station; packing and shipment clearance refuse held units; loading refuses material of a held
 * material lot (the lot's `on_hold` flag, set and cleared here in the same transaction) or a held
 * package (blocked through the materials service). Release needs a signature.
 */

export interface Hold {
  id: number; number: string; scope: HoldScope; unitId: number | null; serial: string | null; panelId: number | null; panelCode: string | null;
  productionLotId: number | null; lotCode: string | null; workOrderId: number | null; workOrderNumber: string | null; productRevisionId: number | null;
  materialLotId: number | null; packageId: number | null; packageCode: string | null; stationId: number | null; stationCode: string | null;
  windowFrom: Date | null; windowTo: Date | null; query: unknown; unitCount: number | null; reasonCode: string; reason: string; source: string; alertId: number | null;
  placedAt: Date; placedBy: string; releasedAt: Date | null; releasedBy: string | null; releaseReason: string | null; releaseSignatureId: number | null;
}

export interface HoldInput {
  scope: HoldScope;
  /** unit: its serial. */
  serial?: string;
  /** units: the serials (one hold over all of them). */
  serials?: string[];
  /** panel: its ID. */
  panel?: string;
  /** lot: the production lot code. */
  lot?: string;
  /** work_order: id or number. */
  workOrder?: number | string;
  productRevisionId?: number;
  materialLotId?: number;
  packageId?: number;
  packageCode?: string;
  /** station / station_window: id or code. */
  stationId?: number;
  station?: string;
  /** station_window: from (inclusive) … to (exclusive). */
  from?: string | Date;
  to?: string | Date;
  reasonCode: string;
  reason: string;
}

/** A where-used question whose answer (units) can be held in one action. */
export type WhereUsedQuery =
  | { kind: 'material_lot'; materialLotId: number }
  | { kind: 'package'; packageId: number }
  | { kind: 'station_window'; stationId: number; from: string | Date; to: string | Date };

export interface WhereUsedUnit { unitId: number; serial: string; workOrderId: number; workOrderNumber: string; status: string }

const HOLD_SELECT = `h.id, h.number, h.scope, h.unit_id AS "unitId", u.serial, h.panel_id AS "panelId", p.code AS "panelCode", h.production_lot_id AS "productionLotId",
  l.code AS "lotCode", h.work_order_id AS "workOrderId", w.number AS "workOrderNumber", h.product_revision_id AS "productRevisionId", h.material_lot_id AS "materialLotId",
  h.package_id AS "packageId", pk.code AS "packageCode", h.station_id AS "stationId", s.code AS "stationCode", h.window_from AS "windowFrom", h.window_to AS "windowTo",
  h.query, CASE WHEN h.scope = 'units' THEN (SELECT count(*)::int FROM quality_hold_units hu WHERE hu.hold_id = h.id) END AS "unitCount",
  h.reason_code AS "reasonCode", h.reason, h.source, h.alert_id AS "alertId", h.placed_at AS "placedAt", h.placed_by AS "placedBy", h.released_at AS "releasedAt",
  h.released_by AS "releasedBy", h.release_reason AS "releaseReason", h.release_signature_id AS "releaseSignatureId"
  FROM quality_holds h LEFT JOIN units u ON u.id = h.unit_id LEFT JOIN panels p ON p.id = h.panel_id LEFT JOIN production_lots l ON l.id = h.production_lot_id
  LEFT JOIN work_orders w ON w.id = h.work_order_id LEFT JOIN material_packages pk ON pk.id = h.package_id LEFT JOIN stations s ON s.id = h.station_id`;

/**
 * Every (hold, unit) covered by the given holds, computed from the holds' side, for every scope
 * but the material ones: material lot and package holds cover the units materials' where-used
 * finds (`materials.materialWhereUsed`, the one implementation of material where-used), see
 * `coveredUnits`.
 */
export const HOLD_COVERAGE_SQL = `WITH h AS (SELECT * FROM quality_holds WHERE id = ANY($1::bigint[]))
  SELECT h.id AS hold_id, h.unit_id FROM h WHERE h.scope = 'unit'
  UNION SELECT hu.hold_id, hu.unit_id FROM h JOIN quality_hold_units hu ON hu.hold_id = h.id
  UNION SELECT h.id, u.id FROM h JOIN units u ON u.panel_id = h.panel_id WHERE h.scope = 'panel'
  UNION SELECT h.id, u.id FROM h JOIN units u ON u.lot_id = h.production_lot_id WHERE h.scope = 'lot'
  UNION SELECT h.id, u.id FROM h JOIN units u ON u.work_order_id = h.work_order_id WHERE h.scope = 'work_order'
  UNION SELECT h.id, u.id FROM h JOIN work_orders w ON w.product_revision_id = h.product_revision_id JOIN units u ON u.work_order_id = w.id WHERE h.scope = 'product_revision'
  UNION SELECT h.id, pr.unit_id FROM h JOIN process_records pr ON pr.station_id = h.station_id AND pr.completed_at >= h.window_from
           AND COALESCE(pr.started_at, pr.completed_at) < h.window_to WHERE h.scope = 'station_window'`;

const marker = (number: string) => `quality hold ${number}`;

export function createHolds(db: Db, deps: { workOrders: WorkOrdersService; materials: MaterialsService; signatures: Signatures }) {
  async function getHold(id: number, q: Queryable = db): Promise<Hold> {
    const h = (await q.query<Hold>(`SELECT ${HOLD_SELECT} WHERE h.id = $1`, [id])).rows[0];
    if (!h) throw notFound('hold', id);
    return h;
  }

  /** Several holds by id (in id order), e.g. those covering a unit. */
  async function getHolds(ids: number[], q: Queryable = db): Promise<Hold[]> {
    if (ids.length === 0) return [];
    return (await q.query<Hold>(`SELECT ${HOLD_SELECT} WHERE h.id = ANY($1::bigint[]) ORDER BY h.id`, [ids])).rows;
  }

  async function getHoldByNumber(number: string, q: Queryable = db): Promise<Hold> {
    const h = (await q.query<Hold>(`SELECT ${HOLD_SELECT} WHERE h.number = $1`, [number])).rows[0];
    if (!h) throw notFound('hold', number);
    return h;
  }

  async function listHolds(f: { active?: boolean; scope?: HoldScope; workOrderId?: number; serial?: string; limit?: number; afterId?: number } = {}): Promise<Hold[]> {
    return (
      await db.query<Hold>(
        `SELECT ${HOLD_SELECT} WHERE ($1::boolean IS NULL OR (h.released_at IS NULL) = $1) AND ($2::text IS NULL OR h.scope = $2) AND ($3::bigint IS NULL OR h.work_order_id = $3)
           AND ($4::text IS NULL OR h.id IN (SELECT hold_id FROM quality_hold_units WHERE unit_id = (SELECT id FROM units WHERE serial = $4)) OR u.serial = $4)
           AND ($5::bigint IS NULL OR h.id < $5) ORDER BY h.id DESC LIMIT $6`,
        [f.active ?? null, f.scope ?? null, f.workOrderId ?? null, f.serial ?? null, f.afterId ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  async function idOf(q: Queryable, sql: string, key: unknown, what: string, field: string): Promise<number> {
    const r = (await q.query<{ id: number }>(sql, [key])).rows[0];
    if (!r) throw new AppError('REFERENCE_NOT_FOUND', `${what} ${JSON.stringify(key)} does not exist`, { errors: [{ field, code: 'unknown', message: `no ${what} ${key}` }] });
    return r.id;
  }

  const required = (field: string, message: string) => validationFailed([{ field: `/${field}`, code: 'required', message }]);

  /** Resolves the scope's key(s) of a hold input to ids; the unit list for `units`. */
  async function resolveScope(q: Queryable, input: HoldInput) {
    const k: Record<string, unknown> = {};
    let unitIds: number[] = [];
    switch (input.scope) {
      case 'unit':
        if (!input.serial) throw required('serial', 'a unit hold names the unit (serial)');
        k.unit_id = await idOf(q, 'SELECT id FROM units WHERE serial = $1', input.serial, 'unit', '/serial');
        break;
      case 'units': {
        const serials = [...new Set(input.serials ?? [])];
        if (serials.length === 0) throw required('serials', 'a units hold lists the units (serials)');
        if (serials.length > 100_000) throw validationFailed([{ field: '/serials', code: 'range', message: 'at most 100000 units per hold' }]);
        const r = await q.query<{ id: number; serial: string }>('SELECT id, serial FROM units WHERE serial = ANY($1)', [serials]);
        const found = new Set(r.rows.map((x) => x.serial));
        const unknown = serials.filter((s) => !found.has(s));
        if (unknown.length) throw new AppError('REFERENCE_NOT_FOUND', `Unknown unit(s): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}`, { errors: unknown.slice(0, 100).map((s) => ({ field: '/serials', code: 'unknown_unit', message: `no unit ${s}` })) });
        unitIds = r.rows.map((x) => x.id);
        break;
      }
      case 'panel':
        if (!input.panel) throw required('panel', 'a panel hold names the panel ID');
        k.panel_id = await idOf(q, 'SELECT id FROM panels WHERE code = $1', input.panel, 'panel', '/panel');
        break;
      case 'lot':
        if (!input.lot) throw required('lot', 'a lot hold names the production lot code');
        k.production_lot_id = await idOf(q, 'SELECT id FROM production_lots WHERE code = $1', input.lot, 'production lot', '/lot');
        break;
      case 'work_order':
        if (input.workOrder === undefined) throw required('workOrder', 'a work-order hold names the work order (id or number)');
        k.work_order_id = (await deps.workOrders.resolve(input.workOrder, q)).id;
        break;
      case 'product_revision':
        if (input.productRevisionId === undefined) throw required('productRevisionId', 'a product-revision hold names the revision');
        k.product_revision_id = await idOf(q, 'SELECT id FROM product_revisions WHERE id = $1', input.productRevisionId, 'product revision', '/productRevisionId');
        break;
      case 'material_lot':
        if (input.materialLotId === undefined) throw required('materialLotId', 'a material-lot hold names the material lot');
        k.material_lot_id = await idOf(q, 'SELECT id FROM material_lots WHERE id = $1', input.materialLotId, 'material lot', '/materialLotId');
        break;
      case 'package':
        if (input.packageId === undefined && !input.packageCode) throw required('packageId', 'a package hold names the package (id or code)');
        k.package_id = input.packageId !== undefined
          ? await idOf(q, 'SELECT id FROM material_packages WHERE id = $1', input.packageId, 'package', '/packageId')
          : await idOf(q, 'SELECT id FROM material_packages WHERE code = $1', input.packageCode, 'package', '/packageCode');
        break;
      case 'station':
      case 'station_window': {
        if (input.stationId === undefined && !input.station) throw required('stationId', 'a station hold names the station (id or code)');
        k.station_id = input.stationId !== undefined
          ? await idOf(q, 'SELECT id FROM stations WHERE id = $1', input.stationId, 'station', '/stationId')
          : await idOf(q, 'SELECT id FROM stations WHERE code = $1', input.station, 'station', '/station');
        if (input.scope === 'station_window') {
          if (!input.from || !input.to) throw required('from', 'a station time-window hold needs from and to');
          const from = new Date(input.from);
          const to = new Date(input.to);
          if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || to <= from) throw validationFailed([{ field: '/to', code: 'range', message: 'to must be a time after from' }]);
          k.window_from = from;
          k.window_to = to;
        }
        break;
      }
      default:
        throw validationFailed([{ field: '/scope', code: 'enum', message: `must be one of ${HOLD_SCOPES.join(', ')}` }]);
    }
    return { k, unitIds };
  }

  /** Inserts the hold and drives the materials side (lot flag, package block) in the same transaction. */
  async function insert(tx: Tx, who: Principal, input: HoldInput, k: Record<string, unknown>, unitIds: number[], extra: { source?: string; alertId?: number | null; query?: unknown } = {}): Promise<Hold> {
    const reason = (input.reason ?? '').trim();
    if (reason.length < 3) throw validationFailed([{ field: '/reason', code: 'required', message: 'a hold needs a reason (at least 3 characters)' }]);
    const known = await tx.query('SELECT 1 FROM quality_hold_reasons WHERE code = $1', [input.reasonCode]);
    if (!known.rowCount) throw validationFailed([{ field: '/reasonCode', code: 'unknown_reason', message: `${input.reasonCode} is not a hold reason code` }]);
    const r = await tx.query<{ id: number; number: string }>(
      `INSERT INTO quality_holds (number, scope, unit_id, panel_id, production_lot_id, work_order_id, product_revision_id, material_lot_id, package_id, station_id,
                                  window_from, window_to, query, reason_code, reason, source, alert_id, placed_by)
       VALUES ('H-' || lpad(nextval('quality_hold_number_seq')::text, 6, '0'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
       RETURNING id, number`,
      [
        input.scope, k.unit_id ?? null, k.panel_id ?? null, k.production_lot_id ?? null, k.work_order_id ?? null, k.product_revision_id ?? null, k.material_lot_id ?? null,
        k.package_id ?? null, k.station_id ?? null, k.window_from ?? null, k.window_to ?? null, extra.query === undefined ? null : JSON.stringify(extra.query),
        input.reasonCode, reason, extra.source ?? 'manual', extra.alertId ?? null, who.name,
      ],
    );
    const { id, number } = r.rows[0]!;
    if (unitIds.length) await tx.query('INSERT INTO quality_hold_units (hold_id, unit_id) SELECT $1, unnest($2::bigint[])', [id, unitIds]);
    if (input.scope === 'material_lot') {
      await tx.query(
        `UPDATE material_lots SET on_hold = true, hold_reason = $2, held_at = clock_timestamp(), held_by = $3 WHERE id = $1 AND NOT on_hold`,
        [k.material_lot_id, `${marker(number)}: ${reason}`, who.name],
      );
    }
    if (input.scope === 'package') {
      const st = (await tx.query<{ status: string }>('SELECT status FROM material_packages WHERE id = $1 FOR UPDATE', [k.package_id])).rows[0]!;
      if (st.status === 'available' || st.status === 'in-use') await deps.materials.block(who, k.package_id as number, `${marker(number)}: ${reason}`, tx);
    }
    const hold = await getHold(id, tx);
    await recordAudit(tx, who, { action: 'hold', entity: 'quality_hold', entityId: id, after: { ...hold, units: unitIds.length || undefined }, reason });
    return hold;
  }

  /** Places a hold on one scope. */
  async function placeHold(who: Principal, input: HoldInput, q?: Queryable): Promise<Hold> {
    return inTx(db, q, async (tx) => {
      const { k, unitIds } = await resolveScope(tx, input);
      return insert(tx, who, input, k, unitIds);
    });
  }

  /** The units built with material of a lot or a package: materials' where-used (M3 installs, M2 setup history, repair replacements). */
  async function materialUnits(q: Queryable, query: { lotId: number } | { packageId: number }): Promise<number[]> {
    return (await deps.materials.materialWhereUsed(query, q)).units.map((u) => u.unitId);
  }

  /** The units a where-used question finds (material lot, package, station + time window). */
  async function whereUsed(query: WhereUsedQuery, q: Queryable = db): Promise<WhereUsedUnit[]> {
    let ids: number[];
    if (query.kind === 'material_lot' || query.kind === 'package') {
      ids = await materialUnits(q, query.kind === 'package' ? { packageId: query.packageId } : { lotId: query.materialLotId });
    } else if (query.kind === 'station_window') {
      ids = (
        await q.query<{ unit_id: number }>(
          `SELECT DISTINCT unit_id FROM process_records WHERE station_id = $1 AND completed_at >= $2 AND COALESCE(started_at, completed_at) < $3`,
          [query.stationId, new Date(query.from), new Date(query.to)],
        )
      ).rows.map((r) => r.unit_id);
    } else {
      throw validationFailed([{ field: '/query/kind', code: 'enum', message: 'kind must be material_lot, package or station_window' }]);
    }
    return (
      await q.query<WhereUsedUnit>(
        `SELECT u.id AS "unitId", u.serial, u.work_order_id AS "workOrderId", w.number AS "workOrderNumber", u.status FROM units u JOIN work_orders w ON w.id = u.work_order_id
          WHERE u.id = ANY($1::bigint[]) ORDER BY u.id`,
        [ids],
      )
    ).rows;
  }

  /**
   * Recall containment: holds every unit a where-used question finds, in one action (a hold of
   * scope `units` recording the question). Either quality runs the question (`query` is a
   * WhereUsedQuery), or the caller (traceability's where-used) gives the units it found for its
   * question in `unitIds`, in the caller's transaction `q` so that the hold covers exactly them.
   */
  async function holdWhereUsed(
    who: Principal,
    input: { query: WhereUsedQuery; reasonCode: string; reason: string } | { query: Record<string, unknown>; unitIds: number[]; reasonCode: string; reason: string },
    q?: Queryable,
  ): Promise<Hold & { units: number }> {
    return inTx(db, q, async (tx) => {
      const ids = 'unitIds' in input ? [...new Set(input.unitIds)] : (await whereUsed(input.query, tx)).map((u) => u.unitId);
      if (ids.length === 0) throw new AppError('STATE_CONFLICT', 'The where-used query finds no units; nothing to hold');
      if (ids.length > 100_000) throw validationFailed([{ field: '/query', code: 'range', message: `the query finds ${ids.length} units; at most 100000 per hold` }]);
      const hold = await insert(tx, who, { scope: 'units', reasonCode: input.reasonCode, reason: input.reason }, {}, ids, { source: 'where-used', query: input.query });
      return { ...hold, units: ids.length };
    });
  }

  /**
   * Which holds cover the given units, computed from the units' side (the coverage rules of
   * HOLD_COVERAGE_SQL): unit, units, panel, lot, work order, product revision, station window,
   * and material lot / package through the units' material packages (`packagesOf`: unit id →
   * package ids, e.g. from materials' unit material list; the packages repairs placed or removed
   * are added here: a unit built with held material stays covered after the part was replaced).
   * Without `packagesOf`, material holds are resolved from the holds' side (where-used of each
   * material hold, intersected with the units). Station holds stop a station and cover no unit.
   * Active holds only unless `includeReleased`. The branches that read the units' keys, the
   * unit lists and the station windows run only while such holds exist (one-time filters), so a
   * large unit set costs no probes for scopes nobody holds. `packagesOf` may be a promise (the
   * caller's material list still loading): the key-based statement and the list of material holds
   * run meanwhile, and it is awaited only while a material hold exists.
   */
  async function holdsCovering(
    unitIds: number[],
    opts: { includeReleased?: boolean; packagesOf?: Map<number, number[]> | Promise<Map<number, number[]>> } = {},
    q: Queryable = db,
  ): Promise<{ unitId: number; holdId: number }[]> {
    if (unitIds.length === 0) return [];
    const all = opts.includeReleased === true;
    // On the pool the two statements take two connections at once; a transaction's one connection takes them in turn.
    const keyedQ = () => q.query<{ unitId: number; holdId: number }>(
        `WITH u AS (SELECT u.id, u.panel_id, u.lot_id, u.work_order_id, w.product_revision_id FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE u.id = ANY($1::bigint[])),
              h AS (SELECT * FROM quality_holds WHERE ($2 OR released_at IS NULL) AND scope IN ('unit','panel','lot','work_order','product_revision','station_window'))
         SELECT h.unit_id AS "unitId", h.id AS "holdId" FROM h WHERE h.scope = 'unit' AND h.unit_id = ANY($1::bigint[])
         UNION SELECT u.id, h.id FROM u JOIN h ON (h.scope = 'panel' AND h.panel_id = u.panel_id) OR (h.scope = 'lot' AND h.production_lot_id = u.lot_id)
                OR (h.scope = 'work_order' AND h.work_order_id = u.work_order_id) OR (h.scope = 'product_revision' AND h.product_revision_id = u.product_revision_id)
                WHERE EXISTS (SELECT 1 FROM h x WHERE x.scope IN ('panel','lot','work_order','product_revision'))
         UNION SELECT hu.unit_id, hu.hold_id FROM quality_hold_units hu JOIN quality_holds hh ON hh.id = hu.hold_id AND ($2 OR hh.released_at IS NULL)
                WHERE hu.unit_id = ANY($1::bigint[]) AND EXISTS (SELECT 1 FROM quality_holds x WHERE x.scope = 'units' AND ($2 OR x.released_at IS NULL))
         UNION SELECT pr.unit_id, h.id FROM h JOIN process_records pr ON pr.station_id = h.station_id AND pr.completed_at >= h.window_from
                AND COALESCE(pr.started_at, pr.completed_at) < h.window_to WHERE h.scope = 'station_window' AND pr.unit_id = ANY($1::bigint[])
                AND EXISTS (SELECT 1 FROM quality_holds x WHERE x.scope = 'station_window' AND ($2 OR x.released_at IS NULL))`,
        [unitIds, all],
        'quality_holds_covering',
      );
    const materialQ = () => q.query<{ id: number; scope: 'material_lot' | 'package'; material_lot_id: number | null; package_id: number | null }>(
        `SELECT id, scope, material_lot_id, package_id FROM quality_holds WHERE scope IN ('material_lot','package') AND ($1 OR released_at IS NULL) ORDER BY id`, [all], 'quality_material_holds',
      );
    const [keyed, materialRes] = (q as Partial<Tx>).inTransaction ? [await keyedQ(), await materialQ()] : await Promise.all([keyedQ(), materialQ()]);
    const rows = keyed.rows;
    const material = materialRes.rows;
    if (material.length) {
      if (opts.packagesOf) {
        const pairs = [...(await opts.packagesOf)].flatMap(([unitId, pks]) => pks.map((p) => [unitId, p] as const));
        rows.push(...(await q.query<{ unitId: number; holdId: number }>(
          `WITH x AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS t(unit_id, package_id)
                      UNION SELECT ra.unit_id, unnest(array_remove(ARRAY[ra.new_package_id, ra.removed_package_id], NULL)) FROM quality_rework_actions ra WHERE ra.unit_id = ANY($3::bigint[]))
           SELECT DISTINCT x.unit_id AS "unitId", h.id AS "holdId" FROM x JOIN material_packages m ON m.id = x.package_id
             JOIN quality_holds h ON h.id = ANY($4::bigint[]) AND ((h.scope = 'package' AND h.package_id = m.id) OR (h.scope = 'material_lot' AND h.material_lot_id = m.material_lot_id))`,
          [pairs.map((p) => p[0]), pairs.map((p) => p[1]), unitIds, material.map((h) => h.id)],
        )).rows);
      } else {
        const wanted = new Set(unitIds);
        for (const h of material) {
          const found = h.scope === 'package' ? await materialUnits(q, { packageId: h.package_id! }) : await materialUnits(q, { lotId: h.material_lot_id! });
          for (const unitId of found) if (wanted.has(unitId)) rows.push({ unitId, holdId: h.id });
        }
      }
    }
    return rows;
  }

  /** Holds placed by a quality rule: one active hold per scope key is enough. */
  async function placeByRule(tx: Tx, who: Principal, scope: 'work_order' | 'station', id: number, reason: string, alertId: number, ruleCode: string): Promise<string | null> {
    const col = scope === 'work_order' ? 'work_order_id' : 'station_id';
    const existing = await tx.query<{ number: string }>(`SELECT number FROM quality_holds WHERE scope = $1 AND ${col} = $2 AND released_at IS NULL AND source LIKE 'rule:%' LIMIT 1`, [scope, id]);
    if (existing.rows[0]) return existing.rows[0].number;
    const hold = await insert(tx, who, { scope, reasonCode: 'QUALITY_RULE', reason }, { [col]: id }, [], { source: `rule:${ruleCode}`, alertId });
    return hold.number;
  }

  /** Ends a hold with a signature (meaning "released"); the materials side is cleared when no other hold keeps it. */
  async function releaseHold(who: Principal, id: number, input: { signature: SignatureInput }): Promise<Hold> {
    const signer = await deps.signatures.authenticate(who, 'hold.release', input.signature);
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM quality_holds WHERE id = $1 FOR UPDATE', [id]);
      const before = await getHold(id, tx);
      if (before.releasedAt) throw new AppError('STATE_CONFLICT', `Hold ${before.number} was released at ${before.releasedAt.toISOString()} by ${before.releasedBy}`);
      const sig = await deps.signatures.record(tx, signer, { entity: 'quality_hold', entityId: id, content: { hold: before, release: signer.reason } });
      await tx.query(
        `UPDATE quality_holds SET released_at = $2, released_by = $3, release_reason = $4, release_signature_id = $5 WHERE id = $1`,
        [id, sig.signedAt, signer.user.username, signer.reason, sig.id],
      );
      if (before.scope === 'material_lot') {
        await tx.query(
          `UPDATE material_lots SET on_hold = false, hold_reason = NULL, held_at = NULL, held_by = NULL
            WHERE id = $1 AND on_hold AND hold_reason LIKE 'quality hold %'
              AND NOT EXISTS (SELECT 1 FROM quality_holds WHERE scope = 'material_lot' AND material_lot_id = $1 AND released_at IS NULL)`,
          [before.materialLotId],
        );
      }
      if (before.scope === 'package') {
        const p = (await tx.query<{ status: string; status_reason: string | null }>('SELECT status, status_reason FROM material_packages WHERE id = $1 FOR UPDATE', [before.packageId])).rows[0]!;
        const others = await tx.query('SELECT 1 FROM quality_holds WHERE scope = $1 AND package_id = $2 AND released_at IS NULL', ['package', before.packageId]);
        if (p.status === 'blocked' && (p.status_reason ?? '').startsWith(marker(before.number)) && !others.rowCount) {
          await deps.materials.release(who, before.packageId!, `${marker(before.number)} released: ${signer.reason}`, tx);
        }
      }
      const after = await getHold(id, tx);
      await recordAudit(tx, who, { action: 'release_hold', entity: 'quality_hold', entityId: id, before, after, reason: signer.reason, signature: auditSignature(sig) });
      return after;
    });
  }

  /** The units a hold covers now (for the recall list and the UI). */
  async function holdUnits(id: number, limit = 10_000): Promise<WhereUsedUnit[]> {
    const h = await getHold(id);
    const ids = h.scope === 'material_lot' || h.scope === 'package'
      ? await materialUnits(db, h.scope === 'package' ? { packageId: h.packageId! } : { lotId: h.materialLotId! })
      : (await db.query<{ unit_id: number }>(`SELECT DISTINCT unit_id FROM (${HOLD_COVERAGE_SQL}) c`, [[id]])).rows.map((r) => r.unit_id);
    return (
      await db.query<WhereUsedUnit>(
        `SELECT u.id AS "unitId", u.serial, u.work_order_id AS "workOrderId", w.number AS "workOrderNumber", u.status
           FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE u.id = ANY($1::bigint[]) ORDER BY u.id LIMIT $2`,
        [ids, limit],
      )
    ).rows;
  }

  async function listReasons(): Promise<{ code: string; description: string }[]> {
    return (await db.query<{ code: string; description: string }>('SELECT code, description FROM quality_hold_reasons ORDER BY code')).rows;
  }

  return { placeHold, holdWhereUsed, whereUsed, holdsCovering, getHolds, releaseHold, getHold, getHoldByNumber, listHolds, holdUnits, listReasons, placeByRule };
}
export type Holds = ReturnType<typeof createHolds>;
