import crypto from 'node:crypto';
import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { defineEntity } from '../../platform/crud.ts';
import { AppError, notFound, validationFailed, type FieldError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { PartsService } from '../parts/index.ts';
import { validateBomLines, type BomLineInput } from './bom.ts';

/**
 * Products and their revisions with the engineering package, BOM, route, programs and
 * quality plan. Only a released revision can be built; a released revision is frozen (also
 * by database triggers) and changes go into a new revision derived from it.
 */

export interface Product { id: number; code: string; name: string; customer: string }
export interface ProductRevision {
  id: number; productId: number; productCode: string; revision: string; state: 'draft' | 'released' | 'obsolete';
  bomRevision: string; gerberRevision: string; assemblyDrawingRevision: string; centroidRevision: string;
  derivedFromId: number | null; changeReason: string | null; createdAt: Date; releasedAt: Date | null; releasedBy: string | null;
}
export interface BomLine {
  id: number; lineNo: number; partId: number; ipn: string; description: string; mslLevel: string; quantity: number; refdes: string[];
  side: string; doNotPlace: boolean; placed: boolean; notes: string;
}
export interface RouteStepInput {
  seq: number; name: string; stationType: string; stationId?: number | null; required?: boolean; isRepair?: boolean; onFail?: 'repair' | 'hold' | 'scrap';
  repairStepSeq?: number | null; returnStepSeq?: number | null; maxRepairLoops?: number; firstArticleGate?: boolean; samplingRate?: number;
  instructions?: string; checks?: { code: string; text: string; signoff?: boolean }[];
}
export interface RouteStep extends Required<Omit<RouteStepInput, 'repairStepSeq' | 'returnStepSeq' | 'stationId'>> {
  id: number; stationId: number | null; repairStepSeq: number | null; returnStepSeq: number | null; attachments: { fileId: number; filename: string; sha256: string }[];
}
export interface Route { id: number; productRevisionId: number; name: string; steps: RouteStep[] }
export interface ParameterRange { name: string; unit?: string; min?: number; max?: number }
export interface ProgramInput {
  productRevisionId: number; name: string; revision: string; kind: string; checksum?: string; stationType: string;
  stationId?: number | null; equipmentId?: number | null; parameterRanges?: ParameterRange[]; slots?: { slot: string; ipn: string; refdes?: string[] }[];
}
export interface Program {
  id: number; productRevisionId: number; name: string; revision: string; kind: string; checksum: string; stationType: string;
  stationId: number | null; equipmentId: number | null; state: 'draft' | 'released' | 'obsolete'; parameterRanges: ParameterRange[];
  createdAt: Date; releasedAt: Date | null; slots: { slot: string; partId: number; ipn: string; refdes: string[] }[];
}
export interface QualityPlan {
  productRevisionId: number; requiredSteps: string[]; traceDepth: 'lot' | 'panel' | 'unit'; materialLevel: 'M1' | 'M2' | 'M3' | 'M4';
  processLevel: 'P1' | 'P2' | 'P3' | 'P4'; acceptanceClass: number; mixedLotsAllowed: boolean; tracePackage: string[]; notes: string;
}
export interface StoredFile { id: number; filename: string; contentType: string; size: number; sha256: string; createdAt: Date; createdBy: string; kind?: string }

export const TRACE_PACKAGE_SECTIONS = [
  'work-order-sheet', 'material-loading-log', 'panel-traveler', 'inspection-trace', 'test-trace', 'rework-ncr-log', 'shipment-trace', 'open-issues',
] as const;

const REV_SELECT = `r.id, r.product_id AS "productId", p.code AS "productCode", r.revision, r.state, r.bom_revision AS "bomRevision",
  r.gerber_revision AS "gerberRevision", r.assembly_drawing_revision AS "assemblyDrawingRevision", r.centroid_revision AS "centroidRevision",
  r.derived_from_id AS "derivedFromId", r.change_reason AS "changeReason", r.created_at AS "createdAt", r.released_at AS "releasedAt", r.released_by AS "releasedBy"
  FROM product_revisions r JOIN products p ON p.id = r.product_id`;
const BOM_SELECT = `b.id, b.line_no AS "lineNo", b.part_id AS "partId", p.ipn, p.description, p.msl_level AS "mslLevel", b.quantity, b.refdes, b.side,
  b.do_not_place AS "doNotPlace", b.placed, b.notes FROM bom_lines b JOIN parts p ON p.id = b.part_id`;
const PROGRAM_SELECT = `id, product_revision_id AS "productRevisionId", name, revision, kind, checksum, station_type AS "stationType", station_id AS "stationId",
  equipment_id AS "equipmentId", state, parameter_ranges AS "parameterRanges", created_at AS "createdAt", released_at AS "releasedAt" FROM programs`;
const QP_SELECT = `product_revision_id AS "productRevisionId", required_steps AS "requiredSteps", trace_depth AS "traceDepth", material_level AS "materialLevel",
  process_level AS "processLevel", acceptance_class AS "acceptanceClass", mixed_lots_allowed AS "mixedLotsAllowed", trace_package AS "tracePackage", notes FROM quality_plans`;

export function createProductsService(db: Db, deps: { parts: PartsService }) {
  const products = defineEntity<Product>(db, { entity: 'product', table: 'products', key: 'code', columns: { code: 'code', name: 'name', customer: 'customer' } });

  async function getRevision(id: number, q: Queryable = db): Promise<ProductRevision> {
    const r = await q.query<ProductRevision>(`SELECT ${REV_SELECT} WHERE r.id = $1`, [id]);
    if (!r.rows[0]) throw notFound('product revision', id);
    return r.rows[0];
  }

  async function findRevision(productCode: string, revision: string, q: Queryable = db): Promise<ProductRevision | undefined> {
    return (await q.query<ProductRevision>(`SELECT ${REV_SELECT} WHERE p.code = $1 AND r.revision = $2`, [productCode, revision])).rows[0];
  }

  async function listRevisions(f: { productId?: number; state?: string } = {}): Promise<ProductRevision[]> {
    return (
      await db.query<ProductRevision>(`SELECT ${REV_SELECT} WHERE ($1::bigint IS NULL OR r.product_id = $1) AND ($2::text IS NULL OR r.state = $2) ORDER BY p.code, r.id`, [
        f.productId ?? null,
        f.state ?? null,
      ])
    ).rows;
  }

  /** Locks a revision for a change of its contents; refuses unless it is a draft. */
  async function lockDraft(tx: Tx, id: number): Promise<ProductRevision> {
    const r = await tx.query<{ state: string }>('SELECT state FROM product_revisions WHERE id = $1 FOR UPDATE', [id]);
    if (!r.rows[0]) throw notFound('product revision', id);
    const rev = await getRevision(id, tx);
    if (rev.state !== 'draft') {
      throw new AppError('REVISION_RELEASED', `${rev.productCode} revision ${rev.revision} is ${rev.state} and cannot be changed; derive a new revision`, {
        details: { productRevisionId: id, state: rev.state },
      });
    }
    return rev;
  }

  type RevisionFields = Partial<Pick<ProductRevision, 'bomRevision' | 'gerberRevision' | 'assemblyDrawingRevision' | 'centroidRevision'>>;

  async function createRevision(who: Principal, input: { productId: number; revision: string } & RevisionFields, q?: Queryable): Promise<ProductRevision> {
    const run = async (tx: Tx) => {
      const r = await tx.query<{ id: number }>(
        `INSERT INTO product_revisions (product_id, revision, bom_revision, gerber_revision, assembly_drawing_revision, centroid_revision)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [input.productId, input.revision, input.bomRevision ?? '', input.gerberRevision ?? '', input.assemblyDrawingRevision ?? '', input.centroidRevision ?? ''],
      );
      const rev = await getRevision(r.rows[0]!.id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'product_revision', entityId: rev.id, after: rev });
      return rev;
    };
    return q && (q as Tx).inTransaction ? run(q as Tx) : db.tx(run);
  }

  async function updateRevision(who: Principal, id: number, patch: RevisionFields): Promise<ProductRevision> {
    return db.tx(async (tx) => {
      const before = await lockDraft(tx, id);
      await tx.query(
        `UPDATE product_revisions SET bom_revision = COALESCE($2, bom_revision), gerber_revision = COALESCE($3, gerber_revision),
           assembly_drawing_revision = COALESCE($4, assembly_drawing_revision), centroid_revision = COALESCE($5, centroid_revision) WHERE id = $1`,
        [id, patch.bomRevision ?? null, patch.gerberRevision ?? null, patch.assemblyDrawingRevision ?? null, patch.centroidRevision ?? null],
      );
      const after = await getRevision(id, tx);
      await recordAudit(tx, who, { action: 'update', entity: 'product_revision', entityId: id, before, after });
      return after;
    });
  }

  /** What stops a draft revision from being released; empty when it is complete. */
  async function releaseBlockers(q: Queryable, id: number): Promise<FieldError[]> {
    const out: FieldError[] = [];
    const bom = await getBom(id, q);
    if (bom.length === 0) out.push({ field: 'bom', code: 'bom_empty', message: 'the revision has no BOM lines' });
    const route = await getRoute(id, q);
    if (!route) out.push({ field: 'route', code: 'route_missing', message: 'the revision has no route' });
    else if (!route.steps.some((s) => !s.isRepair)) out.push({ field: 'route', code: 'route_empty', message: 'the route has no production steps' });
    const plan = await getQualityPlan(id, q);
    if (!plan) out.push({ field: 'qualityPlan', code: 'quality_plan_missing', message: 'the revision has no quality plan' });
    for (const l of bom) {
      if (l.doNotPlace || !l.placed) continue;
      const avl = await q.query('SELECT 1 FROM avl_entries WHERE part_id = $1 AND active LIMIT 1', [l.partId]);
      if (avl.rowCount === 0) out.push({ field: `bom/line ${l.lineNo}`, code: 'no_approved_mpn', message: `part ${l.ipn} has no active AVL entry` });
    }
    const progs = await listPrograms({ productRevisionId: id }, q);
    for (const p of progs.filter((x) => x.state === 'draft')) {
      out.push({ field: `programs/${p.name}`, code: 'program_not_released', message: `program ${p.name} revision ${p.revision} is still a draft` });
    }
    if (plan && route) {
      const types = new Set(route.steps.map((s) => s.stationType));
      for (const t of plan.requiredSteps) {
        if (!types.has(t)) out.push({ field: 'qualityPlan/requiredSteps', code: 'required_step_not_in_route', message: `the quality plan requires ${t} but the route has no ${t} step` });
      }
    }
    return out;
  }

  /** Release blockers of a revision, for showing before the user tries. */
  async function checkRelease(id: number): Promise<FieldError[]> {
    return releaseBlockers(db, id);
  }

  async function releaseRevision(who: Principal, id: number, q?: Tx): Promise<ProductRevision> {
    const run = async (tx: Tx) => {
      const before = await lockDraft(tx, id);
      const blockers = await releaseBlockers(tx, id);
      if (blockers.length) {
        throw new AppError('RULE_VIOLATION', `${before.productCode} revision ${before.revision} cannot be released: ${blockers.map((b) => b.message).join('; ')}`, {
          errors: blockers,
        });
      }
      await tx.query(`UPDATE product_revisions SET state = 'released', released_at = now(), released_by = $2 WHERE id = $1`, [id, who.name]);
      const after = await getRevision(id, tx);
      await recordAudit(tx, who, { action: 'release', entity: 'product_revision', entityId: id, before, after });
      return after;
    };
    return q ? run(q) : db.tx(run);
  }

  async function obsoleteRevision(who: Principal, id: number, reason: string): Promise<ProductRevision> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM product_revisions WHERE id = $1 FOR UPDATE', [id]);
      const before = await getRevision(id, tx);
      if (before.state !== 'released') throw new AppError('STATE_CONFLICT', `Only a released revision can be made obsolete (it is ${before.state})`);
      await tx.query(`UPDATE product_revisions SET state = 'obsolete' WHERE id = $1`, [id]);
      const after = await getRevision(id, tx);
      await recordAudit(tx, who, { action: 'obsolete', entity: 'product_revision', entityId: id, before, after, reason });
      return after;
    });
  }

  /**
   * The explicit change path for a released revision: a new draft revision with a copy of its
   * BOM, route (with attachments), programs and quality plan, recording the reason.
   */
  async function deriveRevision(who: Principal, fromId: number, input: { revision: string; reason: string }): Promise<ProductRevision> {
    return db.tx(async (tx) => {
      const src = await getRevision(fromId, tx);
      const ins = await tx.query<{ id: number }>(
        `INSERT INTO product_revisions (product_id, revision, bom_revision, gerber_revision, assembly_drawing_revision, centroid_revision, derived_from_id, change_reason)
         SELECT product_id, $2, bom_revision, gerber_revision, assembly_drawing_revision, centroid_revision, id, $3 FROM product_revisions WHERE id = $1 RETURNING id`,
        [fromId, input.revision, input.reason],
      );
      const id = ins.rows[0]!.id;
      await tx.query(
        `INSERT INTO bom_lines (product_revision_id, line_no, part_id, quantity, refdes, side, do_not_place, placed, notes)
         SELECT $2, line_no, part_id, quantity, refdes, side, do_not_place, placed, notes FROM bom_lines WHERE product_revision_id = $1`,
        [fromId, id],
      );
      await tx.query(`INSERT INTO revision_files (product_revision_id, kind, file_id) SELECT $2, kind, file_id FROM revision_files WHERE product_revision_id = $1`, [fromId, id]);
      const route = await getRoute(fromId, tx);
      if (route) {
        await writeRoute(tx, id, { name: route.name, steps: route.steps });
        const newRoute = (await getRoute(id, tx))!;
        for (const s of route.steps) {
          const target = newRoute.steps.find((x) => x.seq === s.seq)!;
          for (const a of s.attachments) await tx.query('INSERT INTO route_step_attachments (route_step_id, file_id) VALUES ($1, $2)', [target.id, a.fileId]);
        }
      }
      await tx.query(
        `INSERT INTO quality_plans (product_revision_id, required_steps, trace_depth, material_level, process_level, acceptance_class, mixed_lots_allowed, trace_package, notes)
         SELECT $2, required_steps, trace_depth, material_level, process_level, acceptance_class, mixed_lots_allowed, trace_package, notes FROM quality_plans WHERE product_revision_id = $1`,
        [fromId, id],
      );
      for (const p of await listPrograms({ productRevisionId: fromId }, tx)) {
        // Copied as a draft so its feeder setup can be written, then given the source's state.
        const np = await tx.query<{ id: number }>(
          `INSERT INTO programs (product_revision_id, name, revision, kind, checksum, station_type, station_id, equipment_id, state, parameter_ranges)
           SELECT $2, name, revision, kind, checksum, station_type, station_id, equipment_id, 'draft', parameter_ranges FROM programs WHERE id = $1 RETURNING id`,
          [p.id, id],
        );
        await tx.query(`INSERT INTO program_slots (program_id, slot, part_id, refdes) SELECT $2, slot, part_id, refdes FROM program_slots WHERE program_id = $1`, [p.id, np.rows[0]!.id]);
        await tx.query(`UPDATE programs SET state = $2, released_at = $3 WHERE id = $1`, [np.rows[0]!.id, p.state, p.releasedAt]);
      }
      const rev = await getRevision(id, tx);
      await recordAudit(tx, who, { action: 'derive', entity: 'product_revision', entityId: id, before: src, after: rev, reason: input.reason });
      return rev;
    });
  }

  async function getBom(revId: number, q: Queryable = db): Promise<BomLine[]> {
    return (await q.query<BomLine>(`SELECT ${BOM_SELECT} WHERE b.product_revision_id = $1 ORDER BY b.line_no`, [revId])).rows;
  }

  /**
   * Replaces the whole BOM of a draft revision in one transaction. Missing parts can be created
   * from the file (`createParts`); manufacturer / MPN columns add AVL entries. Any error aborts
   * everything and lists every problem.
   */
  async function replaceBom(
    who: Principal,
    revId: number,
    lines: BomLineInput[],
    opts: { createParts?: boolean; source?: string } = {},
    q?: Tx,
  ): Promise<{ lines: number; partsCreated: number; avlEntriesCreated: number; placements: number }> {
    const run = async (tx: Tx) => {
      await lockDraft(tx, revId);
      const ipns = [...new Set(lines.map((l) => l.ipn).filter(Boolean))];
      const known = new Map<string, { id: number; placed: boolean }>();
      for (const r of (await tx.query<{ id: number; ipn: string; placed: boolean }>('SELECT id, ipn, placed FROM parts WHERE ipn = ANY($1)', [ipns])).rows) {
        known.set(r.ipn, r);
      }
      const errs = validateBomLines(lines, (ipn) => known.get(ipn)?.placed);
      if (!opts.createParts) {
        lines.forEach((l, i) => {
          if (l.ipn && !known.has(l.ipn)) {
            const where = l.sourceLine !== undefined ? `line ${l.sourceLine}` : `/lines/${i}`;
            errs.push({ field: `${where}: ipn`, code: 'unknown_part', message: `part ${l.ipn} does not exist`, ...(l.sourceLine !== undefined ? { line: l.sourceLine } : {}) });
          }
        });
      }
      if (errs.length) {
        errs.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
        throw new AppError('IMPORT_INVALID', `The BOM has ${errs.length} error(s); nothing was imported`, { errors: errs });
      }
      const before = await getBom(revId, tx);
      let partsCreated = 0;
      let avlEntriesCreated = 0;
      for (const l of lines) {
        if (!known.has(l.ipn)) {
          const p = await deps.parts.parts.create(who, { ipn: l.ipn, description: l.description ?? '', placed: l.placed ?? true }, tx);
          known.set(l.ipn, { id: p.id, placed: p.placed });
          partsCreated++;
        }
        for (const s of l.sources ?? []) {
          const r = await deps.parts.upsertAvlEntry(who, { ipn: l.ipn, manufacturer: s.manufacturer, mpn: s.mpn, alternate: s.alternate }, tx);
          if (r.change === 'created') avlEntriesCreated++;
        }
      }
      await tx.query('DELETE FROM bom_lines WHERE product_revision_id = $1', [revId]);
      if (lines.length) {
        await tx.query(
          `INSERT INTO bom_lines (product_revision_id, line_no, part_id, quantity, refdes, side, do_not_place, placed, notes)
           SELECT $1, t.line_no, t.part_id, t.quantity, ARRAY(SELECT jsonb_array_elements_text(t.refdes)), t.side, t.dnp, t.placed, t.notes
             FROM jsonb_to_recordset($2::jsonb) AS t(line_no int, part_id bigint, quantity numeric, refdes jsonb, side text, dnp boolean, placed boolean, notes text)`,
          [
            revId,
            JSON.stringify(
              lines.map((l) => ({
                line_no: l.lineNo, part_id: known.get(l.ipn)!.id, quantity: l.quantity, refdes: l.refdes, side: l.side ?? 'top',
                dnp: l.doNotPlace ?? false, placed: l.placed ?? known.get(l.ipn)!.placed, notes: l.notes ?? '',
              })),
            ),
          ],
        );
      }
      const after = await getBom(revId, tx);
      await recordAudit(tx, who, {
        action: 'replace_bom', entity: 'product_revision', entityId: revId,
        before: { lines: before.length, bom: before.map(({ id: _i, ...l }) => l) },
        after: { lines: after.length, bom: after.map(({ id: _i, ...l }) => l), source: opts.source ?? 'api' },
      });
      const placements = after.filter((l) => l.placed && !l.doNotPlace).reduce((n, l) => n + l.refdes.length, 0);
      return { lines: after.length, partsCreated, avlEntriesCreated, placements };
    };
    return q ? run(q) : db.tx(run);
  }

  /**
   * The rule errors of BOM lines (refdes count, duplicates) without writing anything, so a file
   * with format errors can be reported whole in one round.
   */
  async function checkBomLines(lines: BomLineInput[]): Promise<FieldError[]> {
    const ipns = [...new Set(lines.map((l) => l.ipn).filter(Boolean))];
    const placed = new Map((await db.query<{ ipn: string; placed: boolean }>('SELECT ipn, placed FROM parts WHERE ipn = ANY($1)', [ipns])).rows.map((r) => [r.ipn, r.placed]));
    return validateBomLines(lines, (ipn) => placed.get(ipn));
  }

  async function getRoute(revId: number, q: Queryable = db): Promise<Route | undefined> {
    const r = (await q.query<{ id: number; name: string }>('SELECT id, name FROM routes WHERE product_revision_id = $1', [revId])).rows[0];
    if (!r) return undefined;
    const steps = (
      await q.query<RouteStep>(
        `SELECT s.id, s.seq, s.name, s.station_type AS "stationType", s.station_id AS "stationId", s.required, s.is_repair AS "isRepair", s.on_fail AS "onFail",
                s.repair_step_seq AS "repairStepSeq", s.return_step_seq AS "returnStepSeq", s.max_repair_loops AS "maxRepairLoops",
                s.first_article_gate AS "firstArticleGate", s.sampling_rate AS "samplingRate", s.instructions, s.checks,
                COALESCE((SELECT jsonb_agg(jsonb_build_object('fileId', f.id, 'filename', f.filename, 'sha256', f.sha256) ORDER BY f.id)
                            FROM route_step_attachments a JOIN files f ON f.id = a.file_id WHERE a.route_step_id = s.id), '[]') AS attachments
           FROM route_steps s WHERE s.route_id = $1 ORDER BY s.seq`,
        [r.id],
      )
    ).rows;
    return { id: r.id, productRevisionId: revId, name: r.name, steps };
  }

  function validateRoute(steps: RouteStepInput[]): FieldError[] {
    const errs: FieldError[] = [];
    const seqs = new Map<number, RouteStepInput>();
    steps.forEach((s, i) => {
      if (seqs.has(s.seq)) errs.push({ field: `/steps/${i}/seq`, code: 'duplicate', message: `step number ${s.seq} is used twice` });
      seqs.set(s.seq, s);
    });
    steps.forEach((s, i) => {
      const onFail = s.onFail ?? 'hold';
      if (onFail === 'repair') {
        const target = s.repairStepSeq == null ? undefined : seqs.get(s.repairStepSeq);
        if (!target) errs.push({ field: `/steps/${i}/repairStepSeq`, code: 'unknown_step', message: `on-fail repair needs repairStepSeq naming a step of the route` });
        else if (!target.isRepair) errs.push({ field: `/steps/${i}/repairStepSeq`, code: 'not_repair_step', message: `step ${target.seq} is not a repair step` });
      }
      if (s.returnStepSeq != null && !seqs.has(s.returnStepSeq)) errs.push({ field: `/steps/${i}/returnStepSeq`, code: 'unknown_step', message: `step ${s.returnStepSeq} is not in the route` });
      if (s.isRepair && s.stationType !== 'rework' && s.stationType !== 'manual') {
        errs.push({ field: `/steps/${i}/stationType`, code: 'repair_station', message: 'a repair step must be done at a rework or manual station' });
      }
    });
    if (steps.length > 0 && !steps.some((s) => !s.isRepair)) errs.push({ field: '/steps', code: 'no_production_step', message: 'the route has only repair steps' });
    return errs;
  }

  async function writeRoute(tx: Tx, revId: number, input: { name: string; steps: RouteStepInput[] }) {
    for (const [i, s] of input.steps.entries()) {
      if (s.stationId == null) continue;
      const st = (await tx.query<{ type: string }>('SELECT type FROM stations WHERE id = $1', [s.stationId])).rows[0];
      if (!st) throw validationFailed([{ field: `/steps/${i}/stationId`, code: 'unknown_station', message: `station ${s.stationId} does not exist` }]);
      if (st.type !== s.stationType) throw validationFailed([{ field: `/steps/${i}/stationId`, code: 'station_type', message: `station ${s.stationId} is a ${st.type} station, the step needs ${s.stationType}` }]);
    }
    await tx.query('DELETE FROM routes WHERE product_revision_id = $1', [revId]);
    const r = await tx.query<{ id: number }>('INSERT INTO routes (product_revision_id, name) VALUES ($1, $2) RETURNING id', [revId, input.name]);
    for (const s of input.steps) {
      await tx.query(
        `INSERT INTO route_steps (route_id, seq, name, station_type, required, is_repair, on_fail, repair_step_seq, return_step_seq, max_repair_loops,
                                  first_article_gate, sampling_rate, instructions, checks, station_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          r.rows[0]!.id, s.seq, s.name, s.stationType, s.required ?? !s.isRepair, s.isRepair ?? false, s.onFail ?? 'hold', s.repairStepSeq ?? null,
          s.returnStepSeq ?? null, s.maxRepairLoops ?? 3, s.firstArticleGate ?? false, s.samplingRate ?? 1, s.instructions ?? '', JSON.stringify(s.checks ?? []), s.stationId ?? null,
        ],
      );
    }
  }

  async function replaceRoute(who: Principal, revId: number, input: { name: string; steps: RouteStepInput[] }, q?: Tx): Promise<Route> {
    const errs = validateRoute(input.steps);
    if (errs.length) throw validationFailed(errs, `The route is invalid: ${errs.map((e) => e.message).join('; ')}`);
    const run = async (tx: Tx) => {
      await lockDraft(tx, revId);
      const before = await getRoute(revId, tx);
      await writeRoute(tx, revId, input);
      const after = (await getRoute(revId, tx))!;
      await recordAudit(tx, who, { action: 'replace_route', entity: 'product_revision', entityId: revId, before: before ?? null, after });
      return after;
    };
    return q ? run(q) : db.tx(run);
  }

  async function getProgram(id: number, q: Queryable = db): Promise<Program> {
    const p = (await q.query<Omit<Program, 'slots'>>(`SELECT ${PROGRAM_SELECT} WHERE id = $1`, [id])).rows[0];
    if (!p) throw notFound('program', id);
    const slots = (
      await q.query<Program['slots'][number]>(
        `SELECT s.slot, s.part_id AS "partId", p.ipn, s.refdes FROM program_slots s JOIN parts p ON p.id = s.part_id WHERE s.program_id = $1 ORDER BY s.id`,
        [id],
      )
    ).rows;
    return { ...p, slots };
  }

  async function listPrograms(f: { productRevisionId?: number; name?: string } = {}, q: Queryable = db): Promise<Program[]> {
    const ids = (
      await q.query<{ id: number }>(`SELECT id FROM programs WHERE ($1::bigint IS NULL OR product_revision_id = $1) AND ($2::text IS NULL OR name = $2) ORDER BY name, id`, [
        f.productRevisionId ?? null,
        f.name ?? null,
      ])
    ).rows;
    const out: Program[] = [];
    for (const r of ids) out.push(await getProgram(r.id, q)); // one connection: queries in sequence
    return out;
  }

  async function writeSlots(tx: Tx, programId: number, slots: NonNullable<ProgramInput['slots']>) {
    const errs: FieldError[] = [];
    const seen = new Set<string>();
    const partIds: number[] = [];
    for (const [i, s] of slots.entries()) {
      if (seen.has(s.slot)) errs.push({ field: `/slots/${i}/slot`, code: 'duplicate', message: `slot ${s.slot} appears twice` });
      seen.add(s.slot);
      const part = await deps.parts.parts.getByKey(s.ipn, tx);
      if (!part) errs.push({ field: `/slots/${i}/ipn`, code: 'unknown_part', message: `part ${s.ipn} does not exist` });
      partIds.push(part?.id ?? 0);
    }
    if (errs.length) throw validationFailed(errs, `The feeder setup is invalid: ${errs.map((e) => e.message).join('; ')}`);
    await tx.query('DELETE FROM program_slots WHERE program_id = $1', [programId]);
    for (const [i, s] of slots.entries()) {
      await tx.query('INSERT INTO program_slots (program_id, slot, part_id, refdes) VALUES ($1, $2, $3, $4)', [programId, s.slot, partIds[i], s.refdes ?? []]);
    }
  }

  async function createProgram(who: Principal, input: ProgramInput, q?: Tx): Promise<Program> {
    const run = async (tx: Tx) => {
      await getRevision(input.productRevisionId, tx);
      const r = await tx.query<{ id: number }>(
        `INSERT INTO programs (product_revision_id, name, revision, kind, checksum, station_type, station_id, equipment_id, parameter_ranges)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [
          input.productRevisionId, input.name, input.revision, input.kind, input.checksum ?? '', input.stationType, input.stationId ?? null, input.equipmentId ?? null,
          JSON.stringify(input.parameterRanges ?? []),
        ],
      );
      const id = r.rows[0]!.id;
      await writeSlots(tx, id, input.slots ?? []);
      const p = await getProgram(id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'program', entityId: id, after: p });
      return p;
    };
    return q ? run(q) : db.tx(run);
  }

  async function updateProgram(who: Principal, id: number, patch: Partial<Omit<ProgramInput, 'productRevisionId' | 'name' | 'revision'>>): Promise<Program> {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM programs WHERE id = $1 FOR UPDATE', [id]);
      const before = await getProgram(id, tx);
      if (before.state !== 'draft') throw new AppError('REVISION_RELEASED', `Program ${before.name} revision ${before.revision} is ${before.state}; create a new revision`);
      await tx.query(
        `UPDATE programs SET kind = COALESCE($2, kind), checksum = COALESCE($3, checksum), station_type = COALESCE($4, station_type),
           station_id = CASE WHEN $5::boolean THEN $6 ELSE station_id END, equipment_id = CASE WHEN $7::boolean THEN $8 ELSE equipment_id END,
           parameter_ranges = COALESCE($9, parameter_ranges) WHERE id = $1`,
        [
          id, patch.kind ?? null, patch.checksum ?? null, patch.stationType ?? null, patch.stationId !== undefined, patch.stationId ?? null,
          patch.equipmentId !== undefined, patch.equipmentId ?? null, patch.parameterRanges ? JSON.stringify(patch.parameterRanges) : null,
        ],
      );
      if (patch.slots) await writeSlots(tx, id, patch.slots);
      const after = await getProgram(id, tx);
      await recordAudit(tx, who, { action: 'update', entity: 'program', entityId: id, before, after });
      return after;
    });
  }

  async function setProgramState(who: Principal, id: number, state: 'released' | 'obsolete', q?: Tx): Promise<Program> {
    const run = async (tx: Tx) => {
      await tx.query('SELECT 1 FROM programs WHERE id = $1 FOR UPDATE', [id]);
      const before = await getProgram(id, tx);
      const legal = (before.state === 'draft' && state === 'released') || (before.state === 'released' && state === 'obsolete');
      if (!legal) throw new AppError('STATE_CONFLICT', `Program ${before.name} revision ${before.revision} cannot go from ${before.state} to ${state}`);
      if (state === 'released' && before.kind === 'placement' && before.slots.length === 0) {
        throw new AppError('RULE_VIOLATION', `Placement program ${before.name} has no feeder setup`);
      }
      await tx.query(`UPDATE programs SET state = $2, released_at = CASE WHEN $2 = 'released' THEN now() ELSE released_at END WHERE id = $1`, [id, state]);
      const after = await getProgram(id, tx);
      await recordAudit(tx, who, { action: state === 'released' ? 'release' : 'obsolete', entity: 'program', entityId: id, before, after });
      return after;
    };
    return q ? run(q) : db.tx(run);
  }

  async function getQualityPlan(revId: number, q: Queryable = db): Promise<QualityPlan | undefined> {
    return (await q.query<QualityPlan>(`SELECT ${QP_SELECT} WHERE product_revision_id = $1`, [revId])).rows[0];
  }

  async function putQualityPlan(who: Principal, revId: number, input: Partial<Omit<QualityPlan, 'productRevisionId'>>, q?: Tx): Promise<QualityPlan> {
    const unknownSection = (input.tracePackage ?? []).filter((s) => !(TRACE_PACKAGE_SECTIONS as readonly string[]).includes(s));
    if (unknownSection.length) {
      throw validationFailed([{ field: '/tracePackage', code: 'enum', message: `unknown section(s) ${unknownSection.join(', ')}; known: ${TRACE_PACKAGE_SECTIONS.join(', ')}` }]);
    }
    const run = async (tx: Tx) => {
      await lockDraft(tx, revId);
      const before = await getQualityPlan(revId, tx);
      await tx.query(
        `INSERT INTO quality_plans (product_revision_id, required_steps, trace_depth, material_level, process_level, acceptance_class, mixed_lots_allowed, trace_package, notes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (product_revision_id) DO UPDATE SET required_steps = EXCLUDED.required_steps, trace_depth = EXCLUDED.trace_depth,
           material_level = EXCLUDED.material_level, process_level = EXCLUDED.process_level, acceptance_class = EXCLUDED.acceptance_class,
           mixed_lots_allowed = EXCLUDED.mixed_lots_allowed, trace_package = EXCLUDED.trace_package, notes = EXCLUDED.notes`,
        [
          revId, input.requiredSteps ?? before?.requiredSteps ?? [], input.traceDepth ?? before?.traceDepth ?? 'unit', input.materialLevel ?? before?.materialLevel ?? 'M3',
          input.processLevel ?? before?.processLevel ?? 'P2', input.acceptanceClass ?? before?.acceptanceClass ?? 2, input.mixedLotsAllowed ?? before?.mixedLotsAllowed ?? true,
          input.tracePackage ?? before?.tracePackage ?? [...TRACE_PACKAGE_SECTIONS], input.notes ?? before?.notes ?? '',
        ],
      );
      const after = (await getQualityPlan(revId, tx))!;
      await recordAudit(tx, who, { action: before ? 'update' : 'create', entity: 'quality_plan', entityId: revId, before: before ?? null, after });
      return after;
    };
    return q ? run(q) : db.tx(run);
  }

  async function storeFile(tx: Tx, who: Principal, f: { filename: string; contentType: string; content: Buffer }): Promise<StoredFile> {
    const sha256 = crypto.createHash('sha256').update(f.content).digest('hex');
    const r = await tx.query<StoredFile>(
      `INSERT INTO files (filename, content_type, size, sha256, content, created_by) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, filename, content_type AS "contentType", size, sha256, created_at AS "createdAt", created_by AS "createdBy"`,
      [f.filename, f.contentType, f.content.length, sha256, f.content, who.name],
    );
    return r.rows[0]!;
  }

  /** Adds a file to a draft revision's engineering package, stored with its SHA-256. */
  async function addRevisionFile(who: Principal, revId: number, kind: string, f: { filename: string; contentType: string; content: Buffer }): Promise<StoredFile> {
    return db.tx(async (tx) => {
      await lockDraft(tx, revId);
      const file = await storeFile(tx, who, f);
      await tx.query('INSERT INTO revision_files (product_revision_id, kind, file_id) VALUES ($1, $2, $3)', [revId, kind, file.id]);
      await recordAudit(tx, who, { action: 'add_file', entity: 'product_revision', entityId: revId, after: { kind, ...file } });
      return { ...file, kind };
    });
  }

  async function listRevisionFiles(revId: number): Promise<StoredFile[]> {
    return (
      await db.query<StoredFile>(
        `SELECT f.id, f.filename, f.content_type AS "contentType", f.size, f.sha256, f.created_at AS "createdAt", f.created_by AS "createdBy", rf.kind
           FROM revision_files rf JOIN files f ON f.id = rf.file_id WHERE rf.product_revision_id = $1 ORDER BY rf.kind, f.id`,
        [revId],
      )
    ).rows;
  }

  /** Attaches a work-instruction file (image, PDF) to a route step of a draft revision. */
  async function addStepAttachment(who: Principal, revId: number, seq: number, f: { filename: string; contentType: string; content: Buffer }): Promise<StoredFile> {
    return db.tx(async (tx) => {
      await lockDraft(tx, revId);
      const step = (await tx.query<{ id: number }>('SELECT s.id FROM route_steps s JOIN routes r ON r.id = s.route_id WHERE r.product_revision_id = $1 AND s.seq = $2', [revId, seq])).rows[0];
      if (!step) throw notFound('route step', seq);
      const file = await storeFile(tx, who, f);
      await tx.query('INSERT INTO route_step_attachments (route_step_id, file_id) VALUES ($1, $2)', [step.id, file.id]);
      await recordAudit(tx, who, { action: 'add_attachment', entity: 'route_step', entityId: step.id, after: file });
      return file;
    });
  }

  async function getFile(id: number): Promise<StoredFile & { content: Buffer }> {
    const r = await db.one<StoredFile & { content: Buffer }>(
      `SELECT id, filename, content_type AS "contentType", size, sha256, created_at AS "createdAt", created_by AS "createdBy", content FROM files WHERE id = $1`,
      [id],
    );
    if (!r) throw notFound('file', id);
    return r;
  }

  return {
    products, getRevision, findRevision, listRevisions, createRevision, updateRevision, checkRelease, releaseBlockersIn: releaseBlockers, releaseRevision, obsoleteRevision, deriveRevision,
    getBom, replaceBom, checkBomLines, getRoute, replaceRoute, getProgram, listPrograms, createProgram, updateProgram, setProgramState,
    getQualityPlan, putQualityPlan, addRevisionFile, listRevisionFiles, addStepAttachment, getFile,
  };
}
export type ProductsService = ReturnType<typeof createProductsService>;
