import type { Db, Queryable, Tx } from '../../platform/db.ts';
import { AppError, notFound, validationFailed } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';
import type { WorkOrdersService } from '../work-orders/index.ts';
import type { DefectInput, MeasurementInput, Results } from './results.ts';
import { auditSignature, type SignatureInput, type Signatures } from './signatures.ts';

/**
 * First article, built on tracking's first-article claims (`first_articles`: the first unit or
 * panel to reach a `firstArticleGate` step claims it; the others wait until it passes). Here the
 * gate also needs the inspector's signed FAI approval of that first article: until then the
 * interlock refuses other units at the step (FIRST_ARTICLE_NOT_APPROVED). A rejection frees the
 * claim, so the next unit becomes the first article. `requireFirstArticle` (setup change,
 * changeover, quality rule) deletes the claims of a work order: the next unit claims anew.
 */

export interface FirstArticleDecisionInput {
  /** The first article's serial (or a unit of the claiming panel). */
  serial: string;
  /** The gated step; needed only when the unit claimed several. */
  stepSeq?: number;
  decision: 'approved' | 'rejected';
  /** Where the FAI was done; defaults to the station that passed the unit at the gated step. */
  stationId?: number;
  station?: string;
  defects?: DefectInput[];
  measurements?: MeasurementInput[];
  notes?: string | null;
  signature: SignatureInput;
}

export interface FirstArticleState {
  stepSeq: number; unitId: number; serial: string; panelId: number | null; state: 'pending' | 'passed'; claimedAt: Date; passedAt: Date | null;
  approval: { id: number; decision: 'approved' | 'rejected'; decidedAt: Date; decidedBy: string; resultId: number; signatureId: number } | null;
}

export function createFirstArticles(db: Db, deps: { workOrders: WorkOrdersService; signatures: Signatures; results: () => Results }) {
  /** The first-article claims of a work order with the inspector's latest decision on each. */
  async function status(workOrderId: number, q: Queryable = db): Promise<FirstArticleState[]> {
    return (
      await q.query<FirstArticleState>(
        `SELECT fa.step_seq AS "stepSeq", fa.unit_id AS "unitId", u.serial, fa.panel_id AS "panelId", fa.state, fa.claimed_at AS "claimedAt", fa.passed_at AS "passedAt",
                (SELECT jsonb_build_object('id', a.id, 'decision', a.decision, 'decidedAt', a.decided_at, 'decidedBy', a.decided_by, 'resultId', a.result_id, 'signatureId', a.signature_id)
                   FROM quality_first_articles a WHERE a.work_order_id = fa.work_order_id AND a.step_seq = fa.step_seq AND a.unit_id = fa.unit_id AND a.claimed_at = fa.claimed_at
                  ORDER BY a.id DESC LIMIT 1) AS approval
           FROM first_articles fa JOIN units u ON u.id = fa.unit_id WHERE fa.work_order_id = $1 ORDER BY fa.step_seq`,
        [workOrderId],
      )
    ).rows;
  }

  /**
   * The inspector's signed FAI verdict on a first article: records the FAI result (method `fai`)
   * with its defects and measurements, and the decision. Approval opens the gate for the other
   * units; rejection frees the claim (the next unit becomes the first article).
   */
  async function decide(who: Principal, input: FirstArticleDecisionInput) {
    if (input.decision !== 'approved' && input.decision !== 'rejected') throw validationFailed([{ field: '/decision', code: 'enum', message: 'approved or rejected' }]);
    const signer = await deps.signatures.authenticate(who, 'first-article.decide', input.signature, input.decision);
    return db.tx(async (tx) => {
      const unit = (await tx.query<{ id: number; serial: string; panel_id: number | null; work_order_id: number }>('SELECT id, serial, panel_id, work_order_id FROM units WHERE serial = $1', [input.serial])).rows[0];
      if (!unit) throw notFound('unit', input.serial);
      const claims = (
        await tx.query<{ step_seq: number; unit_id: number; panel_id: number | null; state: string; claimed_at: Date }>(
          `SELECT step_seq, unit_id, panel_id, state, claimed_at FROM first_articles WHERE work_order_id = $1 AND (unit_id = $2 OR (panel_id IS NOT NULL AND panel_id = $3))
             AND ($4::int IS NULL OR step_seq = $4) ORDER BY step_seq FOR UPDATE`,
          [unit.work_order_id, unit.id, unit.panel_id, input.stepSeq ?? null],
        )
      ).rows;
      if (claims.length === 0) throw new AppError('STATE_CONFLICT', `Unit ${input.serial} is not the first article of a gated step${input.stepSeq ? ` (step ${input.stepSeq})` : ''}`);
      if (claims.length > 1) throw validationFailed([{ field: '/stepSeq', code: 'required', message: `unit ${input.serial} is the first article of steps ${claims.map((c) => c.step_seq).join(', ')}: name one` }]);
      const claim = claims[0]!;
      if (claim.state !== 'passed' && input.decision === 'approved') {
        throw new AppError('STATE_CONFLICT', `The first article ${input.serial} has not passed step ${claim.step_seq} yet; approve it after it has`);
      }
      // Where the FAI happened: given, or the station that passed the unit at the gated step.
      let station: { stationId?: number; station?: string } = { stationId: input.stationId, station: input.station };
      if (station.stationId === undefined && station.station === undefined) {
        const pr = (await tx.query<{ station_id: number }>(`SELECT station_id FROM process_records WHERE unit_id = $1 AND step_seq = $2 ORDER BY visit DESC LIMIT 1`, [claim.unit_id, claim.step_seq])).rows[0];
        if (!pr) throw validationFailed([{ field: '/stationId', code: 'required', message: 'give the station where the first-article inspection was done' }]);
        station = { stationId: pr.station_id };
      }
      const faSerial = (await tx.query<{ serial: string }>('SELECT serial FROM units WHERE id = $1', [claim.unit_id])).rows[0]!.serial;
      const recorded = await deps.results().recordResults(who, [{
        ...station, unit: faSerial, method: 'fai', stepSeq: claim.step_seq, result: input.decision === 'approved' ? 'pass' : 'fail', operator: signer.user.username,
        defects: input.defects, measurements: input.measurements, notes: input.notes ?? null, source: 'fai',
      }], tx);
      const resultId = recorded.results[0]!.id;
      const content = { workOrderId: unit.work_order_id, stepSeq: claim.step_seq, unitId: claim.unit_id, claimedAt: claim.claimed_at, decision: input.decision, resultId };
      const sig = await deps.signatures.record(tx, signer, { entity: 'first_article', entityId: `${unit.work_order_id}/${claim.step_seq}/${claim.unit_id}`, content });
      await tx.query('UPDATE quality_results SET signature_id = $2 WHERE id = $1', [resultId, sig.id]);
      const row = (
        await tx.query<{ id: number }>(
          // claimed_at is copied inside the database: a JS Date would lose its microseconds and no longer match the claim.
          `INSERT INTO quality_first_articles (work_order_id, step_seq, unit_id, claimed_at, decision, result_id, signature_id, decided_by)
           SELECT fa.work_order_id, fa.step_seq, fa.unit_id, fa.claimed_at, $4, $5, $6, $7 FROM first_articles fa WHERE fa.work_order_id = $1 AND fa.step_seq = $2 AND fa.unit_id = $3
           RETURNING id`,
          [unit.work_order_id, claim.step_seq, claim.unit_id, input.decision, resultId, sig.id, signer.user.username],
        )
      ).rows[0]!;
      if (input.decision === 'rejected') {
        await tx.query('DELETE FROM first_articles WHERE work_order_id = $1 AND step_seq = $2 AND unit_id = $3', [unit.work_order_id, claim.step_seq, claim.unit_id]);
      }
      await recordAudit(tx, who, {
        action: input.decision === 'approved' ? 'approve_first_article' : 'reject_first_article', entity: 'work_order', entityId: unit.work_order_id,
        after: { ...content, decisionId: row.id }, reason: signer.reason, signature: auditSignature(sig),
      });
      return { id: row.id, ...content, signature: sig };
    });
  }

  /**
   * A new first article is needed (setup change, changeover, quality rule): the work order's
   * claims are removed; the next unit to reach each gated step claims it again and needs a new
   * signed approval. Returns the steps whose claim was removed.
   */
  async function requireInTx(tx: Tx, who: Principal, workOrderId: number, reason: string, source: string): Promise<number[]> {
    const r = await tx.query<{ step_seq: number }>('DELETE FROM first_articles WHERE work_order_id = $1 RETURNING step_seq', [workOrderId]);
    const steps = r.rows.map((x) => x.step_seq).sort((a, b) => a - b);
    await tx.query('INSERT INTO quality_first_article_resets (work_order_id, steps, reason, source, actor_name) VALUES ($1, $2, $3, $4, $5)', [workOrderId, steps, reason, source, who.name]);
    await recordAudit(tx, who, { action: 'require_first_article', entity: 'work_order', entityId: workOrderId, after: { steps, source }, reason });
    return steps;
  }

  async function requireFirstArticle(who: Principal, input: { workOrder: number | string; reason: string; source?: string }): Promise<{ workOrderId: number; steps: number[] }> {
    if ((input.reason ?? '').trim().length < 3) throw validationFailed([{ field: '/reason', code: 'required', message: 'say why a new first article is needed' }]);
    return db.tx(async (tx) => {
      const wo = await deps.workOrders.resolve(input.workOrder, tx);
      return { workOrderId: wo.id, steps: await requireInTx(tx, who, wo.id, input.reason.trim(), input.source ?? 'manual') };
    });
  }

  /** Changeover or setup change on a line: every open work order of the line needs a new first article. */
  async function requireForLine(who: Principal, input: { lineId: number; reason: string; source?: string }): Promise<{ workOrderId: number; steps: number[] }[]> {
    return db.tx(async (tx) => {
      const wos = (await tx.query<{ id: number }>(`SELECT id FROM work_orders WHERE line_id = $1 AND state IN ('released','in_progress','on_hold')`, [input.lineId])).rows;
      const out = [];
      for (const w of wos) out.push({ workOrderId: w.id, steps: await requireInTx(tx, who, w.id, input.reason, input.source ?? 'setup-change') });
      return out;
    });
  }

  return { status, decide, requireFirstArticle, requireForLine, requireInTx };
}
export type FirstArticles = ReturnType<typeof createFirstArticles>;
