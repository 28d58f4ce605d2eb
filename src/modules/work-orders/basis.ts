import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db.ts';
import type { FieldError } from '../../platform/errors.ts';
import type { BomLine, ProductRevision, ProductsService, Program, QualityPlan, Route, RouteStep } from '../products/index.ts';

/**
 * The build basis: everything a work order is built against, frozen at release. It is one
 * JSON document so that it can be stored, hashed, compared and handed to an OEM as is.
 */

export const BASIS_FORMAT = 1;

export interface BasisAvlEntry {
  avlEntryId: number; partId: number; ipn: string; manufacturer: string; mpn: string; alternate: boolean; preference: number;
  /** Approved entries always; alternates only with a permission valid for this revision or work order. */
  permitted: boolean;
  permissions: { scope: string; reason: string; grantedBy: string }[];
}

export interface BuildBasis {
  format: number;
  productRevision: Pick<ProductRevision, 'id' | 'productId' | 'productCode' | 'revision' | 'state' | 'bomRevision' | 'gerberRevision' | 'assemblyDrawingRevision' | 'centroidRevision' | 'releasedBy'> & {
    productName: string; releasedAt: string | null;
  };
  files: { kind: string; fileId: number; filename: string; sha256: string; size: number }[];
  bom: Omit<BomLine, 'id'>[];
  avl: BasisAvlEntry[];
  route: { name: string; steps: Omit<RouteStep, 'id'>[] };
  programs: (Omit<Program, 'createdAt' | 'releasedAt'> & { releasedAt: string | null })[];
  qualityPlan: QualityPlan | null;
}

/** JSON with object keys sorted at every level and no whitespace: the input of the basis hash. */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => [k, norm(o[k])]));
    }
    return v;
  };
  // The JSON round trip first turns Dates into ISO strings, as the stored JSONB will hold them.
  return JSON.stringify(norm(JSON.parse(JSON.stringify(value ?? null))));
}

/** SHA-256 (hex) of the canonical JSON; equal content gives an equal hash, whatever the key order. */
export function basisHash(basis: unknown): string {
  return crypto.createHash('sha256').update(canonicalJson(basis)).digest('hex');
}

/** Station types whose route steps need a released program in the basis (configurable per service). */
export const DEFAULT_PROGRAM_REQUIRED_FOR = ['placement'] as const;

/**
 * Reads the master data of a product revision and returns the snapshot plus every reason it is
 * not fit to build. Runs in the caller's transaction so the snapshot is consistent.
 */
export async function snapshotBasis(
  q: Queryable,
  products: ProductsService,
  input: { productRevisionId: number; workOrderId: number; lineId: number | null; programRequiredFor: readonly string[] },
): Promise<{ basis: BuildBasis; blockers: FieldError[] }> {
  const blockers: FieldError[] = [];
  const block = (field: string, code: string, message: string) => blockers.push({ field, code, message });
  const rev = await products.getRevision(input.productRevisionId, q);
  const prod = (await q.query<{ name: string }>('SELECT name FROM products WHERE id = $1', [rev.productId])).rows[0]!;
  if (rev.state !== 'released') block('productRevision', 'revision_not_released', `${rev.productCode} revision ${rev.revision} is ${rev.state}, not released`);
  if (input.lineId === null) block('line', 'line_missing', 'the work order has no line');

  const files = (
    await q.query<BuildBasis['files'][number]>(
      `SELECT rf.kind, f.id AS "fileId", f.filename, f.sha256, f.size FROM revision_files rf JOIN files f ON f.id = rf.file_id
        WHERE rf.product_revision_id = $1 ORDER BY rf.kind, f.id`,
      [rev.id],
    )
  ).rows;
  const bom = await products.getBom(rev.id, q);
  if (bom.length === 0) block('bom', 'bom_empty', 'the product revision has no BOM lines');
  const partIds = [...new Set(bom.map((l) => l.partId))];
  const avl = (
    await q.query<BasisAvlEntry>(
      `SELECT a.id AS "avlEntryId", a.part_id AS "partId", p.ipn, m.manufacturer, m.mpn, a.alternate, a.preference,
              (NOT a.alternate OR bool_or(ap.id IS NOT NULL)) AS permitted,
              COALESCE(jsonb_agg(jsonb_build_object('scope', ap.scope, 'reason', ap.reason, 'grantedBy', ap.granted_by) ORDER BY ap.id)
                         FILTER (WHERE ap.id IS NOT NULL), '[]') AS permissions
         FROM avl_entries a JOIN parts p ON p.id = a.part_id JOIN manufacturer_parts m ON m.id = a.manufacturer_part_id
         LEFT JOIN alternate_permissions ap ON ap.avl_entry_id = a.id AND (ap.scope = 'global'
              OR (ap.scope = 'product_revision' AND ap.product_revision_id = $2) OR (ap.scope = 'work_order' AND ap.work_order_id = $3))
        WHERE a.part_id = ANY($1) AND a.active
        GROUP BY a.id, p.ipn, m.manufacturer, m.mpn
        ORDER BY p.ipn, a.alternate, a.preference, m.mpn`,
      [partIds, rev.id, input.workOrderId],
    )
  ).rows;
  for (const l of bom) {
    if (l.doNotPlace || !l.placed) continue;
    if (!avl.some((a) => a.partId === l.partId && a.permitted)) {
      block(`bom/line ${l.lineNo}`, 'no_approved_mpn', `BOM line ${l.lineNo}: part ${l.ipn} has no approved active MPN (nor a permitted alternate)`);
    }
  }

  const route: Route | undefined = await products.getRoute(rev.id, q);
  if (!route) block('route', 'route_missing', 'the product revision has no route');
  else if (!route.steps.some((s) => !s.isRepair)) block('route', 'route_empty', 'the route has no production steps');
  const programs = (await products.listPrograms({ productRevisionId: rev.id }, q)).filter((p) => p.state === 'released');
  for (const s of route?.steps ?? []) {
    if (s.isRepair || !input.programRequiredFor.includes(s.stationType)) continue;
    const ok = programs.some((p) => p.stationType === s.stationType && (s.stationId === null || p.stationId === null || p.stationId === s.stationId));
    if (!ok) block(`route/steps/${s.seq}`, 'program_missing', `route step ${s.seq} ${s.name} (${s.stationType}) has no released program`);
  }
  const qualityPlan = (await products.getQualityPlan(rev.id, q)) ?? null;
  if (!qualityPlan) block('qualityPlan', 'quality_plan_missing', 'the product revision has no quality plan');

  const basis: BuildBasis = {
    format: BASIS_FORMAT,
    productRevision: {
      id: rev.id, productId: rev.productId, productCode: rev.productCode, productName: prod.name, revision: rev.revision, state: rev.state,
      bomRevision: rev.bomRevision, gerberRevision: rev.gerberRevision, assemblyDrawingRevision: rev.assemblyDrawingRevision,
      centroidRevision: rev.centroidRevision, releasedAt: rev.releasedAt ? new Date(rev.releasedAt).toISOString() : null, releasedBy: rev.releasedBy,
    },
    files,
    bom: bom.map(({ id: _id, ...l }) => l),
    avl,
    route: { name: route?.name ?? '', steps: (route?.steps ?? []).map(({ id: _id, ...s }) => s) },
    programs: programs.map(({ createdAt: _c, releasedAt, ...p }) => ({ ...p, releasedAt: releasedAt ? new Date(releasedAt).toISOString() : null })),
    qualityPlan,
  };
  return { basis, blockers };
}

/** One route step as the interlock sees it. */
export type BasisStep = BuildBasis['route']['steps'][number];

/**
 * A parsed basis with the route indexed for the interlock. Immutable, so it is cached by hash
 * and shared freely across requests (and is identical on every MES instance).
 */
export interface ParsedBasis {
  hash: string;
  basis: BuildBasis;
  steps: BasisStep[];
  bySeq: Map<number, BasisStep>;
  /** The production path: non-repair steps in seq order. */
  main: BasisStep[];
}

export function parseBasis(hash: string, basis: BuildBasis): ParsedBasis {
  const steps = [...basis.route.steps].sort((a, b) => a.seq - b.seq);
  return { hash, basis, steps, bySeq: new Map(steps.map((s) => [s.seq, s])), main: steps.filter((s) => !s.isRepair) };
}
