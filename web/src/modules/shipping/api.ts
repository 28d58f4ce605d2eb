import { http, type Query } from '../../api.ts';
import type { SignatureInput } from '../../components/SignatureDialog.tsx';
import { signedPost } from '../quality/api.ts';

/** The shipping module's endpoints (src/modules/shipping/routes.ts) and their wire types. */

export interface Carton {
  id: number; code: string; workOrderId: number; workOrderNumber: string; productRevisionId: number; productCode: string; revision: string; capacity: number; packed: number;
  productionLotId: number | null; stationId: number | null; state: 'open' | 'closed' | 'shipped'; shipmentId: number | null; shipmentNumber: string | null;
  createdAt: string; createdBy: string; closedAt: string | null; closedBy: string | null;
}
export interface CartonUnit { serial: string; packedAt?: string; packedBy?: string; lotCode?: string | null; [k: string]: unknown }
export interface Refusal { code: string; message: string }
export interface Shipment {
  id: number; number: string; customer: string; customerPo: string; shipTo: string; state: 'open' | 'released' | 'cancelled'; notes: string; cartons: number; units: number;
  createdAt: string; createdBy: string; releasedAt: string | null; releasedBy: string | null; releaseSignatureId: number | null;
}
export interface ClearanceBlocker { code: string; message: string; unitId?: number; serial?: string; carton?: string }
export interface Clearance {
  shipmentId: number; number: string; clear: boolean; cartons: number; units: number; blockers: ClearanceBlocker[]; total: number; counts: Record<string, number>; checkedAt: string; elapsedMs: number;
}

export const shippingApi = {
  cartons: (q: Query = {}) => http.get<Carton[]>('/shipping/cartons', q),
  carton: (id: number) => http.get<Carton & { units: CartonUnit[] }>(`/shipping/cartons/${id}`),
  /** A carton by the code on its label (404 NOT_FOUND when there is none). */
  cartonByCode: (code: string) => http.get<Carton & { units: CartonUnit[] }>(`/shipping/cartons/by-code/${encodeURIComponent(code)}`),
  createCarton: (body: { workOrder: string | number; capacity: number; code?: string; stationId?: number | null }) => http.post<Carton>('/shipping/cartons', body),
  pack: (id: number, identifier: string, stationId?: number | null) => http.post<{ carton: Carton; serial: string; unitId: number }>(`/shipping/cartons/${id}/pack`, { identifier, ...(stationId ? { stationId } : {}) }),
  unpack: (id: number, serial: string, reason: string) => http.post<Carton>(`/shipping/cartons/${id}/unpack`, { serial, reason }),
  close: (id: number) => http.post<Carton>(`/shipping/cartons/${id}/close`),
  shipments: (q: Query = {}) => http.get<Shipment[]>('/shipping/shipments', q),
  shipment: (id: number) => http.get<Shipment>(`/shipping/shipments/${id}`),
  createShipment: (body: { customer: string; customerPo?: string; shipTo?: string; notes?: string; number?: string }) => http.post<Shipment>('/shipping/shipments', body),
  addCartons: (id: number, cartons: (string | number)[]) => http.post<Shipment>(`/shipping/shipments/${id}/cartons`, { cartons }),
  removeCartons: (id: number, cartons: (string | number)[]) => http.post<Shipment>(`/shipping/shipments/${id}/cartons/remove`, { cartons }),
  clearance: (id: number) => http.get<Clearance>(`/shipping/shipments/${id}/clearance`, { limit: 1000 }),
  release: (id: number, signature: SignatureInput) => signedPost<Shipment>(`/shipping/shipments/${id}/release`, { signature }),
};

/** Roles of the shipping routes (mirrors src/modules/shipping/routes.ts). */
export const SHIPPING_ROLES = {
  read: ['admin', 'planner', 'process-engineer', 'quality-engineer', 'operator', 'technician', 'viewer'],
  pack: ['admin', 'operator', 'technician', 'quality-engineer', 'planner'],
  ship: ['admin', 'planner', 'quality-engineer'],
  release: ['admin', 'quality-engineer'],
} as const;
