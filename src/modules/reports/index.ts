/**
 * Reports: read-only aggregations (first-pass yield, defect and downtime Pareto, OEE by station,
 * bake records). Other modules import only this file.
 */
export { createReportsService, reportRange, type ReportsService, type FpyReport, type Pareto, type StationOee, type BakeRow } from './service.ts';
export { registerReportsRoutes } from './routes.ts';
