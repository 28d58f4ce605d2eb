/**
 * Traceability: the public face. Other modules import only from here.
 *
 * - `genealogy({ serial } | { unitId })`: the whole history of a unit in one call; also
 *   `genealogyOfPanel(code)` and `genealogyOfLot(code, page)`;
 * - `whereUsed(query, page)` / `impact(query)`: affected units from a material lot, package,
 *   MPN + date codes, paste jar, stencil, program revision, operator or station + time window,
 *   with counts per state, work order, customer, carton and shipment;
 * - `holdWhereUsed(who, { query, reasonCode, reason })`: the one-action containment hold;
 * - `lookup(text)`: what a scanned text names (unit, panel, lot, package, material lot, MPN).
 */
export { createTraceabilityService, type TraceabilityService, type TraceabilityDeps } from './service.ts';
export { registerTraceabilityRoutes } from './routes.ts';
export { UNIT_STATES, type UnitState } from './states.ts';
export { TRACE_QUERY_KINDS, type TraceQuery, type ImpactCounts, type AffectedUnit } from './where-used.ts';
export type { Genealogy } from './genealogy.ts';
export type { MaterialSource, RefdesMaterials, TracedCandidate } from './materials.ts';
