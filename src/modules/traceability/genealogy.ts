import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import type { Hold, QualityService } from '../quality/index.ts';
import { mergeMaterials, type MaterialSource, type RefdesMaterials, type ReworkPackage } from './materials.ts';
import { STATE_JOINS, stateSql, type UnitState } from './states.ts';

/**
 * Unit genealogy: the whole recorded history of one unit in one call, and the genealogy of a
 * panel (positions → units) and of a production lot (one summary row per unit, paged).
 *
 * Cost: the unit's own rows come from one statement (`UNIT_SQL`, json_agg subselects, each an
 * index lookup by unit id), run next to materials' unit material list and quality's hold
 * coverage for the unit (two small statements, a third after the material list only while a
 * material hold exists), each on its own pooled connection. No per-row queries.
 */

const pkgJson = (p: string, l: string, m: string) =>
  `CASE WHEN ${p}.id IS NULL THEN NULL ELSE json_build_object('packageId', ${p}.id, 'packageCode', ${p}.code, 'lotId', ${l}.id, 'lotCode', ${l}.lot_code,
     'mpn', ${m}.mpn, 'manufacturer', ${m}.manufacturer, 'dateCode', ${l}.date_code) END`;

/**
 * The summary of a build basis shown in a genealogy. Bases never change (a trigger refuses it),
 * so it is read once per basis and kept: the snapshot holds the whole BOM and AVL, and reading it
 * for every genealogy would cost more than the rest of the unit's rows.
 */
const BASIS_SQL = `SELECT json_build_object('id', b.id, 'version', b.version, 'hash', b.hash, 'createdAt', b.created_at, 'productRevision', b.basis->'productRevision',
    'programs', (SELECT COALESCE(json_agg(json_build_object('name', g->>'name', 'revision', g->>'revision', 'kind', g->>'kind', 'stationType', g->>'stationType')), '[]')
                   FROM jsonb_array_elements(b.basis->'programs') g)) AS b
  FROM build_bases b WHERE b.id = $1`;

/** The unit's rows (everything except materials per refdes, holds and the basis summary). `$1` = unit id. */
const UNIT_SQL = `SELECT json_build_object(
  'unit', json_build_object('id', u.id, 'serial', u.serial, 'status', u.status, 'source', u.source, 'nextStepSeq', u.next_step_seq, 'failedStepSeq', u.failed_step_seq,
     'visits', u.visits, 'passedSteps', u.passed_steps, 'repairLoops', u.repair_loops, 'onHold', u.on_hold, 'holdReason', u.hold_reason,
     'createdAt', u.created_at, 'updatedAt', u.updated_at),
  'panel', CASE WHEN p.id IS NULL THEN NULL ELSE json_build_object('id', p.id, 'code', p.code, 'position', u.panel_position, 'positions', p.positions, 'onHold', p.on_hold) END,
  'lot', CASE WHEN l.id IS NULL THEN NULL ELSE json_build_object('id', l.id, 'code', l.code, 'plannedQuantity', l.planned_quantity, 'onHold', l.on_hold) END,
  'workOrder', json_build_object('id', w.id, 'number', w.number, 'customer', w.customer, 'customerPo', w.customer_po, 'state', w.state, 'quantity', w.quantity,
     'productRevisionId', w.product_revision_id, 'productCode', pd.code, 'productName', pd.name, 'revision', rv.revision, 'lineId', w.line_id),
  'basisId', w.basis_id,
  'process', (SELECT COALESCE(json_agg(json_build_object('id', r.id, 'visit', r.visit, 'stepSeq', r.step_seq, 'stepName', r.step_name, 'stationId', r.station_id,
       'stationCode', s.code, 'stationType', s.type, 'equipmentId', r.equipment_id, 'equipmentCode', e.code, 'programName', r.program_name, 'programRevision', r.program_revision,
       'operator', r.operator, 'actor', r.actor_name, 'basisId', r.basis_id, 'panelPosition', r.panel_position, 'result', r.result, 'outcome', r.outcome,
       'nextStepSeq', r.next_step_seq, 'repairLoop', r.repair_loop, 'startedAt', r.started_at, 'completedAt', r.completed_at, 'notes', r.notes) ORDER BY r.visit), '[]')
     FROM process_records r JOIN stations s ON s.id = r.station_id LEFT JOIN equipment e ON e.id = r.equipment_id WHERE r.unit_id = u.id),
  'refusals', (SELECT COALESCE(json_agg(json_build_object('id', f.id, 'at', f.at, 'phase', f.phase, 'stationCode', s.code, 'codes', f.codes,
       'messages', (SELECT json_agg(x->>'message') FROM jsonb_array_elements(COALESCE(f.details->'units'->0->'refusals', '[]')) x), 'actor', f.actor_name) ORDER BY f.id), '[]')
     FROM interlock_refusals f LEFT JOIN stations s ON s.id = f.station_id WHERE f.unit_id = u.id),
  'consumables', (SELECT COALESCE(json_agg(json_build_object('visit', r.visit, 'stepName', r.step_name, 'kind', cm.kind, 'equipmentId', e.id, 'equipmentCode', e.code,
       'packageId', cm.package_id, 'packageCode', mp.code, 'lotId', ml.id, 'lotCode', ml.lot_code, 'mpn', mm.mpn, 'manufacturer', mm.manufacturer,
       'stencilId', cm.stencil_id, 'stencilCode', st.code, 'mountedAt', cm.mounted_at, 'unmountedAt', cm.unmounted_at) ORDER BY r.visit, cm.kind, cm.id), '[]')
     FROM process_records r JOIN equipment e ON e.station_id = r.station_id AND (r.equipment_id IS NULL OR r.equipment_id = e.id)
     CROSS JOIN LATERAL unnest(ARRAY['paste','stencil']) AS k(kind)
     CROSS JOIN LATERAL (SELECT * FROM consumable_mounts c WHERE c.equipment_id = e.id AND c.kind = k.kind AND c.mounted_at <= r.completed_at
                          ORDER BY c.mounted_at DESC LIMIT 4) cm
     LEFT JOIN material_packages mp ON mp.id = cm.package_id LEFT JOIN material_lots ml ON ml.id = mp.material_lot_id
     LEFT JOIN manufacturer_parts mm ON mm.id = ml.manufacturer_part_id LEFT JOIN stencils st ON st.id = cm.stencil_id
     WHERE r.unit_id = u.id AND (cm.unmounted_at IS NULL OR cm.unmounted_at > COALESCE(r.started_at, r.completed_at))),
  'results', (SELECT COALESCE(json_agg(json_build_object('id', q.id, 'kind', q.kind, 'method', q.method, 'stationCode', s.code, 'stationType', q.station_type,
       'equipmentCode', e.code, 'stepSeq', q.step_seq, 'programName', q.program_name, 'programRevision', q.program_revision, 'operator', q.operator,
       'result', q.result, 'verifiedResult', q.verified_result, 'retest', q.retest, 'retestCount', q.retest_count, 'fixture', q.fixture,
       'startedAt', q.started_at, 'completedAt', q.completed_at, 'measurements', q.measurements, 'failedMeasurements', q.failed_measurements, 'notes', q.notes,
       'defects', (SELECT COALESCE(json_agg(json_build_object('id', d.id, 'code', d.code, 'category', d.category, 'refdes', d.refdes, 'partNumber', d.part_number,
            'imageRef', d.image_ref, 'description', d.description, 'testName', d.test_name, 'machineVerification', d.machine_verification,
            'verification', d.verification, 'verifiedBy', d.verified_by, 'verifiedAt', d.verified_at) ORDER BY d.id), '[]')
          FROM quality_defects d WHERE d.result_id = q.id)) ORDER BY q.completed_at, q.id), '[]')
     FROM quality_results q JOIN stations s ON s.id = q.station_id LEFT JOIN equipment e ON e.id = q.equipment_id WHERE q.unit_id = u.id),
  'dispositions', (SELECT COALESCE(json_agg(json_build_object('id', d.id, 'decision', d.decision, 'failedStepSeq', d.failed_step_seq, 'verifyStepSeq', d.verify_step_seq,
       'visitAt', d.visit_at, 'resultId', d.result_id, 'ncrId', d.ncr_id, 'reason', d.reason, 'instructions', d.instructions, 'createdAt', d.created_at, 'createdBy', d.created_by,
       'signature', CASE WHEN sg.id IS NULL THEN NULL ELSE json_build_object('id', sg.id, 'signer', sg.signer_username, 'name', sg.signer_name, 'role', sg.signer_role,
          'meaning', sg.meaning, 'reason', sg.reason, 'signedAt', sg.signed_at) END,
       'verifiedBy', CASE WHEN d.decision IN ('repair','retest') THEN (SELECT json_build_object('visit', v.visit, 'stepSeq', v.step_seq, 'completedAt', v.completed_at)
          FROM process_records v WHERE v.unit_id = d.unit_id AND v.visit > d.visit_at AND v.step_seq = d.verify_step_seq AND v.result = 'pass' ORDER BY v.visit LIMIT 1) END)
       ORDER BY d.id), '[]')
     FROM quality_dispositions d LEFT JOIN quality_signatures sg ON sg.id = d.signature_id WHERE d.unit_id = u.id),
  'ncrs', (SELECT COALESCE(json_agg(json_build_object('id', n.id, 'number', n.number, 'title', n.title, 'subjectKind', n.subject_kind, 'state', n.state,
       'description', n.description, 'containment', n.containment, 'rootCause', n.root_cause, 'correctiveAction', n.corrective_action,
       'createdAt', n.created_at, 'createdBy', n.created_by, 'closedAt', n.closed_at, 'closedBy', n.closed_by) ORDER BY n.id), '[]')
     FROM quality_ncrs n WHERE n.id IN (SELECT nu.ncr_id FROM quality_ncr_units nu WHERE nu.unit_id = u.id UNION ALL SELECT n2.id FROM quality_ncrs n2 WHERE n2.unit_id = u.id)),
  'rework', (SELECT COALESCE(json_agg(json_build_object('id', ra.id, 'action', ra.action, 'refdes', ra.refdes, 'ncrId', ra.ncr_id, 'dispositionId', ra.disposition_id,
       'defectIds', ra.defect_ids, 'stationCode', s.code, 'operator', ra.operator, 'verifyStepSeq', ra.verify_step_seq, 'visitAt', ra.visit_at,
       'performedAt', ra.performed_at, 'recordedBy', ra.recorded_by, 'notes', ra.notes,
       'removedPackage', ${pkgJson('rp', 'rl', 'rm')}, 'newPackage', ${pkgJson('np', 'nl', 'nm')},
       'verifiedBy', (SELECT json_build_object('visit', v.visit, 'stepSeq', v.step_seq, 'completedAt', v.completed_at)
          FROM process_records v WHERE v.unit_id = ra.unit_id AND v.visit > ra.visit_at AND v.step_seq = ra.verify_step_seq AND v.result = 'pass' ORDER BY v.visit LIMIT 1))
       ORDER BY ra.id), '[]')
     FROM quality_rework_actions ra LEFT JOIN stations s ON s.id = ra.station_id
     LEFT JOIN material_packages rp ON rp.id = ra.removed_package_id LEFT JOIN material_lots rl ON rl.id = rp.material_lot_id LEFT JOIN manufacturer_parts rm ON rm.id = rl.manufacturer_part_id
     LEFT JOIN material_packages np ON np.id = ra.new_package_id LEFT JOIN material_lots nl ON nl.id = np.material_lot_id LEFT JOIN manufacturer_parts nm ON nm.id = nl.manufacturer_part_id
     WHERE ra.unit_id = u.id),
  'carton', (SELECT json_build_object('id', c.id, 'code', c.code, 'state', c.state, 'packedAt', cu.packed_at, 'packedBy', cu.packed_by)
     FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id WHERE cu.unit_id = u.id),
  'shipment', (SELECT json_build_object('id', sh.id, 'number', sh.number, 'customer', sh.customer, 'customerPo', sh.customer_po, 'shipTo', sh.ship_to, 'state', sh.state,
       'releasedAt', sh.released_at, 'releasedBy', sh.released_by)
     FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id JOIN shipping_shipments sh ON sh.id = c.shipment_id WHERE cu.unit_id = u.id),
  'trackingHeld', (u.on_hold OR COALESCE(p.on_hold, false) OR COALESCE(l.on_hold, false) OR w.state = 'on_hold')
) AS g
FROM units u JOIN work_orders w ON w.id = u.work_order_id JOIN product_revisions rv ON rv.id = w.product_revision_id JOIN products pd ON pd.id = rv.product_id
LEFT JOIN panels p ON p.id = u.panel_id LEFT JOIN production_lots l ON l.id = u.lot_id
WHERE u.id = $1`;

type Json = Record<string, unknown>;
type UnitMaterials = Awaited<ReturnType<MaterialSource['unitMaterials']>>;
interface UnitRows {
  unit: Json & { id: number; serial: string; status: string }; panel: Json | null; lot: Json | null; workOrder: Json;
  process: Json[]; refusals: Json[]; consumables: Json[]; results: (Json & { defects: Json[] })[]; dispositions: (Json & { decision: string; verifiedBy: Json | null })[];
  ncrs: Json[]; rework: (Json & { id: number; refdes: string | null; performedAt: string; removedPackage: ReworkPackage | null; newPackage: ReworkPackage | null; verifiedBy: Json | null })[];
  carton: Json | null; shipment: (Json & { state: string }) | null; trackingHeld: boolean; basisId: number | null;
}

export interface Genealogy {
  unit: UnitRows['unit'] & { state: UnitState };
  panel: Json | null; lot: Json | null; workOrder: Json;
  /** The frozen build basis of the work order: id, version, SHA-256, product revision, programs with revisions. */
  buildBasis: Json | null;
  process: Json[]; refusals: Json[];
  materials: RefdesMaterials[]; consumables: Json[];
  results: (Json & { defects: Json[]; falseCalls: number })[];
  dispositions: (Json & { verified: boolean | null })[]; ncrs: Json[]; rework: (Json & { verified: boolean })[];
  holds: (Hold & { active: boolean })[];
  carton: Json | null; shipment: Json | null;
}

export function createGenealogy(db: Db, deps: { materials: MaterialSource; quality: QualityService }) {
  const bases = new Map<number, Json>();
  async function basisSummary(id: number | null, q: Queryable): Promise<Json | null> {
    if (id === null) return null;
    const hit = bases.get(id);
    if (hit) return hit;
    const b = (await q.query<{ b: Json }>(BASIS_SQL, [id], 'trace_basis')).rows[0]?.b ?? null;
    if (b) {
      if (bases.size >= 500) bases.delete(bases.keys().next().value!);
      bases.set(id, b);
    }
    return b;
  }

  async function unitIdOf(ref: { serial: string } | { unitId: number }, q: Queryable): Promise<number> {
    if ('unitId' in ref) {
      const r = await q.query<{ id: number }>('SELECT id FROM units WHERE id = $1', [ref.unitId], 'trace_unit_by_id');
      if (!r.rows[0]) throw new AppError('NOT_FOUND', `Unit ${ref.unitId} does not exist`, { details: { entity: 'unit', key: ref.unitId } });
      return r.rows[0].id;
    }
    const r = await q.query<{ id: number }>('SELECT id FROM units WHERE serial = $1', [ref.serial], 'trace_unit_by_serial');
    if (!r.rows[0]) throw new AppError('NOT_FOUND', `Unit ${JSON.stringify(ref.serial)} does not exist`, { details: { entity: 'unit', key: ref.serial } });
    return r.rows[0].id;
  }

  /** The whole history of one unit (by serial or id). */
  async function genealogy(ref: { serial: string } | { unitId: number }, q: Queryable = db): Promise<Genealogy> {
    const unitId = await unitIdOf(ref, q);
    // On the pool, three chains at once on separate connections: the unit's rows; materials per
    // refdes; the holds covering the unit (quality's key-based coverage runs meanwhile, material
    // holds wait for the packages of the material list; quality adds the packages repairs
    // touched). A transaction's one connection takes them one after the other.
    const rowsOf = () => q.query<{ g: UnitRows }>(UNIT_SQL, [unitId], 'trace_genealogy');
    const coveringOf = (m: Promise<UnitMaterials>) =>
      deps.quality.holdsCovering([unitId], { includeReleased: true, packagesOf: m.then((x) => new Map([[unitId, [...new Set(x.flatMap((r) => r.candidates.map((c) => c.packageId)))]]])) }, q);
    let rowsRes, materials: UnitMaterials, covering;
    if ((q as Partial<Tx>).inTransaction) {
      rowsRes = await rowsOf();
      materials = await deps.materials.unitMaterials(unitId, q);
      covering = await coveringOf(Promise.resolve(materials));
    } else {
      const materialsP = deps.materials.unitMaterials(unitId, q);
      materialsP.catch(() => undefined); // awaited below; coverage may not need it
      [rowsRes, materials, covering] = await Promise.all([rowsOf(), materialsP, coveringOf(materialsP)]);
    }
    const g = rowsRes.rows[0]!.g;
    const buildBasis = await basisSummary(g.basisId, q);
    const merged = mergeMaterials(materials, g.rework);
    const holds = (await deps.quality.getHolds([...new Set(covering.map((c) => c.holdId))], q)).map((h) => ({ ...h, active: h.releasedAt === null }));
    const held = g.trackingHeld || holds.some((h) => h.active);
    return {
      unit: { ...g.unit, state: unitState(g.unit.status, g.shipment?.state ?? null, held, g.carton !== null) },
      panel: g.panel, lot: g.lot, workOrder: g.workOrder, buildBasis,
      process: g.process, refusals: g.refusals,
      materials: merged, consumables: g.consumables,
      results: g.results.map((r) => ({ ...r, falseCalls: r.defects.filter((d) => d.verification === 'false_call').length })),
      dispositions: g.dispositions.map((d) => ({ ...d, verified: d.decision === 'repair' || d.decision === 'retest' ? d.verifiedBy !== null : null })),
      ncrs: g.ncrs,
      rework: g.rework.map((r) => ({ ...r, verified: r.verifiedBy !== null })),
      holds,
      carton: g.carton, shipment: g.shipment,
    };
  }

  /** A panel: its work order and lot, and every position with its unit. */
  async function genealogyOfPanel(code: string, q: Queryable = db) {
    const panel = (await q.query<{ g: Json & { id: number } }>(
      `SELECT json_build_object('id', p.id, 'code', p.code, 'positions', p.positions, 'onHold', p.on_hold, 'holdReason', p.hold_reason,
           'createdAt', p.created_at, 'createdBy', p.created_by,
           'workOrder', json_build_object('id', w.id, 'number', w.number, 'customer', w.customer, 'customerPo', w.customer_po, 'state', w.state),
           'lot', CASE WHEN l.id IS NULL THEN NULL ELSE json_build_object('id', l.id, 'code', l.code) END) AS g
         FROM panels p JOIN work_orders w ON w.id = p.work_order_id LEFT JOIN production_lots l ON l.id = p.lot_id WHERE p.code = $1`,
      [code],
    )).rows[0]?.g;
    if (!panel) throw new AppError('NOT_FOUND', `Panel ${JSON.stringify(code)} does not exist`, { details: { entity: 'panel', key: code } });
    const units = await summaries(q, 'u.panel_id = $1 ORDER BY u.panel_position', [panel.id]);
    return { panel, units };
  }

  /** Summary rows of units (state, last passage, failed results, rework, carton, shipment); quality holds applied. */
  async function summaries(q: Queryable, where: string, params: unknown[]) {
    const rows = (await q.query<Json & { unitId: number; state: UnitState }>(
      `SELECT u.id AS "unitId", u.serial, u.status, p.code AS panel, u.panel_position AS position, u.next_step_seq AS "nextStepSeq", u.visits,
              (SELECT max(r.completed_at) FROM process_records r WHERE r.unit_id = u.id) AS "lastPassageAt",
              (SELECT count(*)::int FROM quality_results qr WHERE qr.unit_id = u.id AND COALESCE(qr.verified_result, qr.result) = 'fail') AS "failedResults",
              (SELECT count(*)::int FROM quality_rework_actions ra WHERE ra.unit_id = u.id) AS "reworkActions",
              c.code AS carton, sh.number AS shipment, ${stateSql()} AS state
         FROM units u ${STATE_JOINS} WHERE ${where}`,
      params,
    )).rows;
    const held = new Set((await deps.quality.holdsCovering(rows.map((r) => r.unitId), {}, q)).map((h) => h.unitId));
    for (const r of rows) if (held.has(r.unitId) && r.state !== 'scrapped' && r.state !== 'shipped') r.state = 'on_hold';
    return rows;
  }

  /**
   * A production lot: its own data (work order, counts per state) and one summary row per unit,
   * paged by unit id (`afterId`, `limit`).
   */
  async function genealogyOfLot(code: string, page: { afterId?: number; limit?: number } = {}, outer?: Queryable) {
    // A page of up to 5,000 units, in one snapshot (the caller's transaction, or its own).
    return outer ? lotIn(code, page, outer) : db.tx((q) => lotIn(code, page, q), { isolation: 'repeatable read' });
  }

  async function lotIn(code: string, page: { afterId?: number; limit?: number }, q: Queryable) {
    const limit = Math.min(Math.max(page.limit ?? 200, 1), 5000);
    const lot = (await q.query<{ g: Json & { id: number } }>(
      `SELECT json_build_object('id', l.id, 'code', l.code, 'plannedQuantity', l.planned_quantity, 'onHold', l.on_hold, 'holdReason', l.hold_reason,
           'createdAt', l.created_at, 'createdBy', l.created_by,
           'workOrder', json_build_object('id', w.id, 'number', w.number, 'customer', w.customer, 'customerPo', w.customer_po, 'state', w.state, 'quantity', w.quantity,
              'productCode', pd.code, 'revision', rv.revision),
           'units', (SELECT count(*) FROM units u WHERE u.lot_id = l.id),
           'panels', (SELECT count(*) FROM panels p WHERE p.lot_id = l.id)) AS g
         FROM production_lots l JOIN work_orders w ON w.id = l.work_order_id JOIN product_revisions rv ON rv.id = w.product_revision_id JOIN products pd ON pd.id = rv.product_id
        WHERE l.code = $1`,
      [code],
    )).rows[0]?.g;
    if (!lot) throw new AppError('NOT_FOUND', `Production lot ${JSON.stringify(code)} does not exist`, { details: { entity: 'lot', key: code } });
    const rows = await summaries(q, 'u.lot_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3', [lot.id, page.afterId ?? 0, limit]);
    return { lot, units: rows, nextAfterId: rows.length === limit ? rows[rows.length - 1]!.unitId : null };
  }

  /**
   * What a scanned or typed text names: a unit serial, panel ID, production lot code, material
   * package ID, supplier lot code or MPN (exact matches, one statement). Several matches: the
   * caller lets the user choose.
   */
  async function lookup(text: string, q: Queryable = db): Promise<{ kind: 'unit' | 'panel' | 'lot' | 'package' | 'material_lot' | 'mpn'; key: string; id: number | null; label: string }[]> {
    const t = text.trim();
    if (!t) return [];
    return (await q.query<{ kind: 'unit'; key: string; id: number | null; label: string }>(
      `(SELECT 'unit' AS kind, serial AS key, id, 'unit of ' || (SELECT number FROM work_orders w WHERE w.id = u.work_order_id) AS label FROM units u WHERE serial = $1)
       UNION ALL (SELECT 'panel', code, id, positions || ' positions' FROM panels WHERE code = $1)
       UNION ALL (SELECT 'lot', code, id, 'production lot' FROM production_lots WHERE code = $1)
       UNION ALL (SELECT 'package', p.code, p.id, p.kind || ' of lot ' || COALESCE(l.lot_code, '#' || l.id) FROM material_packages p JOIN material_lots l ON l.id = p.material_lot_id WHERE p.code = $1)
       UNION ALL (SELECT 'material_lot', l.lot_code, l.id, m.manufacturer || ' ' || m.mpn || COALESCE(' DC ' || l.date_code, '') FROM material_lots l
                    JOIN manufacturer_parts m ON m.id = l.manufacturer_part_id WHERE l.lot_code = $1 ORDER BY l.id LIMIT 20)
       UNION ALL (SELECT 'mpn', mpn, NULL, string_agg(DISTINCT manufacturer, ', ') FROM manufacturer_parts WHERE mpn = $1 GROUP BY mpn)`,
      [t],
    )).rows;
  }

  return { genealogy, genealogyOfPanel, genealogyOfLot, unitIdOf, lookup };
}

/** The state bucket of one unit (the same precedence as STATE_SQL). */
export function unitState(status: string, shipmentState: string | null, held: boolean, packed: boolean): UnitState {
  if (status === 'scrapped' || status === 'skipped') return 'scrapped';
  if (shipmentState === 'released') return 'shipped';
  if (held) return 'on_hold';
  if (packed) return 'packed';
  if (status === 'completed') return 'finished';
  return 'wip';
}
