import type { Db, Queryable } from '../../platform/db.ts';
import { defineEntity } from '../../platform/crud.ts';
import { notFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import type { AuthService } from '../auth/index.ts';
import type { MaterialsService } from '../materials/index.ts';
import type { TrackingService } from '../tracking/index.ts';
import type { WorkOrdersService } from '../work-orders/index.ts';
import { createCompletions } from './completions.ts';
import { createDispositions } from './dispositions.ts';
import { createFirstArticles } from './first-article.ts';
import { createHolds } from './holds.ts';
import { createResults, type Results } from './results.ts';
import { createRules } from './rules.ts';
import { createSignatures } from './signatures.ts';
import { createUnitStatus } from './status.ts';

/**
 * The quality module, assembled from its parts (results, rules, holds, first article,
 * dispositions / NCR / rework, signatures, unit status). Its interlock rules are registered
 * into tracking by `registerQualityInterlockRules` (main.ts).
 */

export interface QualityDeps {
  auth: AuthService;
  tracking: TrackingService;
  workOrders: WorkOrdersService;
  materials: MaterialsService;
}

export interface DefectCode { id: number; code: string; category: string; description: string; active: boolean }

export function createQualityService(db: Db, deps: QualityDeps) {
  const { workOrders } = deps;
  const signatures = createSignatures({ auth: deps.auth });
  const holds = createHolds(db, { workOrders, materials: deps.materials, signatures });
  let results: Results | null = null;
  const firstArticles = createFirstArticles(db, { workOrders, signatures, results: () => results! });
  const rules = createRules(db, {
    workOrders,
    actions: () => ({
      holdWorkOrder: (tx, who, id, reason, alertId, code) => holds.placeByRule(tx, who, 'work_order', id, reason, alertId, code),
      holdStation: (tx, who, id, reason, alertId, code) => holds.placeByRule(tx, who, 'station', id, reason, alertId, code),
      requireFirstArticle: (tx, who, id, reason, source) => firstArticles.requireInTx(tx, who, id, reason, source),
    }),
  });
  results = createResults(db, { tracking: deps.tracking, rules });
  const r = results;
  const dispositions = createDispositions(db, {
    workOrders, signatures,
    whereUsedUnits: async (q, materialLotId) => (await holds.whereUsed({ kind: 'material_lot', materialLotId }, q)).map((u) => u.unitId),
  });
  const status = createUnitStatus(db, { workOrders });
  const completions = createCompletions(db, { tracking: deps.tracking, results: r, signatures });
  const defectCodes = defineEntity<DefectCode>(db, {
    entity: 'defect_code', table: 'quality_defect_codes', key: 'code', columns: { code: 'code', category: 'category', description: 'description', active: 'active' },
  });

  async function listDefectCategories(): Promise<{ code: string; name: string; description: string }[]> {
    return (await db.query<{ code: string; name: string; description: string }>('SELECT code, name, description FROM quality_defect_categories ORDER BY code')).rows;
  }

  /** Everything quality knows about one unit: results, dispositions, rework, NCRs, holds covering it, and what blocks packing / shipping. */
  async function unitQuality(serial: string, q: Queryable = db) {
    const u = (await q.query<{ id: number; serial: string; status: string; workOrderId: number }>('SELECT id, serial, status, work_order_id AS "workOrderId" FROM units WHERE serial = $1', [serial])).rows[0];
    if (!u) throw notFound('unit', serial);
    const [res, disp, rework, ncrs, blockers] = await Promise.all([
      r.listResults({ serial, limit: 1000 }),
      dispositions.listDispositions({ serial, limit: 1000 }),
      dispositions.listRework({ serial, limit: 1000 }),
      dispositions.listNcrs({ serial }),
      status.blockers(q, [u.id]),
    ]);
    // The holds covering the unit: the interlock's own lookup (no station: a station hold stops a station, it does not hold units).
    const activeHolds = (
      await q.query<{ id: number; number: string; scope: string; reasonCode: string; reason: string }>(
        `SELECT DISTINCT h.id, h.number, h.scope, h.reason_code AS "reasonCode", h.reason
           FROM units u JOIN work_orders w ON w.id = u.work_order_id
           CROSS JOIN LATERAL quality_interlock_data(ARRAY[u.id], array_remove(ARRAY[u.panel_id], NULL), array_remove(ARRAY[u.lot_id], NULL), ARRAY[u.work_order_id],
                                                     ARRAY[w.product_revision_id], NULL, '{}', '{}') x
           JOIN quality_holds h ON h.id = x.id AND x.k = 'H'
          WHERE u.id = $1 ORDER BY h.id`,
        [u.id],
      )
    ).rows;
    return { unit: u, results: res, dispositions: disp, rework, ncrs, holds: activeHolds, blockers, clear: blockers.length === 0 };
  }

  return {
    // results, defects, verification of machine calls
    recordResults: r.recordResults, recordResult: r.recordResult, getResult: r.getResult, listResults: r.listResults, listDefects: r.listDefects,
    verifyDefects: r.verifyDefects, falseCallStats: r.falseCallStats,
    // a passage with its inspection result (and step sign-off) in one transaction: the operator station's pass / fail
    completeWithResults: completions.completeWithResults,
    // defect catalogue
    listDefectCategories, listDefectCodes: () => defectCodes.list(),
    createDefectCode: async (who: Principal, input: Omit<DefectCode, 'id'>) => {
      const c = await defectCodes.create(who, input);
      r.invalidateCatalogue();
      return c;
    },
    updateDefectCode: async (who: Principal, id: number, patch: Partial<Omit<DefectCode, 'id'>>) => {
      const c = await defectCodes.update(who, id, patch);
      r.invalidateCatalogue();
      return c;
    },
    // dispositions, NCRs, rework
    dispose: dispositions.dispose, getDisposition: dispositions.getDisposition, listDispositions: dispositions.listDispositions,
    createNcr: dispositions.createNcr, updateNcr: dispositions.updateNcr, linkNcrUnits: dispositions.linkUnits, closeNcr: dispositions.closeNcr,
    getNcr: (id: number) => dispositions.getNcr(id), listNcrs: dispositions.listNcrs, recordRework: dispositions.recordRework, listRework: dispositions.listRework,
    // holds and where-used
    placeHold: holds.placeHold, holdWhereUsed: holds.holdWhereUsed, whereUsed: (query: Parameters<typeof holds.whereUsed>[0], q?: Queryable) => holds.whereUsed(query, q),
    holdsCovering: holds.holdsCovering, getHolds: (ids: number[], q?: Queryable) => holds.getHolds(ids, q),
    releaseHold: holds.releaseHold, getHold: (id: number) => holds.getHold(id), listHolds: holds.listHolds, holdUnits: holds.holdUnits, listHoldReasons: holds.listReasons,
    // first article
    firstArticleStatus: (workOrderId: number) => firstArticles.status(workOrderId), decideFirstArticle: firstArticles.decide,
    requireFirstArticle: firstArticles.requireFirstArticle, requireFirstArticleForLine: firstArticles.requireForLine,
    // rules and alerts
    createRule: rules.createRule, updateRule: rules.updateRule, getRule: (id: number) => rules.getRule(id), listRules: rules.listRules,
    listAlerts: rules.listAlerts, getAlert: (id: number) => rules.getAlert(id),
    /** The reading rules on readings just stored, in their transaction: handed to the equipment module at wiring (main.ts). */
    evaluateReadings: rules.evaluateReadings,
    acknowledgeAlert: (who: Principal, id: number, note: string | null) => rules.setAlertState(who, id, 'acknowledged', note),
    closeAlert: (who: Principal, id: number, note: string | null) => rules.setAlertState(who, id, 'closed', note),
    // signatures (also used by shipping) and the per-unit blockers (packing, clearance)
    signatures,
    listSignatures: (f: { entity?: string; entityId?: string; limit?: number }) => signatures.list(db, f),
    blockers: status.blockers,
    unitQuality,
  };
}
export type QualityService = ReturnType<typeof createQualityService>;
