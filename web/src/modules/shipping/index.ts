import type { WebModule } from '../../app/registry.ts';
import { SHIPPING_ROLES } from './api.ts';
import { PackPage } from './PackPage.tsx';
import { ShipmentPage, ShipmentsPage } from './ShipmentsPage.tsx';

/** Shipping: pack by scanning, carton labels, shipments with clearance and signed release. */
export const shippingModule: WebModule = {
  id: 'shipping',
  screens: [
    { path: '/shipping/pack/:id?', title: 'Packing', roles: SHIPPING_ROLES.read, component: PackPage, nav: { section: 'shipping', label: 'Packing', order: 10, description: 'Scan units into cartons', to: '/shipping/pack' } },
    { path: '/shipping/shipments', title: 'Shipments', roles: SHIPPING_ROLES.read, component: ShipmentsPage, nav: { section: 'shipping', label: 'Shipments', order: 20, description: 'Clearance and signed release' } },
    { path: '/shipping/shipments/:id', title: 'Shipment', roles: SHIPPING_ROLES.read, component: ShipmentPage, menu: '/shipping/shipments' },
  ],
};
