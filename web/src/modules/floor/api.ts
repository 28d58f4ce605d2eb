/**
 * Endpoints the shop-floor screens use: the interlock (tracking), quality results and the defect
 * catalogue, the frozen build basis of a work order, feeder loading verification and printer
 * consumables (materials), machine status (equipment) and the active recipe (live).
 */
import { http, apiUrl, type RouteStep } from '../../api.ts';

export interface Refusal { code: string; number: number; message: string }
export interface UnitVerdict {
  unitId: number | null; serial: string; position: number | null; result: 'passed' | 'failed' | 'skipped';
  step: { seq: number; name: string } | null; refusals: Refusal[];
}
export interface InterlockVerdict {
  phase: string; go: boolean; result: 'passed' | 'partial' | 'failed'; identifier: string; kind: 'unit' | 'panel' | 'unknown';
  station: { id: number; code: string; type: string }; workOrder: { id: number; number: string } | null; primary: Refusal | null; units: UnitVerdict[];
}
export interface CompleteRecord {
  unitId: number; serial: string; position: number | null; recordId: number; visit: number; stepSeq: number; result: string; outcome: string; status: string;
  nextStepSeq: number | null; onHold: boolean;
}
export type CompleteVerdict = InterlockVerdict & { records: CompleteRecord[] };

export interface SignoffSignature { username?: string; password: string; reason: string }
export interface CompletionBody {
  station: string; identifier: string; result: 'pass' | 'fail'; defects?: DefectInput[];
  positions?: { position: number; result: 'pass' | 'fail'; defects?: DefectInput[] }[];
  signoff?: { stepSeq: number; checks: string[]; signature: SignoffSignature };
}
export interface CompletionOutcome {
  passage: CompleteVerdict;
  results: { id: number; serial: string; method: string; result: string }[];
  alerts: { message: string }[];
  signature: { id: number; signerUsername: string; signerName: string; meaning: string; reason: string; signedAt: string } | null;
}
export interface DefectCode { id: number; code: string; category: string; description: string; active: boolean }
export interface DefectInput { code: string; refdes?: string | null; description?: string | null }

export interface BasisProgram {
  id: number; name: string; revision: string; kind: string; stationType: string; stationId: number | null; equipmentId: number | null; state: string;
  checksum: string; slots: { slot: string; partId: number; ipn: string; refdes: string[] }[];
}
export interface BuildBasis {
  format: number;
  productRevision: { id: number; productId: number; productCode: string; productName: string; revision: string; bomRevision: string; gerberRevision: string; assemblyDrawingRevision: string; centroidRevision: string; releasedAt: string | null; releasedBy: string | null };
  files: { kind: string; fileId: number; filename: string; sha256: string; size: number }[];
  bom: { lineNo: number; ipn: string; description: string; quantity: number; refdes: string[]; doNotPlace: boolean; placed: boolean }[];
  avl: { ipn: string; manufacturer: string; mpn: string; alternate: boolean; permitted: boolean }[];
  route: { name: string; steps: Omit<RouteStep, 'id'>[] };
  programs: BasisProgram[];
  qualityPlan: { requiredSteps: string[]; traceDepth: string; materialLevel: string; acceptanceClass: number } | null;
}
export interface StoredBasis { id: number; workOrderId: number; version: number; hash: string; reason: string | null; createdAt: string; createdBy: string; basis?: BuildBasis }

export interface LoadReason { code: string; failureCode: number; message: string }
export interface SlotPackage { setupId: number; packageId: number; packageCode: string; feederId: string | null; mpn: string; lotCode: string | null; loadedAt: string; ok: boolean; reasons: LoadReason[] }
export interface SetupStatus {
  equipmentId: number; programId: number; at: string; complete: boolean; problems: LoadReason[];
  slots: { slot: string; partId: number; ipn: string; state: 'verified' | 'missing' | 'wrong' | string; feeding: SlotPackage | null; spliced: SlotPackage | null }[];
  counts: { verified: number; missing: number; wrong: number };
}
export interface LoadVerdict { accepted: boolean; attemptId: number; message: string; reason: LoadReason | null; reasons: LoadReason[]; alreadyLoaded: boolean }
export interface MountCheck { mount: { id: number; kind: string; packageCode: string | null; stencilCode: string | null; mountedAt: string; mountedBy: string }; ok: boolean; problems: { code: string; message: string }[] }
export interface PrinterSetup { equipmentId: number; at: string; paste: MountCheck | null; stencil: MountCheck | null }
export interface MachineStatus {
  equipmentId: number; equipmentCode: string; cfxHandle: string | null; online: boolean | null; lastSeenAt: string | null; stateCode: number | null; e10: string | null;
  stateSince: string | null; activeFaults: number; recipeName: string | null;
}
export interface ActiveRecipe { equipmentId: number; recipeName: string | null; revision: string | null; activatedAt: string | null }
export interface LineWip {
  line: { id: number; code: string; name: string };
  activeWorkOrder: { id: number; number: string } | null;
  stations: { id: number; code: string; name: string; type: string; inProcess: number; inProcessSerials: string[]; waiting: number }[];
  workOrders: { id: number; number: string; state: string; active: boolean }[];
}

/** The checks of a step the operator ticks, and the ones that are signed (password re-entered) when the step completes. */
export const tickChecks = (step: { checks: RouteStep['checks'] } | null) => (step?.checks ?? []).filter((c) => !c.signoff);
export const signoffChecks = (step: { checks: RouteStep['checks'] } | null) => (step?.checks ?? []).filter((c) => c.signoff === true);

export const floorApi = {
  validate: (station: string, identifier: string) => http.post<InterlockVerdict>('/tracking/validate', { station, identifier }),
  start: (station: string, identifier: string) => http.post<InterlockVerdict>('/tracking/start', { station, identifier }),
  /** The passage with its inspection result, defects and the step's signed sign-off, in one transaction (quality). */
  completeWithResults: (body: CompletionBody) =>
    // A signed completion's 401 is a refused signature (SIGNATURE_INVALID), not an ended session.
    http.request<CompletionOutcome>('POST', '/quality/completions', { json: body, ...(body.signoff ? { quiet401: true } : {}) }),
  defectCodes: () => http.get<DefectCode[]>('/quality/defect-codes'),
  basis: (workOrderId: number, signal?: AbortSignal) => http.get<StoredBasis>(`/work-orders/${workOrderId}/basis`, undefined, signal),
  lineWip: (lineId: number, signal?: AbortSignal) => http.get<LineWip>(`/wip/lines/${lineId}`, undefined, signal),
  setupStatus: (q: { equipmentId: number; programId: number; workOrderId?: number }, signal?: AbortSignal) => http.get<SetupStatus>('/feeder-setups/status', q, signal),
  load: (body: { equipmentId: number; slot: string; feederId?: string | null; packageCode: string; programId: number; workOrderId?: number | null }) =>
    http.post<LoadVerdict>('/feeder-setups/load', body),
  printerSetup: (equipmentId: number, productRevisionId?: number) => http.get<PrinterSetup>(`/printer-setups/${equipmentId}`, { productRevisionId }),
  stationStatus: (stationId: number) => http.get<MachineStatus[]>(`/stations/${stationId}/status`),
  activeRecipe: (equipmentId: number) => http.get<ActiveRecipe>(`/live/equipment/${equipmentId}/recipe`),
  fileUrl: (id: number) => apiUrl(`/files/${id}`),
};

const STATION_KEY = 'mes.operator.station';
/** The station this screen works for, remembered on the device (a station PC stays a station). */
export const rememberedStation = {
  get: (): string | null => {
    try {
      return localStorage.getItem(STATION_KEY);
    } catch {
      return null;
    }
  },
  set: (code: string | null) => {
    try {
      if (code) localStorage.setItem(STATION_KEY, code);
      else localStorage.removeItem(STATION_KEY);
    } catch {
      /* private mode: not remembered */
    }
  },
};
