import { useState, type ReactNode } from 'react';
import { api } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { GroupedBarChart, LineChart, ParetoChart, Stat } from '../../components/Charts.tsx';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Field, Loading, PageHeader, Panel } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { reportsApi, type ParetoItem, type StationOee } from './api.ts';

const pct = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)} %`);
const hours = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(s % 3600 === 0 ? 0 : 1)} h` : `${Math.round(s / 60)} min`);
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** The report filter, kept in the address (from, to as dates; line; product; grouping). */
interface Filter { from: string; to: string; lineId: string; productId: string; by: string; method: string }

function useFilter(query: URLSearchParams, defaults: Partial<Filter> = {}): [Filter, (f: Partial<Filter>) => void] {
  const today = new Date();
  const f: Filter = {
    from: query.get('from') ?? defaults.from ?? isoDay(new Date(today.getTime() - 13 * 86_400_000)),
    to: query.get('to') ?? defaults.to ?? isoDay(today),
    lineId: query.get('lineId') ?? '',
    productId: query.get('productId') ?? '',
    by: query.get('by') ?? defaults.by ?? '',
    method: query.get('method') ?? '',
  };
  const set = (patch: Partial<Filter>) => {
    const next = { ...f, ...patch };
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v) qs.set(k, v);
    navigate(`${window.location.pathname}?${qs.toString()}`, { replace: true });
  };
  return [f, set];
}

/** From the start of `from` to the end of `to` (UTC days). */
function rangeQuery(f: Filter) {
  const to = new Date(`${f.to}T00:00:00.000Z`);
  to.setUTCDate(to.getUTCDate() + 1);
  return { from: `${f.from}T00:00:00.000Z`, to: to.toISOString() };
}

function FilterBar({ f, set, children, products = true }: { f: Filter; set(p: Partial<Filter>): void; children?: ReactNode; products?: boolean }) {
  const lines = useQuery(() => api.lines.list(), []);
  const prods = useQuery(() => (products ? api.products.list() : Promise.resolve([])), [products]);
  return (
    <Panel>
      <div className="toolbar" data-testid="report-filter">
        <Field label="From">
          <input type="date" value={f.from} onChange={(e) => e.target.value && set({ from: e.target.value })} />
        </Field>
        <Field label="To">
          <input type="date" value={f.to} onChange={(e) => e.target.value && set({ to: e.target.value })} />
        </Field>
        <Field label="Line">
          <select value={f.lineId} onChange={(e) => set({ lineId: e.target.value })}>
            <option value="">all lines</option>
            {(lines.data ?? []).map((l) => (
              <option key={l.id} value={l.id}>
                {l.code} {l.name}
              </option>
            ))}
          </select>
        </Field>
        {products ? (
          <Field label="Product">
            <select value={f.productId} onChange={(e) => set({ productId: e.target.value })}>
              <option value="">all products</option>
              {(prods.data ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.code}
                </option>
              ))}
            </select>
          </Field>
        ) : null}
        {children}
      </div>
    </Panel>
  );
}

const opt = (v: string) => (v ? Number(v) : undefined);

/** First-pass yield per day, overall or per product / line. */
export function FpyReportPage({ query }: ScreenProps) {
  const [f, set] = useFilter(query, { by: 'none' });
  const q = useQuery(
    () => reportsApi.fpy({ ...rangeQuery(f), groupBy: f.by || 'none', lineId: opt(f.lineId), productId: opt(f.productId), method: f.method || undefined }),
    [f.from, f.to, f.by, f.lineId, f.productId, f.method],
  );
  const r = q.data;
  return (
    <>
      <PageHeader title="First-pass yield" subtitle="Units that passed the first result of every inspection and test, per day of their first result (verified results: false calls do not count against it)." />
      <FilterBar f={f} set={set}>
        <Field label="Series">
          <select value={f.by} onChange={(e) => set({ by: e.target.value })}>
            <option value="none">overall</option>
            <option value="product">per product</option>
            <option value="line">per line</option>
          </select>
        </Field>
        <Field label="Method">
          <select value={f.method} onChange={(e) => set({ method: e.target.value })}>
            <option value="">all</option>
            {['spi', 'aoi', 'axi', 'visual', 'ict', 'fct', 'flying-probe'].map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </Field>
      </FilterBar>
      <ErrorPanel error={q.error} />
      {!r ? (
        <Loading />
      ) : (
        <Panel title="Trend">
          <div className="stat-row">
            <Stat label="First-pass yield" value={pct(r.total.fpy)} testId="fpy-total" />
            <Stat label="Units" value={r.total.units} testId="fpy-units" />
            <Stat label="First pass" value={r.total.firstPass} testId="fpy-first-pass" />
          </div>
          <LineChart
            testId="fpy-chart"
            title="First-pass yield per day"
            categories={r.days.map((d) => d.slice(5))}
            series={r.series.map((s) => ({ name: s.label, values: s.points.map((p) => (p.fpy === null ? null : Math.round(p.fpy * 1000) / 10)) }))}
            yMax={100}
            format={(v) => `${v} %`}
          />
          <DataTable
            testId="fpy-table"
            rows={r.series.flatMap((s) => s.points.filter((p) => p.units > 0).map((p) => ({ ...p, series: s.label })))}
            rowKey={(p) => `${p.series}-${p.day}`}
            empty="No inspection or test result in this period."
            columns={[
              { key: 'day', header: 'Day' },
              { key: 'series', header: 'Series' },
              { key: 'units', header: 'Units', align: 'right' },
              { key: 'firstPass', header: 'First pass', align: 'right' },
              { key: 'fpy', header: 'FPY', align: 'right', render: (p) => pct(p.fpy) },
            ]}
          />
        </Panel>
      )}
    </>
  );
}

function ParetoTable({ items, valueHeader, format, countHeader, testId }: { items: ParetoItem[]; valueHeader: string; format(v: number): string; countHeader: string; testId: string }) {
  return (
    <DataTable
      testId={testId}
      rows={items}
      rowKey={(i) => i.key}
      empty="Nothing in this period."
      columns={[
        { key: 'key', header: 'What', render: (i) => <strong>{i.key}</strong> },
        { key: 'value', header: valueHeader, align: 'right', render: (i) => format(i.value) },
        { key: 'count', header: countHeader, align: 'right' },
        { key: 'percent', header: 'Share', align: 'right', render: (i) => `${i.percent.toFixed(1)} %` },
        { key: 'cumulativePercent', header: 'Cumulative', align: 'right', render: (i) => `${i.cumulativePercent.toFixed(1)} %` },
      ]}
    />
  );
}

/** Defect Pareto by code or reference designator. */
export function DefectParetoPage({ query }: ScreenProps) {
  const [f, set] = useFilter(query, { by: 'code' });
  const [falseCalls, setFalseCalls] = useState(false);
  const q = useQuery(
    () => reportsApi.defectPareto({ ...rangeQuery(f), by: f.by || 'code', lineId: opt(f.lineId), productId: opt(f.productId), includeFalseCalls: falseCalls || undefined }),
    [f.from, f.to, f.by, f.lineId, f.productId, falseCalls],
  );
  return (
    <>
      <PageHeader title="Defect Pareto" subtitle="The defects found in the period, largest first, with the running share; false calls are left out unless asked for." />
      <FilterBar f={f} set={set}>
        <Field label="By">
          <select value={f.by} onChange={(e) => set({ by: e.target.value })}>
            <option value="code">defect code</option>
            <option value="refdes">reference designator</option>
          </select>
        </Field>
        <label className="checkbox">
          <input type="checkbox" checked={falseCalls} onChange={(e) => setFalseCalls(e.target.checked)} />
          <span>Include false calls</span>
        </label>
      </FilterBar>
      <ErrorPanel error={q.error} />
      {!q.data ? (
        <Loading />
      ) : (
        <Panel title={`${q.data.total} defect${q.data.total === 1 ? '' : 's'} by ${f.by === 'refdes' ? 'reference designator' : 'code'}`}>
          <ParetoChart testId="defect-pareto" title="Defect Pareto" items={q.data.items.map((i) => ({ label: i.key, value: i.value }))} />
          <ParetoTable testId="defect-pareto-table" items={q.data.items} valueHeader="Defects" countHeader="Units" format={String} />
        </Panel>
      )}
    </>
  );
}

/** OEE by station: availability, performance, quality and OEE over the period. */
export function OeePage({ query }: ScreenProps) {
  const [f, set] = useFilter(query);
  const q = useQuery(() => reportsApi.oee({ ...rangeQuery(f), lineId: opt(f.lineId) }), [f.from, f.to, f.lineId]);
  return (
    <>
      <PageHeader title="OEE by station" subtitle="Availability × performance × quality per station over the period (SEMI E10 states and counts reported by the machines)." />
      <FilterBar f={f} set={set} products={false} />
      <ErrorPanel error={q.error} />
      {!q.data ? (
        <Loading />
      ) : (
        <Panel title={`${q.data.stations.length} station${q.data.stations.length === 1 ? '' : 's'}`}>
          <GroupedBarChart
            testId="oee-chart"
            title="OEE by station"
            seriesNames={['Availability', 'Performance', 'Quality', 'OEE']}
            groups={q.data.stations.map((s) => ({ label: s.code, values: [s.availability, s.performance, s.quality, s.oee] }))}
            format={(v) => `${Math.round(v * 100)} %`}
          />
          <DataTable<StationOee>
            testId="oee-table"
            rows={q.data.stations}
            rowKey={(s) => s.stationId}
            empty="No machine data in this period."
            columns={[
              { key: 'code', header: 'Station', render: (s) => <strong>{s.code}</strong> },
              { key: 'type', header: 'Type' },
              { key: 'availability', header: 'Availability', align: 'right', render: (s) => pct(s.availability) },
              { key: 'performance', header: 'Performance', align: 'right', render: (s) => pct(s.performance) },
              { key: 'quality', header: 'Quality', align: 'right', render: (s) => pct(s.quality) },
              { key: 'oee', header: 'OEE', align: 'right', render: (s) => <strong>{pct(s.oee)}</strong> },
              { key: 'run', header: 'Run / planned', align: 'right', render: (s) => `${hours(s.runSeconds)} / ${hours(s.plannedSeconds)}` },
              { key: 'count', header: 'Good / total', align: 'right', render: (s) => `${s.goodCount} / ${s.totalCount}` },
            ]}
          />
        </Panel>
      )}
    </>
  );
}

/** Downtime Pareto by fault code or machine state. */
export function DowntimePage({ query }: ScreenProps) {
  const [f, set] = useFilter(query, { by: 'fault' });
  const q = useQuery(() => reportsApi.downtimePareto({ ...rangeQuery(f), by: f.by || 'fault', lineId: opt(f.lineId) }), [f.from, f.to, f.by, f.lineId]);
  return (
    <>
      <PageHeader title="Downtime Pareto" subtitle="Machine downtime in the period, largest first: per fault code (the state's related fault, else the fault active when it began) or per non-productive state." />
      <FilterBar f={f} set={set} products={false}>
        <Field label="By">
          <select value={f.by} onChange={(e) => set({ by: e.target.value })}>
            <option value="fault">fault code</option>
            <option value="state">machine state</option>
          </select>
        </Field>
      </FilterBar>
      <ErrorPanel error={q.error} />
      {!q.data ? (
        <Loading />
      ) : (
        <Panel title={`${hours(q.data.total)} over ${q.data.stations ?? 0} station${q.data.stations === 1 ? '' : 's'}`}>
          <ParetoChart testId="downtime-pareto" title="Downtime Pareto" items={q.data.items.map((i) => ({ label: f.by === 'state' ? `${i.key} ${i.label}` : i.key, value: i.value }))} format={hours} />
          <ParetoTable testId="downtime-table" items={q.data.items} valueHeader="Downtime" countHeader={f.by === 'state' ? 'Intervals' : 'Occurrences'} format={hours} />
        </Panel>
      )}
    </>
  );
}
