/**
 * Shipping: the public face. Cartons (capacity, label as ZPL / PDF), packing by scan with every
 * refusal named and recorded, shipments, the set-based clearance check and the signed release.
 */
export { createShippingService, PACK_REFUSALS, SHIPMENT_BLOCKERS, type ShippingService, type Carton, type Shipment, type Clearance, type Blocker, type PackRefusal, type PackRefusalCode } from './service.ts';
export { registerShippingRoutes } from './routes.ts';
export { cartonLabelZpl, cartonLabelPdf, type CartonLabelData } from './labels.ts';
