import { StringDecoder } from 'node:string_decoder';
import { Transform, type Readable } from 'node:stream';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/**
 * Row sources: each production extract and each trace-package section is one SQL statement over
 * a scope (a set of units given as SQL). They are streamed with COPY … TO STDOUT: PostgreSQL
 * produces CSV itself, and JSON as one `row_to_json` text per line that a small transform joins
 * into an array. Nothing is collected in memory, so a source of any size streams in constant
 * memory. Values are inlined only as validated integer ids (COPY takes no bind parameters).
 */

/** Which units a source covers, as SQL over `units u`, plus the work orders involved. */
export interface Scope {
  kind: 'work-order' | 'lot' | 'shipment' | 'all';
  /** A condition on `u` (alias of units). */
  unitWhere: string;
  /** A condition on a work-order id column, given its SQL expression. */
  woWhere: (col: string) => string;
  workOrderIds: number[];
}

const ids = (xs: number[]) => {
  for (const x of xs) if (!Number.isSafeInteger(x) || x < 1) throw new Error(`invalid id ${x}`);
  return xs.length ? xs.join(',') : 'NULL';
};

export function workOrderScope(woIds: number[]): Scope {
  return { kind: 'work-order', unitWhere: `u.work_order_id IN (${ids(woIds)})`, woWhere: (c) => `${c} IN (${ids(woIds)})`, workOrderIds: woIds };
}
export function lotScope(lotId: number, woId: number): Scope {
  return { kind: 'lot', unitWhere: `u.lot_id = ${ids([lotId])}`, woWhere: (c) => `${c} = ${ids([woId])}`, workOrderIds: [woId] };
}
export function shipmentScope(shipmentId: number, woIds: number[]): Scope {
  return {
    kind: 'shipment',
    unitWhere: `u.id IN (SELECT cu.unit_id FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id WHERE c.shipment_id = ${ids([shipmentId])})`,
    woWhere: (c) => `${c} IN (${ids(woIds)})`,
    workOrderIds: woIds,
  };
}
export function allScope(): Scope {
  return { kind: 'all', unitWhere: 'true', woWhere: () => 'true', workOrderIds: [] };
}

const ts = (c: string) => c; // timestamps go out as PostgreSQL writes them (session time zone UTC)

/** The production-record sources. Each returns a SELECT with a stable column order and ORDER BY. */
export const SOURCES = {
  /** Work-order sheet: product, BOM revision, quantities, basis, state. */
  workOrderSheet: (s: Scope) => `
    SELECT w.number AS work_order, w.customer, w.customer_po, p.code AS product, r.revision AS product_revision, r.bom_revision, r.gerber_revision,
           r.assembly_drawing_revision, w.quantity, w.max_units, w.units_created, w.state, l.code AS line, b.version AS basis_version, b.hash AS basis_sha256,
           ${ts('w.released_at')} AS released_at, ${ts('w.completed_at')} AS completed_at,
           (SELECT count(*) FROM units u WHERE u.work_order_id = w.id AND ${s.unitWhere}) AS units_in_scope,
           (SELECT count(*) FROM units u WHERE u.work_order_id = w.id AND ${s.unitWhere} AND u.status = 'completed') AS units_completed,
           (SELECT count(*) FROM units u WHERE u.work_order_id = w.id AND ${s.unitWhere} AND u.status = 'scrapped') AS units_scrapped
      FROM work_orders w JOIN product_revisions r ON r.id = w.product_revision_id JOIN products p ON p.id = r.product_id
      LEFT JOIN lines l ON l.id = w.line_id LEFT JOIN build_bases b ON b.id = w.basis_id
     WHERE ${s.woWhere('w.id')} ORDER BY w.id`,

  /** Material loading log: every reel interval on the placement machines while the scope's units were placed, and the paste / stencil mounts. */
  materialLoadingLog: (s: Scope) => `
    WITH span AS (
      SELECT pr.station_id, min(COALESCE(pr.started_at, pr.completed_at)) AS t0, max(pr.completed_at) AS t1
        FROM units u JOIN process_records pr ON pr.unit_id = u.id JOIN stations st ON st.id = pr.station_id AND st.type IN ('placement','printer')
       WHERE ${s.unitWhere} GROUP BY pr.station_id)
    SELECT 'feeder' AS kind, e.code AS equipment, fs.slot, fs.feeder_id, pk.code AS package, pk.kind AS package_kind, pt.ipn, mp.manufacturer, mp.mpn,
           ml.lot_code AS material_lot, ml.date_code, ml.supplier, fs.position, sp.code AS spliced_onto, ${ts('fs.loaded_at')} AS loaded_at, fs.loaded_by,
           ${ts('fs.unloaded_at')} AS unloaded_at, fs.unload_reason, pk.initial_quantity, la.id AS loading_attempt
      FROM span JOIN equipment e ON e.station_id = span.station_id
      JOIN feeder_setups fs ON fs.equipment_id = e.id AND fs.loaded_at <= span.t1 AND (fs.unloaded_at IS NULL OR fs.unloaded_at > span.t0)
      JOIN material_packages pk ON pk.id = fs.package_id JOIN material_lots ml ON ml.id = pk.material_lot_id JOIN parts pt ON pt.id = ml.part_id
      JOIN manufacturer_parts mp ON mp.id = ml.manufacturer_part_id JOIN load_attempts la ON la.id = fs.attempt_id
      LEFT JOIN feeder_setups sf ON sf.id = fs.splice_of_id LEFT JOIN material_packages sp ON sp.id = sf.package_id
    UNION ALL
    SELECT cm.kind, e.code, NULL, NULL, COALESCE(pk.code, stn.code), COALESCE(pk.kind, 'stencil'), pt.ipn, mp.manufacturer, mp.mpn, ml.lot_code, ml.date_code, ml.supplier,
           NULL, NULL, ${ts('cm.mounted_at')}, cm.mounted_by, ${ts('cm.unmounted_at')}, NULL, pk.initial_quantity, NULL
      FROM span JOIN equipment e ON e.station_id = span.station_id
      JOIN consumable_mounts cm ON cm.equipment_id = e.id AND cm.mounted_at <= span.t1 AND (cm.unmounted_at IS NULL OR cm.unmounted_at > span.t0)
      LEFT JOIN material_packages pk ON pk.id = cm.package_id LEFT JOIN stencils stn ON stn.id = cm.stencil_id
      LEFT JOIN material_lots ml ON ml.id = pk.material_lot_id LEFT JOIN parts pt ON pt.id = ml.part_id LEFT JOIN manufacturer_parts mp ON mp.id = ml.manufacturer_part_id
    ORDER BY 1, 2, 3, 15`,

  /** Traveler: every station scan (process record) of the scope's units, with panel and lot. */
  traveler: (s: Scope) => `
    SELECT u.serial, pn.code AS panel, pr.panel_position, pl.code AS lot, w.number AS work_order, pr.visit, pr.step_seq, pr.step_name, st.code AS station,
           e.code AS equipment, pr.program_name, pr.program_revision, pr.operator, pr.actor_name, pr.result, pr.outcome, pr.next_step_seq, pr.repair_loop,
           ${ts('pr.started_at')} AS entered_at, ${ts('pr.completed_at')} AS exited_at
      FROM units u JOIN process_records pr ON pr.unit_id = u.id JOIN work_orders w ON w.id = u.work_order_id JOIN stations st ON st.id = pr.station_id
      LEFT JOIN equipment e ON e.id = pr.equipment_id LEFT JOIN panels pn ON pn.id = pr.panel_id LEFT JOIN production_lots pl ON pl.id = u.lot_id
     WHERE ${s.unitWhere} ORDER BY u.id, pr.visit`,

  /** Inspection (or test) results with defects as `CODE@REFDES:verification` items. */
  results: (s: Scope, kind: 'inspection' | 'test') => `
    SELECT u.serial, qr.id AS result_id, qr.method, st.code AS station, e.code AS equipment, qr.step_seq, qr.program_name, qr.program_revision, qr.operator,
           qr.result, qr.verified_result, COALESCE(qr.verified_result, qr.result) AS effective_result, qr.retest, qr.retest_count,
           ${kind === 'test' ? "qr.fixture, qr.failed_measurements, (SELECT string_agg(f.name, ';' ORDER BY f.name) FROM quality_measurement_failures f WHERE f.result_id = qr.id) AS failed_names, qr.measurements::text AS measurements," : ''}
           qr.defect_count, (SELECT string_agg(d.code || COALESCE('@' || d.refdes, '') || ':' || d.verification, ';' ORDER BY d.id) FROM quality_defects d WHERE d.result_id = qr.id) AS defects,
           ${ts('qr.started_at')} AS started_at, ${ts('qr.completed_at')} AS completed_at
      FROM units u JOIN quality_results qr ON qr.unit_id = u.id JOIN stations st ON st.id = qr.station_id LEFT JOIN equipment e ON e.id = qr.equipment_id
     WHERE ${s.unitWhere} AND qr.kind = '${kind}' ORDER BY u.id, qr.id`,

  /** Rework / NCR log: dispositions, rework actions and NCRs of the scope's units. */
  reworkNcrLog: (s: Scope) => `
    SELECT * FROM (
      SELECT 'disposition' AS kind, u.serial, n.number AS ncr, d.decision AS what, NULL::text AS refdes, NULL::text AS removed_package, NULL::text AS new_package,
             d.failed_step_seq, d.verify_step_seq, d.reason AS text, d.created_by AS by, ${ts('d.created_at')} AS at, NULL::text AS state, d.id AS ref_id
        FROM units u JOIN quality_dispositions d ON d.unit_id = u.id LEFT JOIN quality_ncrs n ON n.id = d.ncr_id WHERE ${s.unitWhere}
      UNION ALL
      SELECT 'rework', u.serial, n.number, ra.action, ra.refdes, rp.code, np.code, NULL, ra.verify_step_seq, ra.notes, ra.operator, ${ts('ra.performed_at')}, NULL, ra.id
        FROM units u JOIN quality_rework_actions ra ON ra.unit_id = u.id LEFT JOIN quality_ncrs n ON n.id = ra.ncr_id
        LEFT JOIN material_packages rp ON rp.id = ra.removed_package_id LEFT JOIN material_packages np ON np.id = ra.new_package_id WHERE ${s.unitWhere}
      UNION ALL
      SELECT 'ncr', u.serial, n.number, n.title, NULL, NULL, NULL, NULL, NULL, n.description, n.created_by, ${ts('n.created_at')}, n.state, n.id
        FROM units u JOIN quality_ncr_units nu ON nu.unit_id = u.id JOIN quality_ncrs n ON n.id = nu.ncr_id WHERE ${s.unitWhere}
    ) x ORDER BY at, kind, ref_id`,

  /** Shipment trace: cartons and their units, with shipment, customer and PO. */
  shipmentTrace: (s: Scope) => `
    SELECT sh.number AS shipment, sh.customer, sh.customer_po, sh.state AS shipment_state, ${ts('sh.released_at')} AS released_at, c.code AS carton, c.state AS carton_state,
           w.number AS work_order, pl.code AS lot, u.serial, ${ts('cu.packed_at')} AS packed_at, cu.packed_by
      FROM units u JOIN shipping_carton_units cu ON cu.unit_id = u.id JOIN shipping_cartons c ON c.id = cu.carton_id JOIN work_orders w ON w.id = c.work_order_id
      LEFT JOIN shipping_shipments sh ON sh.id = c.shipment_id LEFT JOIN production_lots pl ON pl.id = u.lot_id
     WHERE ${s.unitWhere} ORDER BY c.id, u.id`,

  /** Open issues: active holds, open NCRs, failed units without disposition, open rule alerts. */
  openIssues: (s: Scope) => `
    SELECT * FROM (
      SELECT 'hold' AS kind, h.number AS ref, h.scope AS subject_kind,
             COALESCE(hu.serial, hp.code, hl.code, hw.number, hm.lot_code, hk.code, hs.code, h.scope) AS subject, h.reason_code AS reason_code, h.reason,
             h.placed_by AS owner, ${ts('h.placed_at')} AS since, COALESCE(hw.number, huw.number, hlw.number) AS work_order
        FROM quality_holds h
        LEFT JOIN units hu ON hu.id = h.unit_id LEFT JOIN work_orders huw ON huw.id = hu.work_order_id LEFT JOIN panels hp ON hp.id = h.panel_id
        LEFT JOIN production_lots hl ON hl.id = h.production_lot_id LEFT JOIN work_orders hlw ON hlw.id = hl.work_order_id LEFT JOIN work_orders hw ON hw.id = h.work_order_id
        LEFT JOIN material_lots hm ON hm.id = h.material_lot_id LEFT JOIN material_packages hk ON hk.id = h.package_id LEFT JOIN stations hs ON hs.id = h.station_id
       WHERE h.released_at IS NULL AND (
             (h.unit_id IS NOT NULL AND EXISTS (SELECT 1 FROM units u WHERE u.id = h.unit_id AND ${s.unitWhere}))
          OR (h.work_order_id IS NOT NULL AND ${s.woWhere('h.work_order_id')}) OR (h.production_lot_id IS NOT NULL AND ${s.woWhere('hl.work_order_id')})
          OR (h.panel_id IS NOT NULL AND EXISTS (SELECT 1 FROM units u WHERE u.panel_id = h.panel_id AND ${s.unitWhere}))
          OR (h.scope = 'units' AND EXISTS (SELECT 1 FROM quality_hold_units x JOIN units u ON u.id = x.unit_id WHERE x.hold_id = h.id AND ${s.unitWhere}))
          OR (h.unit_id IS NULL AND h.work_order_id IS NULL AND h.production_lot_id IS NULL AND h.panel_id IS NULL AND h.scope <> 'units' AND ${s.kind === 'all' ? 'true' : 'false'}))
      UNION ALL
      SELECT 'ncr', n.number, n.subject_kind, COALESCE(nu.serial, nl.code, nw.number, nm.lot_code), NULL, n.title, n.created_by, ${ts('n.created_at')}, COALESCE(nw.number, nuw.number)
        FROM quality_ncrs n LEFT JOIN units nu ON nu.id = n.unit_id LEFT JOIN work_orders nuw ON nuw.id = nu.work_order_id
        LEFT JOIN production_lots nl ON nl.id = n.production_lot_id LEFT JOIN work_orders nw ON nw.id = n.work_order_id LEFT JOIN material_lots nm ON nm.id = n.material_lot_id
       WHERE n.state = 'open' AND (${s.woWhere('COALESCE(n.work_order_id, nu.work_order_id, nl.work_order_id)')}
             OR EXISTS (SELECT 1 FROM quality_ncr_units x JOIN units u ON u.id = x.unit_id WHERE x.ncr_id = n.id AND ${s.unitWhere})
             OR (n.material_lot_id IS NOT NULL AND ${s.kind === 'all' ? 'true' : 'false'}))
      UNION ALL
      SELECT 'failure', u.serial, 'unit', u.serial, 'FAILED_NO_DISPOSITION', COALESCE(u.hold_reason, 'failed at step ' || u.failed_step_seq), 'quality-engineer',
             ${ts('u.updated_at')}, w.number
        FROM units u JOIN work_orders w ON w.id = u.work_order_id WHERE u.status = 'failed' AND ${s.unitWhere}
      UNION ALL
      SELECT 'alert', 'ALERT-' || a.id, 'work_order', w.number, qr.code, a.message, COALESCE(a.acknowledged_by, 'quality-engineer'), ${ts('a.fired_at')}, w.number
        FROM quality_alerts a JOIN quality_rules qr ON qr.id = a.rule_id JOIN work_orders w ON w.id = a.work_order_id
       WHERE a.state <> 'closed' AND ${s.woWhere('a.work_order_id')}
    ) x ORDER BY since, kind, ref`,

  /** WIP status per work order, lot and the step units wait at (or work at). */
  wip: (s: Scope) => `
    SELECT w.number AS work_order, pl.code AS lot, COALESCE(u.started_step_seq, u.next_step_seq, u.failed_step_seq) AS step_seq, rs.name AS step_name,
           COALESCE(ps.code, rst.code, rs.station_type) AS station,
           count(*) FILTER (WHERE u.status = 'queued') AS queued, count(*) FILTER (WHERE u.status = 'in_process') AS in_process,
           count(*) FILTER (WHERE u.status = 'failed') AS failed, count(*) FILTER (WHERE u.on_hold) AS on_hold, count(*) AS units
      FROM units u JOIN work_orders w ON w.id = u.work_order_id LEFT JOIN production_lots pl ON pl.id = u.lot_id
      LEFT JOIN build_bases b ON b.id = w.basis_id LEFT JOIN routes ro ON ro.product_revision_id = w.product_revision_id
      LEFT JOIN route_steps rs ON rs.route_id = ro.id AND rs.seq = COALESCE(u.started_step_seq, u.next_step_seq, u.failed_step_seq)
      LEFT JOIN stations ps ON ps.id = u.started_station_id LEFT JOIN stations rst ON rst.id = rs.station_id
     WHERE u.status IN ('queued','in_process','failed') AND w.state NOT IN ('completed','closed','cancelled') AND ${s.unitWhere}
     GROUP BY w.id, w.number, pl.code, 3, rs.name, 5 ORDER BY w.id, pl.code NULLS FIRST, 3`,

  /** Order progress: PO, work order, lot, quantities. */
  orderProgress: (s: Scope) => `
    SELECT w.customer, w.customer_po, w.number AS work_order, w.state AS work_order_state, p.code AS product, r.revision, w.quantity AS ordered, pl.code AS lot,
           pl.planned_quantity AS lot_planned, count(u.id) AS units, count(u.id) FILTER (WHERE u.status = 'completed') AS completed,
           count(u.id) FILTER (WHERE u.status = 'scrapped') AS scrapped, count(u.id) FILTER (WHERE u.status IN ('queued','in_process')) AS in_wip,
           count(u.id) FILTER (WHERE u.status = 'failed') AS failed, count(cu.unit_id) AS packed, count(cu.unit_id) FILTER (WHERE sh.state = 'released') AS shipped,
           ${ts('w.due_date::timestamptz')} AS due_date
      FROM work_orders w JOIN product_revisions r ON r.id = w.product_revision_id JOIN products p ON p.id = r.product_id
      LEFT JOIN units u ON u.work_order_id = w.id AND ${s.unitWhere} LEFT JOIN production_lots pl ON pl.id = u.lot_id
      LEFT JOIN shipping_carton_units cu ON cu.unit_id = u.id LEFT JOIN shipping_cartons c ON c.id = cu.carton_id LEFT JOIN shipping_shipments sh ON sh.id = c.shipment_id
     WHERE ${s.woWhere('w.id')} AND w.state <> 'cancelled'
     GROUP BY w.id, p.code, r.revision, pl.id, pl.code, pl.planned_quantity ORDER BY w.id, pl.id NULLS FIRST`,
} as const;

/** Streams one SELECT as CSV (header row) or as a JSON array of objects, counting rows. */
export function copyOut(client: pg.PoolClient, sql: string, format: 'csv' | 'json', onRow?: () => void): Readable {
  if (format === 'csv') {
    const src = client.query(copyTo(`COPY (${sql}) TO STDOUT WITH (FORMAT csv, HEADER true)`));
    if (!onRow) return src;
    let header = true;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        // Newlines inside quoted CSV values are rare in these sources; the count is for progress only.
        for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) header ? (header = false) : onRow();
        cb(null, chunk);
      },
    });
    src.on('error', (e) => count.destroy(e));
    return src.pipe(count);
  }
  // CSV with a quote and delimiter that JSON text never contains raw: each line is one JSON object as PostgreSQL wrote it.
  const src = client.query(copyTo(`COPY (SELECT row_to_json(t)::text FROM (${sql}) t) TO STDOUT WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')`));
  let first = true;
  let partial = '';
  const dec = new StringDecoder('utf8');
  const toArray = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      let out = '';
      const s = partial + dec.write(chunk);
      let start = 0;
      for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', start)) {
        out += (first ? '[\n' : ',\n') + s.slice(start, i);
        first = false;
        onRow?.();
        start = i + 1;
      }
      partial = s.slice(start);
      cb(null, out);
    },
    flush(cb) {
      const rest = partial + dec.end();
      cb(null, (rest ? (first ? '[\n' : ',\n') + rest : '') + (first && !rest ? '[]\n' : '\n]\n'));
    },
  });
  src.on('error', (e) => toArray.destroy(e));
  return src.pipe(toArray);
}
