/** Work-order endpoints (src/modules/work-orders routes) and work-order WIP (tracking). */
import { http, type FieldError } from '../../api.ts';
import type { StoredBasis } from '../floor/api.ts';

/** The states in which a work order runs (or may run again) on the line. */
export const ACTIVE_WORK_ORDER_STATES = 'released,in_progress,on_hold';
export const WORK_ORDER_STATES = ['planned', 'released', 'in_progress', 'on_hold', 'completed', 'closed', 'cancelled'] as const;
export type WorkOrderState = (typeof WORK_ORDER_STATES)[number];
export type WorkOrderAction = 'release' | 'start' | 'hold' | 'resume' | 'complete' | 'close' | 'cancel';

export interface WorkOrder {
  id: number; number: string; customer: string; customerPo: string; productRevisionId: number; productCode: string; revision: string;
  quantity: number; overrunUnits: number; overrunPercent: number; maxUnits: number; dueDate: string | null; lineId: number | null; lineCode: string | null;
  state: WorkOrderState; holdReturnState: WorkOrderState | null; serialPattern: string | null; unitsCreated: number; serialSeq: number;
  basisId: number | null; basisHash: string | null; notes: string; source: string; createdAt: string; createdBy: string;
  releasedAt: string | null; releasedBy: string | null; completedAt: string | null; closedAt: string | null; activeOnLine: boolean; actions: WorkOrderAction[];
}
export interface WorkOrderInput {
  number: string; productRevisionId: number; quantity: number; customer?: string; customerPo?: string; dueDate?: string | null; lineId?: number | null;
  overrunUnits?: number; overrunPercent?: number; serialPattern?: string | null; notes?: string;
}
export interface Progress { quantity: number; maxUnits: number; created: number; skipped: number; started: number; queued: number; inProcess: number; passed: number; failed: number; scrapped: number; onHold: number; remaining: number }
export interface WorkOrderWip {
  workOrder: { id: number; number: string; state: string; productCode: string; revision: string; lineCode: string | null };
  progress: Progress;
  steps: { seq: number; name: string; stationType: string; isRepair: boolean; queued: number; inProcess: number; failed: number; onHold: number }[];
}

export const workOrdersApi = {
  list: (q: { state?: string; states?: string; lineId?: number; q?: string; dueBy?: string; limit?: number } = {}, signal?: AbortSignal) => http.get<WorkOrder[]>('/work-orders', q, signal),
  get: (id: number) => http.get<WorkOrder>(`/work-orders/${id}`),
  create: (body: WorkOrderInput) => http.post<WorkOrder>('/work-orders', body),
  update: (id: number, patch: Partial<Omit<WorkOrderInput, 'number'>>) => http.patch<WorkOrder>(`/work-orders/${id}`, patch),
  transition: (id: number, action: WorkOrderAction, reason?: string) => http.post<WorkOrder>(`/work-orders/${id}/transition`, { action, ...(reason ? { reason } : {}) }),
  activate: (id: number) => http.post<WorkOrder>(`/work-orders/${id}/activate`),
  releaseCheck: (id: number) => http.get<{ releasable: boolean; blockers: FieldError[] }>(`/work-orders/${id}/release-check`),
  basis: (id: number) => http.get<StoredBasis>(`/work-orders/${id}/basis`),
  bases: (id: number) => http.get<StoredBasis[]>(`/work-orders/${id}/bases`),
  wip: (id: number) => http.get<WorkOrderWip>(`/wip/work-orders/${id}`),
};

/** Roles of the work-order write routes (mirrors R.planning on the server). */
export const PLANNING_ROLES = ['admin', 'planner', 'integration'] as const;
/** Who may make a work order the one its line runs. */
export const ACTIVATE_ROLES = ['admin', 'planner', 'process-engineer', 'operator', 'technician'] as const;
