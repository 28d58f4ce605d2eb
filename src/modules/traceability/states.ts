/**
 * The state bucket of a unit for traceability and recall impact, in precedence order:
 * scrapped (or an X-out position) → shipped (its carton's shipment is released) → on hold (a
 * tracking hold flag on the unit, its panel or lot, its work order on hold, or an active quality
 * hold covering it) → packed (in a carton) → finished (route completed, not packed) → in WIP.
 */
export const UNIT_STATES = ['wip', 'finished', 'packed', 'shipped', 'scrapped', 'on_hold'] as const;
export type UnitState = (typeof UNIT_STATES)[number];

/**
 * The precedence above as an SQL CASE over `u` (units) and three SQL expressions: `shipped`
 * (its shipment is released), `held` (any hold applies) and `packed` (it is in a carton). The
 * one definition every query uses (genealogy's `unitState` is its JavaScript twin).
 */
export const stateCase = (e: { shipped: string; held: string; packed: string }) => `CASE WHEN u.status IN ('scrapped','skipped') THEN 'scrapped' WHEN ${e.shipped} THEN 'shipped'
  WHEN ${e.held} THEN 'on_hold' WHEN ${e.packed} THEN 'packed' WHEN u.status = 'completed' THEN 'finished' ELSE 'wip' END`;

/**
 * SQL for the bucket over `u` (units), `w` (work_orders) and STATE_JOINS' `p`, `l`, `c`, `sh`; `held` is an SQL
 * expression that is true when a quality hold covers the unit.
 */
export const stateSql = (held = 'false') => stateCase({
  shipped: `sh.state = 'released'`,
  held: `u.on_hold OR COALESCE(p.on_hold, false) OR COALESCE(l.on_hold, false) OR w.state = 'on_hold' OR (${held})`,
  packed: 'c.id IS NOT NULL',
});

/**
 * The joins stateSql needs, after `FROM units u`: `p` (panel: code, on_hold), `l` (lot: on_hold),
 * `c` (carton: id, code, state, shipment_id), `sh` (shipment). Each is a LATERAL index lookup
 * fenced with OFFSET 0, for the small unit sets of a panel or a page of a lot (where-used and
 * impact read their thousands of units by id ranges instead, see where-used.ts).
 */
export const STATE_JOINS = `JOIN work_orders w ON w.id = u.work_order_id
  LEFT JOIN LATERAL (SELECT p.code, p.on_hold FROM panels p WHERE p.id = u.panel_id OFFSET 0) p ON true
  LEFT JOIN LATERAL (SELECT l.on_hold FROM production_lots l WHERE l.id = u.lot_id OFFSET 0) l ON true
  LEFT JOIN LATERAL (SELECT c.id, c.code, c.state, c.shipment_id FROM shipping_carton_units cu JOIN shipping_cartons c ON c.id = cu.carton_id WHERE cu.unit_id = u.id OFFSET 0) c ON true
  LEFT JOIN LATERAL (SELECT sh.id, sh.number, sh.customer, sh.customer_po, sh.state, sh.released_at FROM shipping_shipments sh WHERE sh.id = c.shipment_id OFFSET 0) sh ON true`;
