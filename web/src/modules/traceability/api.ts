import { http } from '../../api.ts';
import { R, type Roles } from '../../roles.ts';

/** The traceability endpoints (src/modules/traceability/routes.ts) and their wire types. */

export const TRACE_ROLES: { read: Roles; hold: Roles } = {
  read: [...R.people, 'integration'],
  hold: R.quality,
};

export const UNIT_STATES = ['wip', 'finished', 'packed', 'shipped', 'scrapped', 'on_hold'] as const;
export type UnitState = (typeof UNIT_STATES)[number];
export const STATE_LABEL: Record<UnitState, string> = { wip: 'In WIP', finished: 'Finished', packed: 'Packed', shipped: 'Shipped', scrapped: 'Scrapped', on_hold: 'On hold' };

export interface LookupMatch { kind: 'unit' | 'panel' | 'lot' | 'package' | 'material_lot' | 'mpn'; key: string; id: number | null; label: string }

type Row = Record<string, unknown>;
export interface Passage {
  id: number; visit: number; stepSeq: number; stepName: string; stationCode: string; stationType: string; equipmentCode: string | null; programName: string | null;
  programRevision: string | null; operator: string | null; actor: string; result: string; outcome: string; repairLoop: number | null; startedAt: string | null; completedAt: string;
}
export interface Candidate {
  packageId: number; packageCode: string; lotCode: string | null; mpn: string; manufacturer: string; dateCode: string | null; equipmentCode: string | null; slot: string | null;
  from: string | null; to: string | null; mslFloorLifeRemainingMinutesAtPlacement: number | null; state: 'placed' | 'removed' | 'rework'; reworkActionId: number | null;
}
export interface RefdesRow { refdes: string; ipn: string | null; source: string; candidates: Candidate[] }
export interface Defect { id: number; code: string; category: string | null; refdes: string | null; imageRef: string | null; verification: string; description: string | null }
export interface TraceResult {
  id: number; kind: string; method: string; stationCode: string; programName: string | null; programRevision: string | null; operator: string | null; result: string;
  verifiedResult: string | null; retest: boolean; completedAt: string; defects: Defect[]; falseCalls: number; measurements: Row[];
}
export interface TraceRework {
  id: number; action: string; refdes: string | null; operator: string | null; performedAt: string; verified: boolean; stationCode: string | null;
  removedPackage: { packageCode: string } | null; newPackage: { packageCode: string; lotCode: string | null; dateCode: string | null } | null;
}
export interface TraceHold { id: number; number: string; scope: string; reasonCode: string; reason: string; placedAt: string; placedBy: string; releasedAt: string | null; releasedBy: string | null; active: boolean }
export interface Genealogy {
  unit: { id: number; serial: string; status: string; state: UnitState; createdAt: string };
  panel: { code: string; position: number } | null;
  lot: { code: string } | null;
  workOrder: { number: string; customer: string; customerPo: string; productCode: string; revision: string; state: string };
  buildBasis: { id: number; version: number; hash: string; programs: { name: string; revision: string; stationType: string }[] } | null;
  process: Passage[];
  refusals: { id: number; at: string; phase: string; stationCode: string | null; codes: string[]; messages: string[] | null }[];
  materials: RefdesRow[];
  consumables: { visit: number; kind: 'paste' | 'stencil'; packageCode: string | null; lotCode: string | null; stencilCode: string | null; equipmentCode: string }[];
  results: TraceResult[];
  dispositions: { id: number; decision: string; reason: string; createdAt: string; createdBy: string; verified: boolean | null; signature: { name: string; meaning: string; signedAt: string } | null }[];
  ncrs: { id: number; number: string; title: string; state: string; createdAt: string }[];
  rework: TraceRework[];
  holds: TraceHold[];
  carton: { code: string; state: string; packedAt: string } | null;
  shipment: { number: string; customer: string; state: string; releasedAt: string | null } | null;
}
export interface UnitSummary { unitId: number; serial: string; status: string; state: UnitState; panel: string | null; position: number | null; lastPassageAt: string | null; failedResults: number; reworkActions: number; carton: string | null; shipment: string | null }
export interface PanelGenealogy { panel: { code: string; positions: number; workOrder: { number: string; customer: string }; lot: { code: string } | null }; units: UnitSummary[] }
export interface LotGenealogy { lot: { code: string; units: number; panels: number; workOrder: { number: string; customer: string; productCode: string; revision: string } }; units: UnitSummary[]; nextAfterId: number | null }

export type TraceQuery =
  | { kind: 'material_lot'; materialLotId: number }
  | { kind: 'package' | 'paste_jar'; package: string | number }
  | { kind: 'mpn'; mpn: string; dateCodeFrom?: string; dateCodeTo?: string }
  | { kind: 'stencil'; stencil: string | number }
  | { kind: 'program'; program: string; revision?: string; equipment?: string }
  | { kind: 'operator'; operator: string; from?: string; to?: string }
  | { kind: 'station_window'; station: string; from: string; to: string };

export interface Impact {
  total: number; byState: Record<UnitState, number>;
  byWorkOrder: { workOrderId: number; number: string; customer: string; customerPo: string; units: number }[];
  byCustomer: { customer: string; units: number; shipped: number }[];
  cartons: { code: string; state: string; units: number }[];
  shipments: { number: string; customer: string; state: string; units: number }[];
  units?: { unitId: number; serial: string; status: string; state: UnitState; workOrderNumber: string; customer: string; carton: string | null; shipment: string | null; via: string | null }[];
  nextAfterId?: number | null;
}
export interface PlacedHold { id: number; number: string; scope: string; units: number; reasonCode: string; reason: string; placedAt: string; placedBy: string }

const enc = encodeURIComponent;
export const traceApi = {
  lookup: (q: string) => http.get<LookupMatch[]>('/trace/lookup', { q }),
  unit: (serial: string) => http.get<Genealogy>(`/trace/units/${enc(serial)}`),
  panel: (code: string) => http.get<PanelGenealogy>(`/trace/panels/${enc(code)}`),
  lot: (code: string, afterId?: number) => http.get<LotGenealogy>(`/trace/lots/${enc(code)}`, { limit: 500, afterId }),
  whereUsed: (query: TraceQuery, page: { afterId?: number; limit?: number } = {}) => http.post<Impact>('/trace/where-used', { query, ...page }),
  holdAll: (query: TraceQuery, reasonCode: string, reason: string) => http.post<PlacedHold>('/trace/where-used/hold', { query, reasonCode, reason }),
  holdReasons: () => http.get<{ code: string; description: string }[]>('/quality/hold-reasons'),
};
