import type { Db, Queryable } from '../../platform/db.ts';
import { isOptional } from '../tracking/index.ts';
import type { WorkOrdersService } from '../work-orders/index.ts';
import { UNIT_BLOCKERS, type UnitBlockerCode } from './reasons.ts';

/**
 * Why units may not be packed or shipped: one set-based statement over any number of units
 * (packing asks for one, the clearance of a 10,000-unit shipment for all of them). Every open
 * quality item is a blocker with a stable code and a sentence naming the unit and the item.
 */

export interface UnitBlocker { unitId: number; serial: string; code: UnitBlockerCode; message: string }

/** Holds whose coverage is computed from the hold's side (their units are found through process records). */
const HOLD_SIDE = `WITH h AS (SELECT * FROM quality_holds WHERE released_at IS NULL AND scope IN ('station_window','material_lot','package')),
  pk AS (SELECT h.id AS hold_id, m.id AS package_id FROM h JOIN material_packages m ON h.scope = 'material_lot' AND m.material_lot_id = h.material_lot_id
         UNION ALL SELECT h.id, h.package_id FROM h WHERE h.scope = 'package')
  SELECT h.id AS hold_id, pr.unit_id FROM h JOIN process_records pr ON pr.station_id = h.station_id AND pr.completed_at >= h.window_from
         AND COALESCE(pr.started_at, pr.completed_at) < h.window_to WHERE h.scope = 'station_window'
  UNION SELECT pk.hold_id, pr.unit_id FROM pk JOIN feeder_setups fs ON fs.package_id = pk.package_id JOIN equipment e ON e.id = fs.equipment_id
         JOIN process_records pr ON pr.station_id = e.station_id AND (pr.equipment_id IS NULL OR pr.equipment_id = e.id)
          AND pr.completed_at >= fs.loaded_at AND (fs.unloaded_at IS NULL OR COALESCE(pr.started_at, pr.completed_at) < fs.unloaded_at)
  UNION SELECT pk.hold_id, ra.unit_id FROM pk JOIN quality_rework_actions ra ON ra.new_package_id = pk.package_id`;

export const BLOCKERS_SQL = `WITH req AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(wo bigint, seqs int[], types text[], depth text, material text)),
  u AS (
    SELECT u.id, u.serial, u.status, u.on_hold, u.hold_reason, u.passed_steps, u.next_step_seq, u.repair_loops <> '{}'::jsonb AS repaired, u.lot_id, u.panel_id, u.work_order_id, w.product_revision_id, w.state AS wo_state,
           w.number AS wo_number, p.on_hold AS panel_on_hold, p.code AS panel_code, p.hold_reason AS panel_hold_reason, l.on_hold AS lot_on_hold, l.code AS lot_code,
           l.hold_reason AS lot_hold_reason, req.seqs, req.types, req.depth, req.material
      FROM unnest($1::bigint[]) AS ids(id) JOIN units u ON u.id = ids.id JOIN work_orders w ON w.id = u.work_order_id JOIN req ON req.wo = u.work_order_id
      LEFT JOIN panels p ON p.id = u.panel_id LEFT JOIN production_lots l ON l.id = u.lot_id
  ),
  -- The latest result of each unit per station type (what the required-results check reads).
  lr AS (
    SELECT u.id AS unit_id, x.station_type, x.id, x.res, x.recorded_at
      FROM u CROSS JOIN LATERAL (
        SELECT DISTINCT ON (r.station_type) r.station_type, r.id, COALESCE(r.verified_result, r.result) AS res, r.recorded_at
          FROM quality_results r WHERE r.unit_id = u.id ORDER BY r.station_type, r.id DESC) x
     WHERE cardinality(u.types) > 0
  ),
  active AS (SELECT * FROM quality_holds WHERE released_at IS NULL AND scope IN ('unit','units','panel','lot','work_order','product_revision')),
  b AS (
    SELECT id AS unit_id, 'UNIT_SCRAPPED' AS code, NULL::text AS ref FROM u WHERE status = 'scrapped'
    UNION ALL SELECT id, 'UNIT_FAILED', NULL FROM u WHERE status = 'failed'
    UNION ALL SELECT id, 'ROUTE_INCOMPLETE', 'in process at a station' FROM u WHERE status = 'in_process'
    UNION ALL SELECT id, 'ROUTE_INCOMPLETE', 'step(s) ' || array_to_string(ARRAY(SELECT unnest(seqs) EXCEPT SELECT unnest(passed_steps) ORDER BY 1), ', ')
      FROM u WHERE status IN ('queued','completed') AND NOT (passed_steps @> seqs)
    UNION ALL SELECT id, 'ROUTE_INCOMPLETE', 'step ' || next_step_seq || ' is due again'
      FROM u WHERE status = 'queued' AND passed_steps @> seqs AND next_step_seq = ANY(seqs)
    UNION ALL
    SELECT rt.unit_id, CASE WHEN lr.id IS NULL THEN 'MISSING_REQUIRED_RESULT' ELSE 'FAILED_REQUIRED_RESULT' END, rt.type || CASE WHEN lr.id IS NULL THEN '' ELSE ' result #' || lr.id END
      FROM (SELECT u.id AS unit_id, t.type FROM u CROSS JOIN unnest(u.types) AS t(type) WHERE u.status <> 'scrapped') rt
      LEFT JOIN lr ON lr.unit_id = rt.unit_id AND lr.station_type = rt.type
     WHERE lr.id IS NULL OR (lr.res <> 'pass' AND NOT EXISTS (SELECT 1 FROM quality_dispositions d WHERE d.unit_id = rt.unit_id AND d.decision = 'use-as-is' AND d.created_at >= lr.recorded_at))
    UNION ALL
    SELECT d.unit_id, 'OPEN_DISPOSITION', d.decision || ' #' || d.id || ': step ' || d.verify_step_seq || ' must pass again'
      FROM quality_dispositions d JOIN u ON u.id = d.unit_id
     WHERE d.decision IN ('repair','retest') AND u.status <> 'scrapped'
       AND NOT EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = d.unit_id AND pr.visit > d.visit_at AND pr.step_seq = d.verify_step_seq AND pr.result = 'pass')
    UNION ALL
    SELECT ra.unit_id, 'UNVERIFIED_REPAIR', 'rework #' || ra.id || ': step ' || ra.verify_step_seq || ' must pass again'
      FROM quality_rework_actions ra JOIN u ON u.id = ra.unit_id
     WHERE u.status <> 'scrapped'
       AND NOT EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = ra.unit_id AND pr.visit > ra.visit_at AND pr.step_seq = ra.verify_step_seq AND pr.result = 'pass')
    UNION ALL
    SELECT r.unit_id, 'UNVERIFIED_REPAIR', 'repair loop: step ' || r.next_step_seq || ' must pass again'
      FROM (SELECT u.id AS unit_id, x.visit, x.next_step_seq FROM u CROSS JOIN LATERAL (
              SELECT pr.visit, pr.next_step_seq FROM process_records pr WHERE pr.unit_id = u.id AND pr.outcome = 'returned' ORDER BY pr.visit DESC LIMIT 1) x
             WHERE u.status <> 'scrapped' AND u.repaired) r
     WHERE r.next_step_seq IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM process_records p2 WHERE p2.unit_id = r.unit_id AND p2.visit > r.visit AND p2.step_seq = r.next_step_seq AND p2.result = 'pass')
    UNION ALL
    SELECT nu.unit_id, 'OPEN_NCR', n.number FROM quality_ncr_units nu JOIN u ON u.id = nu.unit_id JOIN quality_ncrs n ON n.id = nu.ncr_id AND n.state = 'open'
    UNION ALL
    SELECT u.id, 'OPEN_NCR', n.number || ' (work order ' || u.wo_number || ')' FROM u JOIN quality_ncrs n ON n.state = 'open' AND n.subject_kind = 'work_order' AND n.work_order_id = u.work_order_id
    UNION ALL
    SELECT u.id, 'OPEN_NCR', n.number || ' (lot ' || u.lot_code || ')' FROM u JOIN quality_ncrs n ON n.state = 'open' AND n.subject_kind = 'lot' AND n.production_lot_id = u.lot_id
    UNION ALL
    SELECT u.id, 'ON_HOLD', h.number || ' (' || h.scope || ', ' || h.reason_code || '): ' || h.reason
      FROM u JOIN active h ON (h.scope = 'unit' AND h.unit_id = u.id) OR (h.scope = 'panel' AND h.panel_id = u.panel_id) OR (h.scope = 'lot' AND h.production_lot_id = u.lot_id)
        OR (h.scope = 'work_order' AND h.work_order_id = u.work_order_id) OR (h.scope = 'product_revision' AND h.product_revision_id = u.product_revision_id)
    UNION ALL
    SELECT hu.unit_id, 'ON_HOLD', h.number || ' (units, ' || h.reason_code || '): ' || h.reason
      FROM quality_hold_units hu JOIN u ON u.id = hu.unit_id JOIN quality_holds h ON h.id = hu.hold_id AND h.released_at IS NULL
    UNION ALL
    SELECT c.unit_id, 'ON_HOLD', h.number || ' (' || h.scope || ', ' || h.reason_code || '): ' || h.reason
      FROM (${HOLD_SIDE}) c JOIN u ON u.id = c.unit_id JOIN quality_holds h ON h.id = c.hold_id
    UNION ALL SELECT id, 'TRACKING_HOLD', 'unit: ' || COALESCE(hold_reason, 'on hold') FROM u WHERE on_hold AND status <> 'failed'
    UNION ALL SELECT id, 'TRACKING_HOLD', 'panel ' || panel_code || ': ' || COALESCE(panel_hold_reason, 'on hold') FROM u WHERE panel_on_hold
    UNION ALL SELECT id, 'TRACKING_HOLD', 'lot ' || lot_code || ': ' || COALESCE(lot_hold_reason, 'on hold') FROM u WHERE lot_on_hold
    UNION ALL SELECT id, 'TRACKING_HOLD', 'work order ' || wo_number || ' is on hold' FROM u WHERE wo_state = 'on_hold'
    UNION ALL SELECT id, 'TRACE_BELOW_DEPTH', 'no production lot (the plan traces by lot)' FROM u WHERE depth = 'lot' AND lot_id IS NULL
    UNION ALL SELECT id, 'TRACE_BELOW_DEPTH', 'no panel (the plan traces by panel)' FROM u WHERE depth = 'panel' AND panel_id IS NULL
    UNION ALL
    SELECT pr.unit_id, 'MATERIAL_TRACE_MISSING', 'step ' || pr.step_seq || ' at ' || s.code || ' (plan ' || u.material || ')'
      FROM u CROSS JOIN LATERAL (SELECT * FROM process_records x WHERE x.unit_id = u.id AND x.result = 'pass' OFFSET 0) pr JOIN stations s ON s.id = pr.station_id AND s.type = 'placement'
     WHERE u.material IN ('M2','M3','M4')
       AND NOT EXISTS (SELECT 1 FROM equipment e JOIN feeder_setups fs ON fs.equipment_id = e.id
                        WHERE e.station_id = pr.station_id AND (pr.equipment_id IS NULL OR e.id = pr.equipment_id)
                          AND fs.loaded_at <= pr.completed_at AND (fs.unloaded_at IS NULL OR fs.unloaded_at > COALESCE(pr.started_at, pr.completed_at)))
  )
  SELECT b.unit_id AS "unitId", u.serial, b.code, b.ref FROM b JOIN u ON u.id = b.unit_id ORDER BY u.serial, b.ref`;

const SENTENCE: Record<UnitBlockerCode, (serial: string, ref: string | null) => string> = {
  UNIT_SCRAPPED: (s) => `unit ${s} is scrapped`,
  UNIT_FAILED: (s) => `unit ${s} failed and has no disposition`,
  ROUTE_INCOMPLETE: (s, r) => `unit ${s} has not passed every required step of its route (${r})`,
  MISSING_REQUIRED_RESULT: (s, r) => `unit ${s} has no ${r} result, which its quality plan requires`,
  FAILED_REQUIRED_RESULT: (s, r) => `unit ${s}: its latest ${r} failed and was not accepted`,
  OPEN_DISPOSITION: (s, r) => `unit ${s}: ${r} (disposition not verified)`,
  UNVERIFIED_REPAIR: (s, r) => `unit ${s} was repaired and not verified: ${r}`,
  OPEN_NCR: (s, r) => `unit ${s} is under open NCR ${r}`,
  ON_HOLD: (s, r) => `unit ${s} is held by ${r}`,
  TRACKING_HOLD: (s, r) => `unit ${s} is on hold in tracking: ${r}`,
  TRACE_BELOW_DEPTH: (s, r) => `unit ${s} is traced below its plan's depth: ${r}`,
  MATERIAL_TRACE_MISSING: (s, r) => `unit ${s} has no recorded material for its placement ${r}`,
};

export function blockerSentence(code: UnitBlockerCode, serial: string, ref: string | null): string {
  return (SENTENCE[code] ?? ((s: string) => `unit ${s}: ${UNIT_BLOCKERS[code]}`))(serial, ref);
}

export function createUnitStatus(db: Db, deps: { workOrders: WorkOrdersService }) {
  /**
   * The blockers of the given units (empty = every unit may be packed / shipped). Runs in the
   * caller's transaction when given one.
   */
  async function blockers(q: Queryable, unitIds: readonly number[]): Promise<UnitBlocker[]> {
    if (unitIds.length === 0) return [];
    const wos = (
      await q.query<{ id: number; basisId: number | null; hash: string | null }>(
        `SELECT w.id, w.basis_id AS "basisId", b.hash FROM work_orders w LEFT JOIN build_bases b ON b.id = w.basis_id
          WHERE w.id IN (SELECT DISTINCT work_order_id FROM units WHERE id = ANY($1::bigint[]))`,
        [unitIds],
      )
    ).rows;
    const req: { wo: number; seqs: number[]; types: string[]; depth: string; material: string }[] = [];
    for (const w of wos) {
      if (w.basisId === null || w.hash === null) {
        req.push({ wo: w.id, seqs: [], types: [], depth: 'unit', material: 'M1' });
        continue;
      }
      const basis = await deps.workOrders.loadBasis(w.basisId, w.hash, q);
      const plan = basis.basis.qualityPlan;
      req.push({
        wo: w.id,
        seqs: basis.main.filter((s) => !isOptional(s) && s.stationType !== 'packing').map((s) => s.seq),
        types: (plan?.requiredSteps ?? []).filter((t) => t !== 'packing'),
        depth: plan?.traceDepth ?? 'unit',
        material: plan?.materialLevel ?? 'M1',
      });
    }
    // One big statement (its cost estimate would have PostgreSQL JIT-compile it for seconds; the
    // MES's sessions run with JIT off, see platform/db.ts).
    const rows = (await (q ?? db).query<{ unitId: number; serial: string; code: UnitBlockerCode; ref: string | null }>(BLOCKERS_SQL, [unitIds, JSON.stringify(req)])).rows;
    // Per unit, the most fundamental blocker first (the order of UNIT_BLOCKERS).
    const rank = new Map(Object.keys(UNIT_BLOCKERS).map((c, i) => [c, i]));
    rows.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : rank.get(a.code)! - rank.get(b.code)!));
    return rows.map((r) => ({ unitId: r.unitId, serial: r.serial, code: r.code, message: blockerSentence(r.code, r.serial, r.ref) }));
  }

  return { blockers };
}
export type UnitStatusService = ReturnType<typeof createUnitStatus>;
