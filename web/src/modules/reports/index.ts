import type { WebModule } from '../../app/registry.ts';
import { REPORT_ROLES } from './api.ts';
import { DefectParetoPage, DowntimePage, FpyReportPage, OeePage } from './ReportsPages.tsx';

/** Reports (charts): first-pass yield trend, defect Pareto, OEE by station, downtime Pareto. */
export const reportsModule: WebModule = {
  id: 'reports',
  screens: [
    { path: '/reports/fpy', title: 'First-pass yield', roles: REPORT_ROLES, component: FpyReportPage, nav: { section: 'reports', label: 'First-pass yield', order: 10, description: 'Trend per day, product, line' } },
    { path: '/reports/defects', title: 'Defect Pareto', roles: REPORT_ROLES, component: DefectParetoPage, nav: { section: 'reports', label: 'Defect Pareto', order: 20, description: 'By code and by refdes' } },
    { path: '/reports/oee', title: 'OEE by station', roles: REPORT_ROLES, component: OeePage, nav: { section: 'reports', label: 'OEE by station', order: 30, description: 'Availability, performance, quality' } },
    { path: '/reports/downtime', title: 'Downtime Pareto', roles: REPORT_ROLES, component: DowntimePage, nav: { section: 'reports', label: 'Downtime Pareto', order: 40, description: 'By fault and by state' } },
  ],
};
