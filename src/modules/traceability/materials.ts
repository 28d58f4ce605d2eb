import type { Queryable } from '../../platform/db.ts';

/**
 * What traceability uses of the materials module: the unit's material list per reference
 * designator and material where-used (the one implementation, in materials). Typed here as the
 * shape traceability reads so that the dependency stays explicit.
 */
export interface MaterialCandidate {
  packageId: number; packageCode: string; lotId: number; lotCode: string | null; mpn: string; manufacturer: string; dateCode: string | null;
  equipmentId: number | null; equipmentCode: string | null; slot: string | null; from: Date | string | null; to: Date | string | null;
  mslFloorLifeRemainingMinutesAtPlacement: number | null;
}
export interface UnitMaterialRow { refdes: string; partId: number; ipn: string; source: 'M3' | 'M2'; candidates: MaterialCandidate[] }
export type MaterialWhereUsedQuery =
  | { lotId: number } | { packageId: number } | { mpn: string; dateCodeFrom?: string; dateCodeTo?: string } | { pasteJarPackageId: number } | { stencilId: number };
export interface MaterialSource {
  unitMaterials(unitId: number, q?: Queryable): Promise<UnitMaterialRow[]>;
  materialWhereUsed(query: MaterialWhereUsedQuery, q?: Queryable): Promise<{ units: { unitId: number; via: string }[]; packages: number[] }>;
}

export interface ReworkPackage { packageId: number; packageCode: string; lotId: number; lotCode: string | null; mpn: string; manufacturer: string; dateCode: string | null }

/** One candidate of a refdes with what became of it: placed by the machine, removed by a repair, or placed by a repair. */
export type TracedCandidate = Omit<MaterialCandidate, 'from' | 'to'> & {
  from: Date | string | null; to: Date | string | null;
  state: 'placed' | 'removed' | 'rework';
  /** The repair action that removed (state removed) or placed (state rework) it. */
  reworkActionId: number | null;
};
export interface RefdesMaterials { refdes: string; partId: number | null; ipn: string | null; source: 'M3' | 'M2' | 'rework'; candidates: TracedCandidate[] }

/** R2 before R10; one collator (a localeCompare with options builds one per comparison). */
const REFDES_ORDER = new Intl.Collator('en', { numeric: true });

/**
 * The unit's material list with its repairs applied: a rework action that replaced the
 * component at a refdes marks what was there as removed (the named removed package, else every
 * candidate still placed) and adds the new package as the refdes's current material. `rows` is
 * taken over: its candidates are marked in place.
 */
export function mergeMaterials(
  rows: UnitMaterialRow[],
  rework: { id: number; refdes: string | null; performedAt: string | Date; removedPackage: ReworkPackage | null; newPackage: ReworkPackage | null }[],
): RefdesMaterials[] {
  // The rows are the caller's fresh material list: marked in place rather than copied (a unit has hundreds of candidates).
  const out = new Map<string, RefdesMaterials>();
  for (const r of rows) {
    for (const c of r.candidates as TracedCandidate[]) {
      c.state = 'placed';
      c.reworkActionId = null;
    }
    out.set(r.refdes, r as RefdesMaterials);
  }
  for (const ra of [...rework].sort((a, b) => a.id - b.id)) {
    if (!ra.refdes || (!ra.newPackage && !ra.removedPackage)) continue;
    const row = out.get(ra.refdes) ?? { refdes: ra.refdes, partId: null, ipn: null, source: 'rework' as const, candidates: [] };
    out.set(ra.refdes, row);
    const removedId = ra.removedPackage?.packageId ?? null;
    let marked = false;
    for (const c of row.candidates) {
      if (c.state === 'removed') continue;
      if (removedId === null || c.packageId === removedId) {
        c.state = 'removed';
        c.reworkActionId = ra.id;
        c.to = c.to ?? ra.performedAt;
        marked = true;
      }
    }
    if (!marked && ra.removedPackage) {
      row.candidates.push({ ...ra.removedPackage, equipmentId: null, equipmentCode: null, slot: null, from: null, to: ra.performedAt, mslFloorLifeRemainingMinutesAtPlacement: null, state: 'removed', reworkActionId: ra.id });
    }
    if (ra.newPackage) {
      // Materials may already list the repair's package; it is then this repair's placement.
      row.candidates = row.candidates.filter((c) => !(c.packageId === ra.newPackage!.packageId && c.state !== 'removed'));
      row.candidates.push({ ...ra.newPackage, equipmentId: null, equipmentCode: null, slot: null, from: ra.performedAt, to: null, mslFloorLifeRemainingMinutesAtPlacement: null, state: 'rework', reworkActionId: ra.id });
    }
  }
  return [...out.values()].sort((a, b) => REFDES_ORDER.compare(a.refdes, b.refdes));
}
