import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { inTx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import { applyDisposition, loopsExhausted, nextMainStep } from '../tracking/index.ts';
import type { BasisStep, ParsedBasis, WorkOrdersService } from '../work-orders/index.ts';
import { auditSignature, type Signature, type SignatureInput, type Signatures } from './signatures.ts';

/**
 * Dispositions of failed units, NCRs and rework.
 *
 * A disposition decides what happens to a failed unit: repair (to the route's repair step, then
 * back to the step it failed, which must pass again), retest (the failed step again), scrap, or
 * use-as-is (a review-board decision: signed by a quality engineer; the unit continues after the
 * failed step). Tracking keeps a failed unit `failed` (FAILED_NO_DISPOSITION) until a disposition
 * moves it on; the disposition writes the unit's route state in the same transaction.
 *
 * An NCR is raised against a unit, a production lot, a work order or a material lot and links
 * the affected units. Rework actions record what was done to a unit (a replaced component keeps
 * the removed and the new package: the unit's material trace). A repair or retest is verified
 * when the unit passes its verification step afterwards (a process record with a later visit).
 * An NCR closes, signed, only when each linked unit is verified, scrapped or accepted (use-as-is).
 */

export const DECISIONS = ['repair', 'retest', 'scrap', 'use-as-is'] as const;
export type Decision = (typeof DECISIONS)[number];

export interface DispositionInput {
  serial: string;
  decision: Decision;
  reason: string;
  instructions?: string;
  ncrId?: number | null;
  /** The failed result this answers (default: the unit's failure in tracking, else its latest failed result). */
  resultId?: number | null;
  /** For a unit that has not failed in tracking (e.g. an NCR unit): the step whose pass verifies the repair / retest. */
  verifyStepSeq?: number | null;
  /** Needed for use-as-is, and for repair / retest beyond the route's repair-loop limit. */
  signature?: SignatureInput;
}

export interface Disposition {
  id: number; unitId: number; serial: string; workOrderId: number; decision: Decision; failedStepSeq: number | null; verifyStepSeq: number | null; visitAt: number;
  resultId: number | null; ncrId: number | null; reason: string; instructions: string; signatureId: number | null; createdAt: Date; createdBy: string;
  /** Repair / retest: verified by a later pass at the verification step. Null for scrap / use-as-is. */
  verified: boolean | null;
}

export interface NcrInput {
  title: string;
  subject: { kind: 'unit'; serial: string } | { kind: 'lot'; lot: string } | { kind: 'work_order'; workOrder: number | string } | { kind: 'material_lot'; materialLotId: number };
  description?: string; containment?: string; rootCause?: string; correctiveAction?: string; repairInstructions?: string;
  /** Units to link now (the subject unit is always linked). */
  serials?: string[];
  /** Link every unit of the subject lot / work order (or, for a material lot, every unit built with it). */
  linkSubjectUnits?: boolean;
}
export type NcrPatch = Partial<Pick<NcrInput, 'title' | 'description' | 'containment' | 'rootCause' | 'correctiveAction' | 'repairInstructions'>>;

export type NcrUnitStatus = 'open' | 'repaired' | 'verified' | 'scrapped' | 'accepted';
export interface Ncr {
  id: number; number: string; title: string; subjectKind: string; unitId: number | null; productionLotId: number | null; workOrderId: number | null; materialLotId: number | null;
  description: string; containment: string; rootCause: string; correctiveAction: string; repairInstructions: string; state: 'open' | 'closed';
  createdAt: Date; createdBy: string; closedAt: Date | null; closedBy: string | null; closeSignatureId: number | null;
}

export interface ReworkInput {
  serial: string;
  /** What was done. */
  action: string;
  refdes?: string | null;
  /** Replaced component: the package it came off / the package the new one came from (id or code). */
  removedPackage?: number | string | null;
  newPackage?: number | string | null;
  /** Defects this repair addresses (marked repaired). */
  defectIds?: number[];
  ncrId?: number | null;
  dispositionId?: number | null;
  stationId?: number | null;
  operator?: string | null;
  /** The step whose pass verifies the repair (default: where the route returns the unit). */
  verifyStepSeq?: number | null;
  notes?: string;
}

const DISP_SELECT = `d.id, d.unit_id AS "unitId", u.serial, d.work_order_id AS "workOrderId", d.decision, d.failed_step_seq AS "failedStepSeq", d.verify_step_seq AS "verifyStepSeq",
  d.visit_at AS "visitAt", d.result_id AS "resultId", d.ncr_id AS "ncrId", d.reason, d.instructions, d.signature_id AS "signatureId", d.created_at AS "createdAt",
  d.created_by AS "createdBy",
  CASE WHEN d.decision IN ('repair','retest') THEN EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = d.unit_id AND pr.visit > d.visit_at
       AND pr.step_seq = d.verify_step_seq AND pr.result = 'pass') END AS verified
  FROM quality_dispositions d JOIN units u ON u.id = d.unit_id`;
const NCR_SELECT = `id, number, title, subject_kind AS "subjectKind", unit_id AS "unitId", production_lot_id AS "productionLotId", work_order_id AS "workOrderId",
  material_lot_id AS "materialLotId", description, containment, root_cause AS "rootCause", corrective_action AS "correctiveAction", repair_instructions AS "repairInstructions",
  state, created_at AS "createdAt", created_by AS "createdBy", closed_at AS "closedAt", closed_by AS "closedBy", close_signature_id AS "closeSignatureId" FROM quality_ncrs`;
const REWORK_SELECT = `ra.id, ra.unit_id AS "unitId", u.serial, ra.ncr_id AS "ncrId", ra.disposition_id AS "dispositionId", ra.action, ra.refdes,
  ra.removed_package_id AS "removedPackageId", rp.code AS "removedPackageCode", ra.new_package_id AS "newPackageId", np.code AS "newPackageCode", to_jsonb(ra.defect_ids) AS "defectIds",
  ra.station_id AS "stationId", ra.operator, ra.verify_step_seq AS "verifyStepSeq", ra.visit_at AS "visitAt", ra.performed_at AS "performedAt", ra.recorded_by AS "recordedBy", ra.notes,
  EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = ra.unit_id AND pr.visit > ra.visit_at AND pr.step_seq = ra.verify_step_seq AND pr.result = 'pass') AS verified
  FROM quality_rework_actions ra JOIN units u ON u.id = ra.unit_id LEFT JOIN material_packages rp ON rp.id = ra.removed_package_id LEFT JOIN material_packages np ON np.id = ra.new_package_id`;

/**
 * Each linked unit of an NCR with its status: scrapped; accepted (use-as-is after linking);
 * verified (at least one repair / retest disposition or rework action since linking, all
 * verified, and the unit not failed); repaired (some not verified yet); else open.
 */
const NCR_UNITS_SQL = `SELECT nu.unit_id AS "unitId", u.serial, u.status AS "unitStatus", nu.linked_at AS "linkedAt",
    CASE WHEN u.status = 'scrapped' THEN 'scrapped'
         WHEN EXISTS (SELECT 1 FROM quality_dispositions d WHERE d.unit_id = nu.unit_id AND d.decision = 'use-as-is' AND d.created_at >= nu.linked_at) THEN 'accepted'
         WHEN a.actions = 0 THEN 'open'
         WHEN a.unverified = 0 AND u.status <> 'failed' THEN 'verified'
         ELSE 'repaired' END AS status
  FROM quality_ncr_units nu JOIN units u ON u.id = nu.unit_id
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS actions, count(*) FILTER (WHERE NOT x.ok)::int AS unverified FROM (
      SELECT EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = d.unit_id AND pr.visit > d.visit_at AND pr.step_seq = d.verify_step_seq AND pr.result = 'pass') AS ok
        FROM quality_dispositions d WHERE d.unit_id = nu.unit_id AND d.decision IN ('repair','retest') AND d.created_at >= nu.linked_at
      UNION ALL
      SELECT EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = ra.unit_id AND pr.visit > ra.visit_at AND pr.step_seq = ra.verify_step_seq AND pr.result = 'pass')
        FROM quality_rework_actions ra WHERE ra.unit_id = nu.unit_id AND ra.performed_at >= nu.linked_at) x) a
  WHERE nu.ncr_id = $1 ORDER BY u.serial`;

interface UnitRow {
  id: number; serial: string; status: string; work_order_id: number; next_step_seq: number | null; return_step_seq: number | null; failed_step_seq: number | null;
  visits: number; passed_steps: number[]; repair_loops: Record<string, number>; on_hold: boolean; hold_reason: string | null; basis_id: number | null; hash: string | null;
}

export function createDispositions(db: Db, deps: { workOrders: WorkOrdersService; signatures: Signatures; whereUsedUnits: (q: Queryable, materialLotId: number) => Promise<number[]> }) {
  async function lockUnit(tx: Queryable, serial: string, lock: boolean): Promise<UnitRow> {
    const u = (
      await tx.query<UnitRow>(
        `SELECT u.id, u.serial, u.status, u.work_order_id, u.next_step_seq, u.return_step_seq, u.failed_step_seq, u.visits, u.passed_steps, u.repair_loops,
                u.on_hold, u.hold_reason, w.basis_id, b.hash
           FROM units u JOIN work_orders w ON w.id = u.work_order_id LEFT JOIN build_bases b ON b.id = w.basis_id WHERE u.serial = $1 ${lock ? 'FOR UPDATE OF u' : ''}`,
        [serial],
      )
    ).rows[0];
    if (!u) throw notFound('unit', serial);
    return u;
  }

  async function basisOf(q: Queryable, u: UnitRow): Promise<ParsedBasis> {
    if (u.basis_id === null || u.hash === null) throw new AppError('STATE_CONFLICT', `The work order of unit ${u.serial} has no build basis`);
    return deps.workOrders.loadBasis(u.basis_id, u.hash, q);
  }

  /** The failure a disposition answers: tracking's failed step, or the step of a failed result. */
  async function failureOf(q: Queryable, u: UnitRow, basis: ParsedBasis, input: DispositionInput): Promise<{ step: BasisStep | null; resultId: number | null; trackingFailed: boolean }> {
    const stepByType = (type: string) => basis.main.find((s) => s.stationType === type) ?? null;
    let resultId: number | null = null;
    let resultStep: BasisStep | null = null;
    const res = (
      await q.query<{ id: number; station_type: string; step_seq: number | null; eff: string }>(
        `SELECT r.id, r.station_type, r.step_seq, COALESCE(r.verified_result, r.result) AS eff FROM quality_results r
          WHERE r.unit_id = $1 AND ($2::bigint IS NULL OR r.id = $2) ORDER BY r.id DESC LIMIT 1`,
        [u.id, input.resultId ?? null],
      )
    ).rows[0];
    if (input.resultId != null && !res) throw new AppError('REFERENCE_NOT_FOUND', `Result ${input.resultId} is not a result of unit ${u.serial}`);
    if (res && res.eff !== 'pass') {
      resultId = res.id;
      resultStep = (res.step_seq !== null ? basis.bySeq.get(res.step_seq) : undefined) ?? stepByType(res.station_type);
    }
    if (u.status === 'failed') {
      const seq = u.failed_step_seq ?? u.next_step_seq;
      return { step: seq === null ? null : (basis.bySeq.get(seq) ?? null), resultId, trackingFailed: true };
    }
    return { step: resultStep, resultId, trackingFailed: false };
  }

  /**
   * Decides what happens to a failed unit (or a unit under an NCR) and moves it on in the route:
   * repair → the repair step, returning to the failed step; retest → the failed step again;
   * scrap → scrapped; use-as-is (signed by a quality engineer) → the step after the failed one.
   */
  async function dispose(who: Principal, input: DispositionInput, q?: Queryable): Promise<Disposition> {
    if (!(DECISIONS as readonly string[]).includes(input.decision)) throw validationFailed([{ field: '/decision', code: 'enum', message: `must be one of ${DECISIONS.join(', ')}` }]);
    if ((input.reason ?? '').trim().length < 3) throw validationFailed([{ field: '/reason', code: 'required', message: 'a disposition needs a reason' }]);
    // What needs a signature is known before the transaction (the password check commits on its own).
    const pre = await lockUnit(db, input.serial, false);
    const preBasis = pre.status === 'failed' ? await basisOf(db, pre) : null;
    const beyondLimit = pre.status === 'failed' && (input.decision === 'repair' || input.decision === 'retest') && loopsExhausted(preBasis!, { failedStepSeq: pre.failed_step_seq, repairLoops: pre.repair_loops });
    let signer: Awaited<ReturnType<Signatures['authenticate']>> | null = null;
    if (input.decision === 'use-as-is') signer = await deps.signatures.authenticate(who, 'disposition.use-as-is', input.signature);
    else if (beyondLimit) signer = await deps.signatures.authenticate(who, 'disposition.beyond-loop-limit', input.signature);
    return inTx(db, q, async (tx) => {
      const u = await lockUnit(tx, input.serial, true);
      if (u.status !== pre.status || u.visits !== pre.visits) throw new AppError('CONCURRENT_UPDATE', `Unit ${u.serial} changed meanwhile; retry`);
      if (u.status === 'scrapped') throw new AppError('STATE_CONFLICT', `Unit ${u.serial} is scrapped`);
      if (u.status === 'in_process') throw new AppError('STATE_CONFLICT', `Unit ${u.serial} is being processed; complete the step first`);
      const basis = await basisOf(tx, u);
      if (input.ncrId != null) {
        const n = (await tx.query<{ state: string }>('SELECT state FROM quality_ncrs WHERE id = $1', [input.ncrId])).rows[0];
        if (!n) throw new AppError('REFERENCE_NOT_FOUND', `NCR ${input.ncrId} does not exist`);
        if (n.state !== 'open') throw new AppError('STATE_CONFLICT', `NCR ${input.ncrId} is closed`);
        await tx.query('INSERT INTO quality_ncr_units (ncr_id, unit_id, linked_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [input.ncrId, u.id, who.name]);
      }
      const f = await failureOf(tx, u, basis, input);
      const underNcr = input.ncrId != null || (await tx.query('SELECT 1 FROM quality_ncr_units nu JOIN quality_ncrs n ON n.id = nu.ncr_id WHERE nu.unit_id = $1 AND n.state = $2', [u.id, 'open'])).rowCount! > 0;
      if (!f.trackingFailed && f.resultId === null && !underNcr) {
        throw new AppError('STATE_CONFLICT', `Unit ${u.serial} has no failure to disposition (status ${u.status}, no failed result, no open NCR)`);
      }
      const verifyStep = input.verifyStepSeq != null ? basis.bySeq.get(input.verifyStepSeq) : f.step;
      if (input.verifyStepSeq != null && !verifyStep) throw validationFailed([{ field: '/verifyStepSeq', code: 'unknown_step', message: `the route has no step ${input.verifyStepSeq}` }]);
      if ((input.decision === 'repair' || input.decision === 'retest') && !verifyStep) {
        throw validationFailed([{ field: '/verifyStepSeq', code: 'required', message: `name the step whose pass verifies the ${input.decision} of unit ${u.serial}` }]);
      }
      let verifySeq: number | null = null;
      const failedSeq = f.step?.seq ?? null;
      switch (input.decision) {
        case 'repair': {
          const failStep = f.step ?? verifyStep!;
          const repairSeq = failStep.repairStepSeq ?? basis.steps.find((s) => s.isRepair)?.seq ?? null;
          if (repairSeq === null) throw new AppError('STATE_CONFLICT', `The route of unit ${u.serial} has no repair step; choose retest, scrap or use-as-is`);
          verifySeq = input.verifyStepSeq ?? failStep.returnStepSeq ?? failStep.seq;
          const loops = { ...u.repair_loops, [String(failStep.seq)]: (u.repair_loops[String(failStep.seq)] ?? 0) + 1 };
          await applyDisposition(tx, u.id, { status: 'queued', nextStepSeq: repairSeq, returnStepSeq: verifySeq, failedStepSeq: null, repairLoops: loops });
          break;
        }
        case 'retest':
          verifySeq = verifyStep!.seq;
          await applyDisposition(tx, u.id, { status: 'queued', nextStepSeq: verifySeq, failedStepSeq: null });
          break;
        case 'scrap':
          await applyDisposition(tx, u.id, { status: 'scrapped', nextStepSeq: null, returnStepSeq: null });
          break;
        case 'use-as-is':
          if (f.trackingFailed && f.step) {
            const next = nextMainStep(basis, f.step.seq);
            const passed = u.passed_steps.includes(f.step.seq) ? u.passed_steps : [...u.passed_steps, f.step.seq];
            await applyDisposition(tx, u.id, { status: next ? 'queued' : 'completed', nextStepSeq: next?.seq ?? null, returnStepSeq: null, failedStepSeq: null, passedSteps: passed });
          }
          break;
      }
      // The signature binds the decision about this unit; the disposition row then points to it.
      const sig: Signature | null = signer
        ? await deps.signatures.record(tx, signer, { entity: 'unit', entityId: u.id, content: { unit: u.serial, decision: input.decision, failedStepSeq: failedSeq, verifyStepSeq: verifySeq, reason: input.reason } })
        : null;
      const r = await tx.query<{ id: number }>(
        `INSERT INTO quality_dispositions (unit_id, work_order_id, decision, failed_step_seq, verify_step_seq, visit_at, result_id, ncr_id, reason, instructions, signature_id, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        [u.id, u.work_order_id, input.decision, failedSeq, verifySeq, u.visits, f.resultId, input.ncrId ?? null, input.reason.trim(), input.instructions ?? '', sig?.id ?? null, who.name],
      );
      const id = r.rows[0]!.id;
      const out = await getDispositionIn(tx, id);
      await recordAudit(tx, who, {
        action: `disposition_${input.decision}`, entity: 'unit', entityId: u.id,
        before: { status: u.status, nextStepSeq: u.next_step_seq, failedStepSeq: u.failed_step_seq },
        after: { disposition: out }, reason: input.reason, signature: sig ? auditSignature(sig) : undefined,
      });
      return out;
    });
  }

  async function getDispositionIn(q: Queryable, id: number): Promise<Disposition> {
    const d = (await q.query<Disposition>(`SELECT ${DISP_SELECT} WHERE d.id = $1`, [id])).rows[0];
    if (!d) throw notFound('disposition', id);
    return d;
  }

  async function listDispositions(f: { serial?: string; workOrderId?: number; ncrId?: number; limit?: number }): Promise<Disposition[]> {
    return (
      await db.query<Disposition>(
        `SELECT ${DISP_SELECT} WHERE ($1::text IS NULL OR u.serial = $1) AND ($2::bigint IS NULL OR d.work_order_id = $2) AND ($3::bigint IS NULL OR d.ncr_id = $3)
          ORDER BY d.id DESC LIMIT $4`,
        [f.serial ?? null, f.workOrderId ?? null, f.ncrId ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  // ── NCRs ───────────────────────────────────────────────────────────────────────────────

  async function getNcrRow(q: Queryable, id: number): Promise<Ncr> {
    const n = (await q.query<Ncr>(`SELECT ${NCR_SELECT} WHERE id = $1`, [id])).rows[0];
    if (!n) throw notFound('NCR', id);
    return n;
  }

  async function ncrUnits(q: Queryable, id: number) {
    return (await q.query<{ unitId: number; serial: string; unitStatus: string; linkedAt: Date; status: NcrUnitStatus }>(NCR_UNITS_SQL, [id])).rows;
  }

  async function getNcr(id: number, q: Queryable = db) {
    const n = await getNcrRow(q, id);
    const units = await ncrUnits(q, id);
    const rework = (await q.query(`SELECT ${REWORK_SELECT} WHERE ra.ncr_id = $1 ORDER BY ra.id`, [id])).rows;
    const dispositions = (await q.query<Disposition>(`SELECT ${DISP_SELECT} WHERE d.ncr_id = $1 ORDER BY d.id`, [id])).rows;
    return { ...n, units, rework, dispositions };
  }

  async function listNcrs(f: { state?: 'open' | 'closed'; workOrderId?: number; serial?: string; limit?: number } = {}): Promise<Ncr[]> {
    return (
      await db.query<Ncr>(
        `SELECT ${NCR_SELECT} WHERE ($1::text IS NULL OR state = $1) AND ($2::bigint IS NULL OR work_order_id = $2)
           AND ($3::text IS NULL OR id IN (SELECT ncr_id FROM quality_ncr_units WHERE unit_id = (SELECT id FROM units WHERE serial = $3))) ORDER BY id DESC LIMIT $4`,
        [f.state ?? null, f.workOrderId ?? null, f.serial ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  async function unitIdsOf(tx: Queryable, serials: string[]): Promise<number[]> {
    const uniq = [...new Set(serials)];
    const r = await tx.query<{ id: number; serial: string }>('SELECT id, serial FROM units WHERE serial = ANY($1)', [uniq]);
    const unknown = uniq.filter((s) => !r.rows.some((x) => x.serial === s));
    if (unknown.length) throw new AppError('REFERENCE_NOT_FOUND', `Unknown unit(s): ${unknown.slice(0, 10).join(', ')}`, { errors: unknown.slice(0, 100).map((s) => ({ field: '/serials', code: 'unknown_unit', message: `no unit ${s}` })) });
    return r.rows.map((x) => x.id);
  }

  async function link(tx: Tx, who: Principal, ncrId: number, unitIds: number[]): Promise<number> {
    if (unitIds.length === 0) return 0;
    const r = await tx.query('INSERT INTO quality_ncr_units (ncr_id, unit_id, linked_by) SELECT $1, unnest($2::bigint[]), $3 ON CONFLICT DO NOTHING', [ncrId, unitIds, who.name]);
    return r.rowCount ?? 0;
  }

  /** Raises an NCR against a unit, production lot, work order or material lot, linking the affected units. */
  async function createNcr(who: Principal, input: NcrInput) {
    if ((input.title ?? '').trim().length < 3) throw validationFailed([{ field: '/title', code: 'required', message: 'an NCR needs a title' }]);
    return db.tx(async (tx) => {
      const s = input.subject;
      let unitId: number | null = null, lotId: number | null = null, woId: number | null = null, mlotId: number | null = null;
      let subjectUnits: number[] = [];
      if (s.kind === 'unit') {
        const u = (await tx.query<{ id: number; work_order_id: number }>('SELECT id, work_order_id FROM units WHERE serial = $1', [s.serial])).rows[0];
        if (!u) throw new AppError('REFERENCE_NOT_FOUND', `Unit ${s.serial} does not exist`);
        unitId = u.id;
        woId = u.work_order_id;
        subjectUnits = [u.id];
      } else if (s.kind === 'lot') {
        const l = (await tx.query<{ id: number; work_order_id: number }>('SELECT id, work_order_id FROM production_lots WHERE code = $1', [s.lot])).rows[0];
        if (!l) throw new AppError('REFERENCE_NOT_FOUND', `Production lot ${s.lot} does not exist`);
        lotId = l.id;
        woId = l.work_order_id;
        if (input.linkSubjectUnits) subjectUnits = (await tx.query<{ id: number }>(`SELECT id FROM units WHERE lot_id = $1 AND status <> 'skipped'`, [l.id])).rows.map((r) => r.id);
      } else if (s.kind === 'work_order') {
        woId = (await deps.workOrders.resolve(s.workOrder, tx)).id;
        if (input.linkSubjectUnits) subjectUnits = (await tx.query<{ id: number }>(`SELECT id FROM units WHERE work_order_id = $1 AND status <> 'skipped'`, [woId])).rows.map((r) => r.id);
      } else if (s.kind === 'material_lot') {
        const m = (await tx.query<{ id: number }>('SELECT id FROM material_lots WHERE id = $1', [s.materialLotId])).rows[0];
        if (!m) throw new AppError('REFERENCE_NOT_FOUND', `Material lot ${s.materialLotId} does not exist`);
        mlotId = m.id;
        if (input.linkSubjectUnits) subjectUnits = await deps.whereUsedUnits(tx, m.id);
      } else {
        throw validationFailed([{ field: '/subject/kind', code: 'enum', message: 'unit, lot, work_order or material_lot' }]);
      }
      const r = await tx.query<{ id: number }>(
        `INSERT INTO quality_ncrs (number, title, subject_kind, unit_id, production_lot_id, work_order_id, material_lot_id, description, containment, root_cause,
                                   corrective_action, repair_instructions, created_by)
         VALUES ('NCR-' || lpad(nextval('quality_ncr_number_seq')::text, 6, '0'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        [input.title.trim(), s.kind, unitId, lotId, woId, mlotId, input.description ?? '', input.containment ?? '', input.rootCause ?? '', input.correctiveAction ?? '', input.repairInstructions ?? '', who.name],
      );
      const id = r.rows[0]!.id;
      const extra = input.serials?.length ? await unitIdsOf(tx, input.serials) : [];
      await link(tx, who, id, [...new Set([...subjectUnits, ...extra])]);
      const ncr = await getNcr(id, tx);
      await recordAudit(tx, who, { action: 'create', entity: 'ncr', entityId: id, after: { ...ncr, units: ncr.units.length, rework: undefined, dispositions: undefined } });
      return ncr;
    });
  }

  async function updateNcr(who: Principal, id: number, patch: NcrPatch) {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM quality_ncrs WHERE id = $1 FOR UPDATE', [id]);
      const before = await getNcrRow(tx, id);
      if (before.state !== 'open') throw new AppError('STATE_CONFLICT', `NCR ${before.number} is closed`);
      await tx.query(
        `UPDATE quality_ncrs SET title = COALESCE($2, title), description = COALESCE($3, description), containment = COALESCE($4, containment), root_cause = COALESCE($5, root_cause),
                corrective_action = COALESCE($6, corrective_action), repair_instructions = COALESCE($7, repair_instructions) WHERE id = $1`,
        [id, patch.title ?? null, patch.description ?? null, patch.containment ?? null, patch.rootCause ?? null, patch.correctiveAction ?? null, patch.repairInstructions ?? null],
      );
      const after = await getNcrRow(tx, id);
      await recordAudit(tx, who, { action: 'update', entity: 'ncr', entityId: id, before, after });
      return getNcr(id, tx);
    });
  }

  async function linkUnits(who: Principal, id: number, serials: string[]) {
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM quality_ncrs WHERE id = $1 FOR UPDATE', [id]);
      const n = await getNcrRow(tx, id);
      if (n.state !== 'open') throw new AppError('STATE_CONFLICT', `NCR ${n.number} is closed`);
      const added = await link(tx, who, id, await unitIdsOf(tx, serials));
      await recordAudit(tx, who, { action: 'link_units', entity: 'ncr', entityId: id, after: { serials: serials.slice(0, 1000), added } });
      return getNcr(id, tx);
    });
  }

  /** Closes an NCR with a signature; refused while a linked unit is not verified, scrapped or accepted. */
  async function closeNcr(who: Principal, id: number, input: { signature: SignatureInput }) {
    const signer = await deps.signatures.authenticate(who, 'ncr.close', input.signature);
    return db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM quality_ncrs WHERE id = $1 FOR UPDATE', [id]);
      const n = await getNcrRow(tx, id);
      if (n.state !== 'open') throw new AppError('STATE_CONFLICT', `NCR ${n.number} is already closed`);
      const units = await ncrUnits(tx, id);
      const open = units.filter((u) => u.status === 'open' || u.status === 'repaired');
      if (open.length) {
        throw new AppError('NCR_NOT_CLOSABLE', `NCR ${n.number} cannot close: ${open.length} unit(s) not verified, scrapped or accepted: ${open.slice(0, 20).map((u) => `${u.serial} (${u.status === 'open' ? 'no repair or disposition' : 'repair not verified'})`).join(', ')}`, {
          details: { openUnits: open.map((u) => ({ serial: u.serial, status: u.status })) },
        });
      }
      const sig = await deps.signatures.record(tx, signer, { entity: 'ncr', entityId: id, content: { ncr: n, units } });
      await tx.query(`UPDATE quality_ncrs SET state = 'closed', closed_at = $2, closed_by = $3, close_signature_id = $4 WHERE id = $1`, [id, sig.signedAt, signer.user.username, sig.id]);
      const after = await getNcr(id, tx);
      await recordAudit(tx, who, { action: 'close', entity: 'ncr', entityId: id, before: { state: 'open' }, after: { state: 'closed', units: units.length }, reason: signer.reason, signature: auditSignature(sig) });
      return after;
    });
  }

  // ── rework ─────────────────────────────────────────────────────────────────────────────

  async function packageRef(q: Queryable, ref: number | string, field: string): Promise<{ id: number; code: string; ipn: string }> {
    const r = (
      await q.query<{ id: number; code: string; ipn: string }>(
        `SELECT pk.id, pk.code, p.ipn FROM material_packages pk JOIN material_lots l ON l.id = pk.material_lot_id JOIN parts p ON p.id = l.part_id
          WHERE ${typeof ref === 'number' ? 'pk.id = $1' : 'pk.code = $1'}`,
        [ref],
      )
    ).rows[0];
    if (!r) throw new AppError('REFERENCE_NOT_FOUND', `Package ${ref} does not exist`, { errors: [{ field, code: 'unknown_package', message: `no package ${ref}` }] });
    return r;
  }

  /**
   * Records a repair action on a unit. A replaced component names the removed and the new
   * package (the new one must hold the BOM part of that reference designator); the unit's
   * material trace then includes the new package. The repair must be verified by a pass at the
   * verification step; a completed unit is sent back to it.
   */
  async function recordRework(who: Principal, input: ReworkInput) {
    if ((input.action ?? '').trim().length < 3) throw validationFailed([{ field: '/action', code: 'required', message: 'say what was done' }]);
    if (input.newPackage != null && !input.refdes) throw validationFailed([{ field: '/refdes', code: 'required', message: 'a replaced component names its reference designator' }]);
    return db.tx(async (tx) => {
      const u = await lockUnit(tx, input.serial, true);
      if (u.status === 'scrapped') throw new AppError('STATE_CONFLICT', `Unit ${u.serial} is scrapped`);
      const basis = await basisOf(tx, u);
      const verifySeq = input.verifyStepSeq ?? u.return_step_seq ?? u.failed_step_seq ?? (u.status === 'failed' ? u.next_step_seq : null);
      if (verifySeq === null) throw validationFailed([{ field: '/verifyStepSeq', code: 'required', message: `name the step whose pass verifies the repair of unit ${u.serial}` }]);
      const vstep = basis.bySeq.get(verifySeq);
      if (!vstep || vstep.isRepair) throw validationFailed([{ field: '/verifyStepSeq', code: 'unknown_step', message: `step ${verifySeq} is not a production step of the route` }]);
      const removed = input.removedPackage != null ? await packageRef(tx, input.removedPackage, '/removedPackage') : null;
      const added = input.newPackage != null ? await packageRef(tx, input.newPackage, '/newPackage') : null;
      if (added) {
        const line = basis.basis.bom.find((l) => l.refdes.includes(input.refdes!));
        if (!line) throw new AppError('RULE_VIOLATION', `${input.refdes} is not a reference designator of the BOM of unit ${u.serial}`, { errors: [{ field: '/refdes', code: 'unknown_refdes', message: `not on the BOM` }] });
        if (line.ipn !== added.ipn) throw new AppError('RULE_VIOLATION', `Package ${added.code} holds part ${added.ipn}; ${input.refdes} needs part ${line.ipn}`, { errors: [{ field: '/newPackage', code: 'part_mismatch', message: `holds ${added.ipn}, ${input.refdes} needs ${line.ipn}` }] });
      }
      const defectIds = [...new Set(input.defectIds ?? [])];
      if (defectIds.length) {
        const own = await tx.query<{ id: number }>('SELECT id FROM quality_defects WHERE id = ANY($1) AND unit_id = $2', [defectIds, u.id]);
        if (own.rowCount !== defectIds.length) throw validationFailed([{ field: '/defectIds', code: 'other_unit', message: `some defects are not defects of unit ${u.serial}` }]);
        await tx.query(`UPDATE quality_defects SET verification = 'repaired', verified_by = COALESCE(verified_by, $2), verified_at = COALESCE(verified_at, clock_timestamp()) WHERE id = ANY($1)`, [defectIds, who.name]);
      }
      if (input.ncrId != null) {
        const n = (await tx.query<{ state: string }>('SELECT state FROM quality_ncrs WHERE id = $1', [input.ncrId])).rows[0];
        if (!n) throw new AppError('REFERENCE_NOT_FOUND', `NCR ${input.ncrId} does not exist`);
        if (n.state !== 'open') throw new AppError('STATE_CONFLICT', `NCR ${input.ncrId} is closed`);
        await tx.query('INSERT INTO quality_ncr_units (ncr_id, unit_id, linked_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [input.ncrId, u.id, who.name]);
      }
      // A finished unit goes back to be verified.
      if (u.status === 'completed') {
        await tx.query(`UPDATE units SET status = 'queued', next_step_seq = $2, updated_at = now() WHERE id = $1`, [u.id, verifySeq]);
      }
      const r = await tx.query<{ id: number }>(
        `INSERT INTO quality_rework_actions (unit_id, work_order_id, ncr_id, disposition_id, action, refdes, removed_package_id, new_package_id, defect_ids, station_id, operator,
                                             verify_step_seq, visit_at, recorded_by, notes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
        [
          u.id, u.work_order_id, input.ncrId ?? null, input.dispositionId ?? null, input.action.trim(), input.refdes ?? null, removed?.id ?? null, added?.id ?? null, defectIds,
          input.stationId ?? null, input.operator ?? (who.kind === 'user' ? who.name : null), verifySeq, u.visits, who.name, input.notes ?? '',
        ],
      );
      const out = (await tx.query(`SELECT ${REWORK_SELECT} WHERE ra.id = $1`, [r.rows[0]!.id])).rows[0]!;
      await recordAudit(tx, who, { action: 'rework', entity: 'unit', entityId: u.id, after: out, reason: input.action });
      return out;
    });
  }

  async function listRework(f: { serial?: string; ncrId?: number; limit?: number }) {
    return (
      await db.query(
        `SELECT ${REWORK_SELECT} WHERE ($1::text IS NULL OR u.serial = $1) AND ($2::bigint IS NULL OR ra.ncr_id = $2) ORDER BY ra.id DESC LIMIT $3`,
        [f.serial ?? null, f.ncrId ?? null, Math.min(f.limit ?? 100, 1000)],
      )
    ).rows;
  }

  return { dispose, getDisposition: (id: number) => getDispositionIn(db, id), listDispositions, createNcr, updateNcr, linkUnits, closeNcr, getNcr, listNcrs, recordRework, listRework };
}
export type Dispositions = ReturnType<typeof createDispositions>;
