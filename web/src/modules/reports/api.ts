import { http, type Query } from '../../api.ts';

/** The reports module's endpoints (src/modules/reports/routes.ts). */

export interface FpyPoint { day: string; units: number; firstPass: number; fpy: number | null }
export interface FpyReport {
  from: string; to: string; timezone: string; groupBy: string; method: string | null; days: string[];
  series: { key: string; label: string; units: number; firstPass: number; fpy: number | null; points: FpyPoint[] }[];
  total: { units: number; firstPass: number; fpy: number | null };
}
export interface ParetoItem { key: string; label: string; value: number; count: number; percent: number; cumulativePercent: number }
export interface Pareto { from: string; to: string; by: string; total: number; items: ParetoItem[]; stations?: number }
export interface StationOee {
  stationId: number; code: string; name: string; type: string; lineCode: string | null; availability: number | null; performance: number | null; quality: number | null; oee: number | null;
  plannedSeconds: number; runSeconds: number; totalCount: number; goodCount: number;
}

export const reportsApi = {
  fpy: (q: Query) => http.get<FpyReport>('/reports/fpy', q),
  defectPareto: (q: Query) => http.get<Pareto>('/reports/defect-pareto', q),
  oee: (q: Query) => http.get<{ from: string; to: string; stations: StationOee[] }>('/reports/oee', q),
  downtimePareto: (q: Query) => http.get<Pareto>('/reports/downtime-pareto', q),
};

/** Roles of the reports routes (people; integrations read them over the API). */
export const REPORT_ROLES = ['admin', 'planner', 'process-engineer', 'quality-engineer', 'operator', 'technician', 'viewer'] as const;
