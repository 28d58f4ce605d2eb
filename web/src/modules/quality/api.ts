import { http, type Query } from '../../api.ts';
import type { SignatureInput } from '../../components/SignatureDialog.tsx';

/** The quality module's endpoints (src/modules/quality/routes.ts) and their wire types. */

export interface QResult {
  id: number; unitId: number; serial: string; workOrderId: number; method: string; stationId: number; stationCode: string; stationType: string;
  result: string; verifiedResult: string | null; effectiveResult: string; retest: boolean; retestCount: number; defectCount: number; failedMeasurements: number;
  completedAt: string; recordedAt: string; stepSeq?: number | null; programName?: string | null;
}
export interface Defect {
  id: number; resultId: number; unitId: number; method: string; code: string; category: string | null; refdes: string | null; partNumber: string | null;
  imageRef: string | null; description: string | null; testName: string | null; machineVerification: string | null;
  verification: 'not_verified' | 'confirmed' | 'false_call' | 'accepted' | 'repaired'; verifiedBy: string | null; verifiedAt: string | null;
}
export interface Blocker { unitId: number; serial: string; code: string; message: string }
export interface UnitQuality {
  clear: boolean; blockers: Blocker[];
  unit?: { id: number; serial: string; status: string; workOrderId: number; workOrderNumber?: string; failedStepSeq?: number | null };
  results?: QResult[]; dispositions?: Disposition[]; ncrs?: Ncr[]; holds?: Hold[];
  [k: string]: unknown;
}
export type Decision = 'repair' | 'retest' | 'scrap' | 'use-as-is';
export interface Disposition {
  id: number; unitId: number; serial: string; workOrderId: number; decision: Decision; failedStepSeq: number | null; verifyStepSeq: number | null;
  resultId: number | null; ncrId: number | null; reason: string; instructions: string; signatureId: number | null; createdAt: string; createdBy: string; verified: boolean | null;
}
export interface NcrUnit { unitId: number; serial: string; unitStatus: string; linkedAt: string; status: 'open' | 'repaired' | 'verified' | 'scrapped' | 'accepted' }
export interface Rework {
  id: number; unitId: number; serial: string; ncrId: number | null; action: string; refdes: string | null; removedPackageCode: string | null; newPackageCode: string | null;
  verifyStepSeq: number; performedAt: string; recordedBy: string; verified: boolean; notes: string;
}
export interface Ncr {
  id: number; number: string; title: string; subjectKind: string; unitId: number | null; productionLotId: number | null; workOrderId: number | null; materialLotId: number | null;
  description: string; containment: string; rootCause: string; correctiveAction: string; repairInstructions: string; state: 'open' | 'closed';
  createdAt: string; createdBy: string; closedAt: string | null; closedBy: string | null; closeSignatureId: number | null;
}
export interface NcrDetail extends Ncr { units: NcrUnit[]; rework: Rework[]; dispositions: Disposition[] }
export interface Hold {
  id: number; number: string; scope: string; reasonCode: string; reason: string; source: string; placedAt: string; placedBy: string;
  releasedAt: string | null; releasedBy: string | null; releaseReason: string | null; releaseSignatureId: number | null; [k: string]: unknown;
}
export interface UnitRef { unitId: number; serial: string; workOrderId: number; workOrderNumber: string; status: string }
export interface Alert {
  id: number; ruleId: number; ruleCode: string; kind: string; workOrderId: number; workOrderNumber: string; stationId: number | null; key: string; message: string;
  evidence: Record<string, unknown>; actionsTaken: unknown[]; state: 'open' | 'acknowledged' | 'closed'; firedAt: string;
}
export interface FirstArticleClaim { stepSeq: number; unitId: number; serial: string; state: string; claimedAt: string; approval: Record<string, unknown> | null; stepName?: string }
export interface WorkOrderLite { id: number; number: string; state: string; productCode?: string; revision?: string; quantity: number; lineId: number | null }

export const HOLD_SCOPES = ['unit', 'units', 'panel', 'lot', 'work_order', 'product_revision', 'material_lot', 'package', 'station', 'station_window'] as const;
export type HoldScope = (typeof HOLD_SCOPES)[number];

/**
 * A signed request. A wrong password is a 401 (SIGNATURE_INVALID) from the server: it must not
 * be taken for an ended session, so the call is made without the session-ended handling.
 */
export function signedPost<T>(path: string, json: unknown): Promise<T> {
  return http.request<T>('POST', path, { json, quiet401: true });
}

export const qualityApi = {
  results: (q: Query = {}) => http.get<QResult[]>('/quality/results', q),
  result: (id: number) => http.get<QResult & { defects: Defect[] }>(`/quality/results/${id}`),
  defects: (q: Query = {}) => http.get<Defect[]>('/quality/defects', q),
  /** The calls to verify, oldest first, with the unit, station and time of their result. */
  reviewQueue: (signal?: AbortSignal) =>
    http.get<(Defect & { serial: string; stationId: number; stationCode: string; completedAt: string })[]>('/quality/defects', { verification: 'not_verified', order: 'oldest', limit: 500 }, signal),
  verify: (items: { defectId: number; verdict: 'confirmed' | 'false_call' | 'accepted' }[]) => http.post<Defect[]>('/quality/defects/verify', { items }),
  unit: (serial: string) => http.get<UnitQuality>(`/quality/units/${encodeURIComponent(serial)}`),
  dispose: (body: { serial: string; decision: Decision; reason: string; instructions?: string; ncrId?: number | null; verifyStepSeq?: number | null; signature?: SignatureInput }) =>
    (body.signature ? signedPost<Disposition>('/quality/dispositions', body) : http.post<Disposition>('/quality/dispositions', body)),
  dispositions: (q: Query = {}) => http.get<Disposition[]>('/quality/dispositions', q),
  ncrs: (q: Query = {}) => http.get<Ncr[]>('/quality/ncrs', q),
  ncr: (id: number) => http.get<NcrDetail>(`/quality/ncrs/${id}`),
  createNcr: (body: {
    title: string; subject: { kind: 'unit'; serial: string } | { kind: 'lot'; lot: string } | { kind: 'work_order'; workOrder: string } | { kind: 'material_lot'; materialLotId: number };
    description?: string; containment?: string; serials?: string[]; linkSubjectUnits?: boolean;
  }) => http.post<NcrDetail>('/quality/ncrs', body),
  updateNcr: (id: number, patch: Partial<Pick<Ncr, 'title' | 'description' | 'containment' | 'rootCause' | 'correctiveAction' | 'repairInstructions'>>) => http.patch<NcrDetail>(`/quality/ncrs/${id}`, patch),
  linkUnits: (id: number, serials: string[]) => http.post<NcrDetail>(`/quality/ncrs/${id}/units`, { serials }),
  closeNcr: (id: number, signature: SignatureInput) => signedPost<NcrDetail>(`/quality/ncrs/${id}/close`, { signature }),
  rework: (body: { serial: string; action: string; refdes?: string | null; newPackage?: string | null; removedPackage?: string | null; ncrId?: number | null; verifyStepSeq?: number | null; notes?: string }) =>
    http.post<Rework>('/quality/rework', body),
  holds: (q: Query = {}) => http.get<Hold[]>('/quality/holds', q),
  holdUnits: (id: number) => http.get<UnitRef[]>(`/quality/holds/${id}/units`),
  placeHold: (body: Record<string, unknown>) => http.post<Hold>('/quality/holds', body),
  releaseHold: (id: number, signature: SignatureInput) => signedPost<Hold>(`/quality/holds/${id}/release`, { signature }),
  holdReasons: () => http.get<{ code: string; description: string }[]>('/quality/hold-reasons'),
  alerts: (q: Query = {}) => http.get<Alert[]>('/quality/alerts', q),
  alertAction: (id: number, action: 'acknowledge' | 'close', note?: string) => http.post<Alert>(`/quality/alerts/${id}/${action}`, note ? { note } : {}),
  firstArticles: (workOrderId: number) => http.get<FirstArticleClaim[]>(`/quality/first-articles/${workOrderId}`),
  decideFirstArticle: (body: { serial: string; stepSeq?: number; decision: 'approved' | 'rejected'; notes?: string; signature: SignatureInput }) =>
    signedPost<{ id: number; decision: string; resultId: number }>('/quality/first-articles/decide', body),
  workOrders: (q: Query = {}) => http.get<WorkOrderLite[]>('/work-orders', q),
};

/** Roles of the quality routes (mirrors src/modules/quality/routes.ts). */
export const QUALITY_ROLES = {
  read: ['admin', 'planner', 'process-engineer', 'quality-engineer', 'operator', 'technician', 'viewer'],
  verify: ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer'],
  repair: ['admin', 'technician', 'quality-engineer'],
  hold: ['admin', 'quality-engineer', 'process-engineer', 'technician', 'operator'],
  inspect: ['admin', 'quality-engineer', 'technician'],
  alerts: ['admin', 'quality-engineer', 'process-engineer'],
  quality: ['admin', 'quality-engineer'],
  /** Who may sign (SIGNING_POLICY): admins may start the action but only these roles sign. */
  signer: ['quality-engineer'],
  faiSigner: ['quality-engineer', 'technician'],
} as const;
