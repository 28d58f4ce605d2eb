import type { WebModule } from '../../app/registry.ts';
import { R } from '../../roles.ts';
import { WorkOrderPage } from './WorkOrderPage.tsx';
import { WorkOrdersPage } from './WorkOrdersPage.tsx';
import './production.css';

/** Production planning on the floor: work orders, their state, progress and build basis. */
export const productionModule: WebModule = {
  id: 'production',
  screens: [
    {
      path: '/work-orders', title: 'Work orders', roles: R.people, component: WorkOrdersPage,
      nav: { section: 'production', label: 'Work orders', order: 10, description: 'Create, release, hold; progress and build basis' },
    },
    { path: '/work-orders/:id/:tab?', title: 'Work order', roles: R.people, component: WorkOrderPage, menu: '/work-orders' },
  ],
};
