import type { Db } from '../../platform/db.ts';
import type { QualityService } from '../quality/index.ts';
import { createGenealogy } from './genealogy.ts';
import type { MaterialSource } from './materials.ts';
import { createWhereUsed } from './where-used.ts';

/**
 * Traceability: genealogy of units, panels and lots; where-used and recall impact; the
 * one-action containment hold. Reads the records the other modules keep (it owns no tables);
 * materials answers material questions, quality answers hold coverage and places holds.
 */
export interface TraceabilityDeps {
  materials: MaterialSource;
  quality: QualityService;
}

export function createTraceabilityService(db: Db, deps: TraceabilityDeps) {
  const g = createGenealogy(db, deps);
  const w = createWhereUsed(db, deps);
  return {
    genealogy: g.genealogy,
    genealogyOfPanel: g.genealogyOfPanel,
    genealogyOfLot: g.genealogyOfLot,
    whereUsed: w.whereUsed,
    impact: w.impact,
    holdWhereUsed: w.holdWhereUsed,
    /** The unit ids a where-used question finds (for exports that page through them). */
    whereUsedUnitIds: w.unitIdsOf,
    lookup: g.lookup,
  };
}
export type TraceabilityService = ReturnType<typeof createTraceabilityService>;
