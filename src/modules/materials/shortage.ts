import type { Db, Queryable } from '../../platform/db.ts';

/**
 * Shortage warning: what released and in-progress work orders still need per part, against the
 * stock that could feed them.
 *
 * Need per work order and part = remaining units × reference designators per unit of that part
 * in the work order's build-basis BOM (placed, not DNP lines). Remaining units = ordered quantity
 * − units that passed a placement step of their route and are not scrapped.
 * Available = pieces in available and in-use packages (not paste) whose lot is neither on hold
 * nor expired and which no active quality hold covers (package or material-lot scope). Loaded
 * packages count: they feed the order.
 */

export interface ShortageWarning {
  kind: 'shortage';
  partId: number;
  ipn: string;
  /** Pieces the open work orders still need. */
  needed: number;
  /** Usable pieces in stock (stores, lines, machines). */
  available: number;
  shortBy: number;
  workOrders: Array<{ id: number; number: string; remainingUnits: number; needed: number }>;
  message: string;
}

export function createShortageService(db: Db, deps: { now: () => Date }) {
  async function shortages(f: { workOrderId?: number } = {}, q: Queryable = db): Promise<ShortageWarning[]> {
    const rows = (
      await q.query<{ partId: number; ipn: string; woId: number; woNumber: string; remaining: number; needed: number; available: number }>(
        `WITH wo AS (
           SELECT w.id, w.number, w.quantity, b.basis FROM work_orders w JOIN build_bases b ON b.id = w.basis_id
            WHERE w.state IN ('released','in_progress') AND ($1::bigint IS NULL OR w.id = $1)),
         placement_steps AS (
           SELECT wo.id, array_agg((s->>'seq')::int) AS seqs FROM wo CROSS JOIN jsonb_array_elements(wo.basis->'route'->'steps') s
            WHERE s->>'stationType' = 'placement' GROUP BY wo.id),
         done AS (
           SELECT wo.id, count(u.id) FILTER (WHERE u.status <> 'scrapped' AND u.passed_steps && ps.seqs)::int AS placed
             FROM wo LEFT JOIN placement_steps ps ON ps.id = wo.id LEFT JOIN units u ON u.work_order_id = wo.id GROUP BY wo.id),
         need AS (
           SELECT wo.id AS wo_id, wo.number, (l->>'partId')::bigint AS part_id, l->>'ipn' AS ipn, GREATEST(wo.quantity - COALESCE(done.placed, 0), 0) AS remaining,
                  sum(jsonb_array_length(l->'refdes'))::int AS per_unit
             FROM wo LEFT JOIN done ON done.id = wo.id CROSS JOIN jsonb_array_elements(wo.basis->'bom') l
            WHERE NOT (l->>'doNotPlace')::boolean AND (l->>'placed')::boolean
            GROUP BY wo.id, wo.number, wo.quantity, done.placed, l->>'partId', l->>'ipn'),
         stock AS (
           SELECT l.part_id, sum(pk.quantity)::int AS available FROM material_packages pk JOIN material_lots l ON l.id = pk.material_lot_id
            WHERE pk.status IN ('available','in-use') AND pk.kind <> 'paste-jar' AND NOT l.on_hold AND (l.expires_at IS NULL OR l.expires_at > $2)
              AND l.part_id IN (SELECT part_id FROM need)
              AND NOT EXISTS (SELECT 1 FROM quality_holds h WHERE h.released_at IS NULL
                               AND ((h.scope = 'package' AND h.package_id = pk.id) OR (h.scope = 'material_lot' AND h.material_lot_id = l.id)))
            GROUP BY l.part_id)
         SELECT need.part_id AS "partId", need.ipn, need.wo_id AS "woId", need.number AS "woNumber", need.remaining::int AS remaining,
                (need.remaining * need.per_unit)::int AS needed, COALESCE(stock.available, 0) AS available
           FROM need LEFT JOIN stock ON stock.part_id = need.part_id
          WHERE need.remaining > 0
          ORDER BY need.ipn, need.number`,
        [f.workOrderId ?? null, deps.now()],
      )
    ).rows;
    const byPart = new Map<number, ShortageWarning>();
    for (const r of rows) {
      let w = byPart.get(r.partId);
      if (!w) byPart.set(r.partId, (w = { kind: 'shortage', partId: r.partId, ipn: r.ipn, needed: 0, available: r.available, shortBy: 0, workOrders: [], message: '' }));
      w.needed += r.needed;
      w.workOrders.push({ id: r.woId, number: r.woNumber, remainingUnits: r.remaining, needed: r.needed });
    }
    const out: ShortageWarning[] = [];
    for (const w of byPart.values()) {
      if (w.needed <= w.available) continue;
      w.shortBy = w.needed - w.available;
      w.message = `Part ${w.ipn}: open work orders ${w.workOrders.map((x) => x.number).join(', ')} need ${w.needed} pieces; ${w.available} usable in stock (short by ${w.shortBy})`;
      out.push(w);
    }
    return out.sort((a, b) => b.shortBy - a.shortBy || a.ipn.localeCompare(b.ipn));
  }

  return { shortages };
}
