import type { Db } from '../../platform/db.ts';
import { validationFailed } from '../../platform/errors.ts';
import type { EquipmentService } from '../equipment/index.ts';

/**
 * Reports: read-only aggregations over what the other modules recorded. Nothing here writes.
 *
 * - First-pass yield per local day (and per product or line): a unit counts on the day of its
 *   first inspection / test result in the range; it passed first time when the first result of
 *   every method it went through passed. The verified result counts (a failure whose every call
 *   was a false call is a pass); `skipped` results are ignored. Results after `to` are not seen.
 * - Defect Pareto by code or by reference designator: defects of results completed in the range,
 *   false calls left out unless asked for.
 * - OEE by station: the equipment module's OEE over the whole range (its `total` bucket).
 * - Downtime Pareto by fault code or by machine state: the equipment module's downtime summed
 *   over the stations.
 * - Bakes: the bake records of the last days with their packages.
 */

export interface Range { from: Date; to: Date }
export interface RangeInput { from?: string | Date; to?: string | Date }

const DAY_MS = 86_400_000;

export function reportRange(input: RangeInput, defaultDays = 14): Range {
  const to = input.to ? new Date(input.to) : new Date();
  const from = input.from ? new Date(input.from) : new Date(to.getTime() - defaultDays * DAY_MS);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
    throw validationFailed([{ field: '/querystring/from', code: 'range', message: 'from must be before to' }]);
  }
  if (to.getTime() - from.getTime() > 400 * DAY_MS) throw validationFailed([{ field: '/querystring/to', code: 'range', message: 'at most 400 days at once' }]);
  return { from, to };
}

function timeZone(tz: string | undefined): string {
  const zone = tz ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw validationFailed([{ field: '/querystring/timezone', code: 'format', message: `unknown time zone ${zone}` }]);
  }
  return zone;
}

export interface FpyPoint { day: string; units: number; firstPass: number; fpy: number | null }
export interface FpySeries { key: string; label: string; units: number; firstPass: number; fpy: number | null; points: FpyPoint[] }
export interface FpyReport { from: Date; to: Date; timezone: string; groupBy: 'none' | 'product' | 'line'; method: string | null; days: string[]; series: FpySeries[]; total: { units: number; firstPass: number; fpy: number | null } }

export interface ParetoItem { key: string; label: string; value: number; count: number; percent: number; cumulativePercent: number }
export interface Pareto { from: Date; to: Date; by: string; total: number; items: ParetoItem[] }

export interface StationOee {
  stationId: number; code: string; name: string; type: string; lineCode: string | null;
  availability: number | null; performance: number | null; quality: number | null; oee: number | null;
  plannedSeconds: number; runSeconds: number; totalCount: number; goodCount: number;
}

export interface BakeRow { id: number; oven: string; temperatureC: number; durationMinutes: number; startedAt: Date; finishedAt: Date; notes: string; actorName: string; packages: string[] }

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** Sorted largest first, with each item's share and the running share (Pareto). */
function pareto(rows: { key: string; label: string; value: number; count: number }[]): { total: number; items: ParetoItem[] } {
  const sorted = rows.filter((r) => r.value > 0).sort((a, b) => b.value - a.value || a.key.localeCompare(b.key));
  const total = sorted.reduce((n, r) => n + r.value, 0);
  let cum = 0;
  return {
    total,
    items: sorted.map((r) => {
      cum += r.value;
      return { ...r, percent: total ? (r.value / total) * 100 : 0, cumulativePercent: total ? (cum / total) * 100 : 0 };
    }),
  };
}

export function createReportsService(db: Db, deps: { equipment: EquipmentService }) {
  async function fpy(input: RangeInput & { timezone?: string; groupBy?: 'none' | 'product' | 'line'; method?: string; productId?: number; lineId?: number }): Promise<FpyReport> {
    const { from, to } = reportRange(input);
    const tz = timeZone(input.timezone);
    const groupBy = input.groupBy ?? 'none';
    const key = groupBy === 'product' ? `p.code` : groupBy === 'line' ? `COALESCE(l.code, '(no line)')` : `'all'`;
    const label = groupBy === 'product' ? `p.code || ' ' || p.name` : groupBy === 'line' ? `COALESCE(l.code || ' ' || l.name, '(no line)')` : `CASE WHEN $5::bigint IS NULL THEN 'All products' ELSE p.code || ' ' || p.name END`;
    const rows = (
      await db.query<{ day: string; key: string; label: string; units: number; first_pass: number }>(
        `WITH touched AS (
           SELECT DISTINCT unit_id FROM quality_results WHERE completed_at >= $1 AND completed_at < $2
         ), firsts AS (
           SELECT DISTINCT ON (r.unit_id, r.method) r.unit_id, r.method, r.station_id, r.completed_at, COALESCE(r.verified_result, r.result) AS eff
             FROM quality_results r JOIN touched t ON t.unit_id = r.unit_id
            WHERE r.completed_at < $2 AND r.result <> 'skipped' AND ($4::text IS NULL OR r.method = $4)
            ORDER BY r.unit_id, r.method, r.completed_at, r.id
         ), unit_first AS (
           SELECT unit_id, min(completed_at) AS first_at, bool_and(eff = 'pass') AS first_pass,
                  (array_agg(station_id ORDER BY completed_at))[1] AS station_id
             FROM firsts GROUP BY unit_id
         )
         SELECT to_char((uf.first_at AT TIME ZONE $3)::date, 'YYYY-MM-DD') AS day, ${key} AS key, ${label} AS label,
                count(*)::int AS units, count(*) FILTER (WHERE uf.first_pass)::int AS first_pass
           FROM unit_first uf JOIN units u ON u.id = uf.unit_id JOIN work_orders w ON w.id = u.work_order_id
           JOIN product_revisions pr ON pr.id = w.product_revision_id JOIN products p ON p.id = pr.product_id
           LEFT JOIN stations st ON st.id = uf.station_id LEFT JOIN lines l ON l.id = st.line_id
          WHERE uf.first_at >= $1 AND ($5::bigint IS NULL OR p.id = $5) AND ($6::bigint IS NULL OR st.line_id = $6)
          GROUP BY 1, 2, 3 ORDER BY 1, 2`,
        [from, to, tz, input.method ?? null, input.productId ?? null, input.lineId ?? null],
      )
    ).rows;
    const days = (
      await db.query<{ day: string }>(
        `SELECT to_char(d, 'YYYY-MM-DD') AS day FROM generate_series(($1::timestamptz AT TIME ZONE $3)::date, (($2::timestamptz - interval '1 microsecond') AT TIME ZONE $3)::date, interval '1 day') d`,
        [from, to, tz],
      )
    ).rows.map((r) => r.day);
    const keys = [...new Map(rows.map((r) => [r.key, r.label])).entries()].sort((a, b) => a[0].localeCompare(b[0]));
    const series: FpySeries[] = keys.map(([k, lbl]) => {
      const mine = rows.filter((r) => r.key === k);
      const points = days.map((day) => {
        const r = mine.find((x) => x.day === day);
        return { day, units: r?.units ?? 0, firstPass: r?.first_pass ?? 0, fpy: r ? ratio(r.first_pass, r.units) : null };
      });
      const units = mine.reduce((n, r) => n + r.units, 0);
      const firstPass = mine.reduce((n, r) => n + r.first_pass, 0);
      return { key: k, label: lbl, units, firstPass, fpy: ratio(firstPass, units), points };
    });
    const units = rows.reduce((n, r) => n + r.units, 0);
    const firstPass = rows.reduce((n, r) => n + r.first_pass, 0);
    return { from, to, timezone: tz, groupBy, method: input.method ?? null, days, series, total: { units, firstPass, fpy: ratio(firstPass, units) } };
  }

  async function defectPareto(input: RangeInput & { by?: 'code' | 'refdes'; includeFalseCalls?: boolean; productId?: number; lineId?: number; workOrderId?: number; method?: string }): Promise<Pareto> {
    const { from, to } = reportRange(input);
    const by = input.by ?? 'code';
    const col = by === 'refdes' ? `COALESCE(d.refdes, '(none)')` : 'd.code';
    const rows = (
      await db.query<{ key: string; count: number; units: number }>(
        `SELECT ${col} AS key, count(*)::int AS count, count(DISTINCT d.unit_id)::int AS units
           FROM quality_defects d JOIN quality_results r ON r.id = d.result_id
           JOIN work_orders w ON w.id = d.work_order_id JOIN product_revisions pr ON pr.id = w.product_revision_id
           JOIN stations st ON st.id = r.station_id
          WHERE r.completed_at >= $1 AND r.completed_at < $2 AND ($3::boolean OR d.verification <> 'false_call')
            AND ($4::bigint IS NULL OR pr.product_id = $4) AND ($5::bigint IS NULL OR st.line_id = $5) AND ($6::bigint IS NULL OR d.work_order_id = $6)
            AND ($7::text IS NULL OR d.method = $7)
          GROUP BY 1`,
        [from, to, input.includeFalseCalls ?? false, input.productId ?? null, input.lineId ?? null, input.workOrderId ?? null, input.method ?? null],
      )
    ).rows;
    return { from, to, by, ...pareto(rows.map((r) => ({ key: r.key, label: `${r.units} unit${r.units === 1 ? '' : 's'}`, value: r.count, count: r.units }))) };
  }

  /** The stations a line has (in line order), or, without a line, those with machine states or counts in the range. */
  async function stationsFor(range: Range, f: { lineId?: number; stationId?: number }) {
    return (
      await db.query<{ id: number; code: string; name: string; type: string; line_code: string | null }>(
        `SELECT s.id, s.code, s.name, s.type, l.code AS line_code FROM stations s LEFT JOIN lines l ON l.id = s.line_id
          WHERE ($3::bigint IS NULL OR s.id = $3) AND CASE WHEN $4::bigint IS NOT NULL THEN s.line_id = $4 ELSE
                EXISTS (SELECT 1 FROM station_states x WHERE x.station_id = s.id AND x.from_at < $2 AND (x.to_at IS NULL OR x.to_at > $1))
             OR EXISTS (SELECT 1 FROM production_counts c WHERE c.station_id = s.id AND c.at >= $1 AND c.at < $2) END
          ORDER BY l.code NULLS LAST, s.seq, s.code LIMIT 200`,
        [range.from, range.to, f.stationId ?? null, f.lineId ?? null],
      )
    ).rows;
  }

  async function oeeByStation(input: RangeInput & { lineId?: number }): Promise<{ from: Date; to: Date; stations: StationOee[] }> {
    const range = reportRange(input);
    const stations = await stationsFor(range, { lineId: input.lineId });
    const out: StationOee[] = [];
    for (const s of stations) {
      const t = (await deps.equipment.oee(s.id, { from: range.from, to: range.to, granularity: 'day' })).total;
      out.push({
        stationId: s.id, code: s.code, name: s.name, type: s.type, lineCode: s.line_code, availability: t.availability, performance: t.performance, quality: t.quality, oee: t.oee,
        plannedSeconds: t.plannedSeconds, runSeconds: t.runSeconds, totalCount: t.totalCount, goodCount: t.goodCount,
      });
    }
    return { ...range, stations: out };
  }

  async function downtimePareto(input: RangeInput & { by?: 'fault' | 'state'; lineId?: number; stationId?: number }): Promise<Pareto & { stations: number }> {
    const range = reportRange(input);
    const by = input.by ?? 'fault';
    const stations = await stationsFor(range, { lineId: input.lineId, stationId: input.stationId });
    const acc = new Map<string, { key: string; label: string; value: number; count: number }>();
    for (const s of stations) {
      const d = await deps.equipment.downtime(s.id, { from: range.from, to: range.to });
      if (by === 'fault') {
        for (const f of d.byFaultCode) {
          const a = acc.get(f.faultCode) ?? { key: f.faultCode, label: '', value: 0, count: 0 };
          a.value += f.downtimeSeconds;
          a.count += f.occurrences;
          acc.set(f.faultCode, a);
        }
      } else {
        for (const st of d.byState) {
          if (st.e10 === 'Productive') continue;
          const k = String(st.stateCode);
          const a = acc.get(k) ?? { key: k, label: st.e10, value: 0, count: 0 };
          a.value += st.seconds;
          a.count += st.intervals;
          acc.set(k, a);
        }
      }
    }
    const rows = [...acc.values()].map((a) => ({ ...a, label: by === 'fault' ? `${a.count} occurrence${a.count === 1 ? '' : 's'}` : a.label }));
    return { ...range, by, stations: stations.length, ...pareto(rows) };
  }

  async function bakes(input: { days?: number }): Promise<BakeRow[]> {
    return (
      await db.query<BakeRow>(
        `SELECT b.id, b.oven, b.temperature_c::float8 AS "temperatureC", b.duration_minutes AS "durationMinutes", b.started_at AS "startedAt", b.finished_at AS "finishedAt",
                b.notes, b.actor_name AS "actorName", COALESCE(array_agg(p.code ORDER BY p.code) FILTER (WHERE p.code IS NOT NULL), '{}') AS packages
           FROM bake_records b
           LEFT JOIN msd_events e ON e.bake_record_id = b.id AND e.copied_from_event_id IS NULL
           LEFT JOIN material_packages p ON p.id = e.package_id
          WHERE b.finished_at >= now() - make_interval(days => $1)
          GROUP BY b.id ORDER BY b.finished_at DESC, b.id DESC LIMIT 500`,
        [input.days ?? 30],
      )
    ).rows;
  }

  return { fpy, defectPareto, oeeByStation, downtimePareto, bakes };
}

export type ReportsService = ReturnType<typeof createReportsService>;
