/**
 * The state bucket of a unit for traceability and recall impact, in precedence order:
 * scrapped (or an X-out position) → shipped (its carton's shipment is released) → on hold (a
 * tracking hold flag on the unit, its panel or lot, its work order on hold, or an active quality
 * hold covering it) → packed (in a carton) → finished (route completed, not packed) → in WIP.
 */
export const UNIT_STATES = ['wip', 'finished', 'packed', 'shipped', 'scrapped', 'on_hold'] as const;
export type UnitState = (typeof UNIT_STATES)[number];

/**
 * SQL for the bucket over `u` (units), `w` (work_orders), `p` (panels), `l` (production_lots),
 * `cu` (shipping_carton_units) and `sh` (shipping_shipments), all joined; `held` is an SQL
 * expression that is true when a quality hold covers the unit.
 */
export const stateSql = (held = 'false') => `CASE WHEN u.status IN ('scrapped','skipped') THEN 'scrapped' WHEN sh.state = 'released' THEN 'shipped'
  WHEN u.on_hold OR COALESCE(p.on_hold, false) OR COALESCE(l.on_hold, false) OR w.state = 'on_hold' OR (${held}) THEN 'on_hold'
  WHEN cu.unit_id IS NOT NULL THEN 'packed' WHEN u.status = 'completed' THEN 'finished' ELSE 'wip' END`;

/** The joins stateSql needs, after `FROM units u`. */
export const STATE_JOINS = `JOIN work_orders w ON w.id = u.work_order_id LEFT JOIN panels p ON p.id = u.panel_id LEFT JOIN production_lots l ON l.id = u.lot_id
  LEFT JOIN shipping_carton_units cu ON cu.unit_id = u.id LEFT JOIN shipping_cartons c ON c.id = cu.carton_id LEFT JOIN shipping_shipments sh ON sh.id = c.shipment_id`;
