import type { WebModule } from '../../app/registry.ts';
import { R } from '../../roles.ts';
import { DashboardPage } from './DashboardPage.tsx';

/** The live line dashboard (pushed by the server over server-sent events). */
export const dashboardModule: WebModule = {
  id: 'dashboard',
  screens: [
    {
      path: '/dashboard/:lineId?', title: 'Line dashboard', roles: R.people, component: DashboardPage,
      nav: { section: 'floor', label: 'Line dashboard', order: 5, description: 'Live: stations, WIP, yield, OEE, alerts', to: '/dashboard' },
    },
  ],
};
