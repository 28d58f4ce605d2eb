import { http, type Query } from '../../api.ts';

/** The materials module's endpoints (src/modules/materials/routes.ts) and their wire types. */

export interface Location { kind: string; place: string | null; lineId: number | null; lineCode: string | null; equipmentId: number | null; equipmentCode: string | null; slot: string | null }
export interface Msd {
  level: string; state: string; exposedMs: number | null; floorLifeMs: number | null; remainingMs: number | null; expiresAt: string | null; warn: boolean; blocksUse: boolean;
  error: { code: string; message: string } | null;
}
export interface Package {
  id: number; code: string; kind: string; quantity: number; initialQuantity: number; status: string; statusReason: string | null; lotId: number; partId: number; ipn: string;
  manufacturerPartId: number; manufacturer: string; mpn: string; lotCode: string | null; dateCode: string | null; supplier: string | null; lotExpiresAt: string | null;
  lotOnHold: boolean; lotHoldReason: string | null; rohs: boolean | null; location: Location; parentId: number | null; supplierSerial: string | null; receivedAt: string; createdBy: string;
  msd: Msd; paste: { minThawHours: number; maxOpenHours: number; thawStartedAt: string | null; openedAt: string | null } | null;
}
export interface Lot { id: number; ipn: string; manufacturer: string; mpn: string; lotCode: string | null; dateCode: string | null; supplier: string | null; countryOfOrigin: string | null; mslLevel: string | null; onHold: boolean }
export interface ReceiveResult { package: Package; lot: Lot; lotCreated: boolean; label: Record<string, unknown> | null }
export interface StockRow { partId: number; ipn: string; location: Omit<Location, 'slot'>; packages: number; usableQuantity: number; blockedQuantity: number }
export interface Warning { kind: string; packageId: number; packageCode: string; ipn: string; mpn: string; status: string; location: Location; at: string | null; remainingMs: number | null; message: string }
export interface Bake { id: number; oven: string; temperatureC: number; durationMinutes: number; startedAt: string; finishedAt: string; notes: string; actorName: string }
export interface Stencil {
  id: number; code: string; productRevisionId: number; thicknessUm: number | null; usageCount: number; cleaningInterval: number; usageAtLastCleaning: number; usageSinceCleaning: number;
  lastCleanedAt: string | null; maxUsage: number | null; status: string; notes: string; createdAt: string;
}
export interface Check { ok: boolean; at: string; problems: { code: string; message: string }[] }

export interface ReceiveScanBody { scan: string; ipn?: string; location?: { kind: 'store'; place?: string }; quarantine?: boolean; supplier?: string }

export const PACKAGE_STATUSES = ['available', 'in-use', 'blocked', 'quarantined', 'empty', 'scrapped'] as const;

export const materialsApi = {
  receiveScan: (body: ReceiveScanBody) => http.post<ReceiveResult>('/packages/receive-scan', body),
  /** What receiving the scan would do, without receiving it (the package ID shown is not reserved). */
  previewScan: (body: ReceiveScanBody) => http.post<ReceiveResult>('/packages/receive-scan/preview', body),
  packages: (q: Query = {}, signal?: AbortSignal) => http.get<Package[]>('/packages', q, signal),
  package: (id: number) => http.get<Package>(`/packages/${id}`),
  stock: (q: Query = {}, signal?: AbortSignal) => http.get<StockRow[]>('/stock', q, signal),
  warnings: (withinHours?: number) => http.get<Warning[]>('/material-warnings', withinHours === undefined ? {} : { withinHours }),
  msdEvent: (id: number, type: string, note?: string) => http.post<Package>(`/packages/${id}/msd-events`, { type, ...(note ? { note } : {}) }),
  bake: (body: { packageIds: number[]; oven: string; temperatureC: number; durationMinutes: number; notes?: string }) => http.post<{ bake: Bake; packages: Package[] }>('/bakes', body),
  bakeRecord: (id: number) => http.get<Bake>(`/bakes/${id}`),
  thaw: (id: number) => http.post<Package>(`/packages/${id}/paste/thaw`, {}),
  openPaste: (id: number) => http.post<Package>(`/packages/${id}/paste/open`, {}),
  pasteCheck: (id: number) => http.get<Check>(`/packages/${id}/paste/check`),
  stencils: (q: Query = {}) => http.get<Stencil[]>('/stencils', q),
  stencilCheck: (id: number) => http.get<Check>(`/stencils/${id}/check`),
  cleanStencil: (id: number) => http.post<Stencil>(`/stencils/${id}/clean`, {}),
};

/** Roles of the materials routes (mirrors src/modules/materials/routes.ts). */
export const MATERIALS_ROLES = {
  read: ['admin', 'planner', 'process-engineer', 'quality-engineer', 'operator', 'technician', 'viewer'],
  stores: ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer'],
  floor: ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer'],
} as const;

export function locationText(l: Location | Omit<Location, 'slot'>): string {
  if (l.kind === 'store') return `store${l.place ? ` ${l.place}` : ''}`;
  if (l.kind === 'line') return `line ${l.lineCode ?? l.lineId ?? ''}`;
  return `${l.equipmentCode ?? `machine ${l.equipmentId}`}${'slot' in l && l.slot ? ` slot ${l.slot}` : ''}`;
}
