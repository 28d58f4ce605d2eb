import type { WebModule } from '../../app/registry.ts';
import { TRACE_ROLES } from './api.ts';
import { LotPage, PanelPage } from './GroupPages.tsx';
import { TraceSearchPage } from './TraceSearchPage.tsx';
import { UnitPage } from './UnitPage.tsx';
import { WhereUsedPage } from './WhereUsedPage.tsx';

/** Traceability: search → genealogy of a unit, panel or lot; where-used and recall impact with containment. */
export const traceabilityModule: WebModule = {
  id: 'traceability',
  screens: [
    { path: '/trace', title: 'Trace', roles: TRACE_ROLES.read, component: TraceSearchPage, nav: { section: 'traceability', label: 'Trace', order: 10, description: 'Genealogy of a unit, panel or lot' } },
    { path: '/trace/units/:serial', title: 'Unit genealogy', roles: TRACE_ROLES.read, component: UnitPage, menu: '/trace' },
    { path: '/trace/panels/:code', title: 'Panel genealogy', roles: TRACE_ROLES.read, component: PanelPage, menu: '/trace' },
    { path: '/trace/lots/:code', title: 'Lot genealogy', roles: TRACE_ROLES.read, component: LotPage, menu: '/trace' },
    { path: '/where-used', title: 'Where-used', roles: TRACE_ROLES.read, component: WhereUsedPage, nav: { section: 'traceability', label: 'Where-used and recall', order: 20, description: 'Affected units, impact by state, hold all' } },
  ],
};
