import type { ReactNode } from 'react';
import './office.css';

/**
 * Small SVG charts drawn by hand (no chart library): bars with an optional cumulative-percent
 * line (Pareto), and lines over categories (trends). Each chart has a title for screen readers
 * and data attributes that carry the numbers (the browser tests read them).
 */

export const SERIES_COLOURS = ['#1257c7', '#0b7a2f', '#b3201a', '#8f5200', '#6b3fa0', '#00838f', '#5b6573', '#c2185b'];

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function ticks(max: number, n = 4): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
}

const fmt = (v: number, digits = 0) => (Number.isInteger(v) && digits === 0 ? String(v) : v.toFixed(Math.max(digits, 1)));

export interface ParetoItem {
  label: string;
  value: number;
}

/**
 * A Pareto chart: bars sorted by value (largest first), a cumulative-percent line over them and
 * the 80 % reference line. `format` renders a value (e.g. seconds as hours).
 */
export function ParetoChart({ items, title, format = (v) => fmt(v), max = 15, testId }: { items: ParetoItem[]; title: string; format?: (v: number) => string; max?: number; testId?: string }) {
  const sorted = [...items].filter((i) => i.value > 0).sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
  const shown = sorted.slice(0, max);
  if (shown.length > 0 && sorted.length > shown.length) shown.push({ label: `${sorted.length - max} others`, value: sorted.slice(max).reduce((n, i) => n + i.value, 0) });
  if (shown.length === 0) return <div className="chart-empty" data-testid={testId}>Nothing in this period.</div>;
  const total = shown.reduce((n, i) => n + i.value, 0);
  const W = 760, H = 300, L = 56, R = 48, T = 16, B = 70;
  const cw = (W - L - R) / shown.length;
  const ymax = niceMax(shown[0]!.value);
  const y = (v: number) => T + (H - T - B) * (1 - v / ymax);
  const yp = (p: number) => T + (H - T - B) * (1 - p / 100);
  let cum = 0;
  const points = shown.map((i, k) => {
    cum += i.value;
    return { x: L + cw * k + cw / 2, p: (cum / total) * 100 };
  });
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title} data-testid={testId}>
      <title>{title}</title>
      {ticks(ymax).map((t) => (
        <g key={t}>
          <line className="grid" x1={L} x2={W - R} y1={y(t)} y2={y(t)} />
          <text x={L - 6} y={y(t) + 4} textAnchor="end">
            {format(t)}
          </text>
        </g>
      ))}
      {[0, 50, 80, 100].map((p) => (
        <text key={p} x={W - R + 6} y={yp(p) + 4}>
          {p}%
        </text>
      ))}
      <line className="grid" x1={L} x2={W - R} y1={yp(80)} y2={yp(80)} strokeDasharray="4 4" stroke="#8f5200" />
      {shown.map((i, k) => {
        const x = L + cw * k + cw * 0.15;
        return (
          <g key={i.label} data-label={i.label} data-value={i.value} className="chart-item">
            <rect className="bar" x={x} width={cw * 0.7} y={y(i.value)} height={H - B - y(i.value)}>
              <title>{`${i.label}: ${format(i.value)} (${((i.value / total) * 100).toFixed(1)} %)`}</title>
            </rect>
            <text className="value" x={x + cw * 0.35} y={y(i.value) - 4} textAnchor="middle">
              {format(i.value)}
            </text>
            <text x={x + cw * 0.35} y={H - B + 14} textAnchor="end" transform={`rotate(-35 ${x + cw * 0.35} ${H - B + 14})`}>
              {i.label.length > 16 ? `${i.label.slice(0, 15)}…` : i.label}
            </text>
          </g>
        );
      })}
      <polyline className="cum" points={points.map((p) => `${p.x},${yp(p.p)}`).join(' ')} />
      {points.map((p, k) => (
        <circle key={k} className="cum-dot" cx={p.x} cy={yp(p.p)} r={3} />
      ))}
      <line className="axis" x1={L} x2={W - R} y1={H - B} y2={H - B} />
      <line className="axis" x1={L} x2={L} y1={T} y2={H - B} />
    </svg>
  );
}

export interface Series {
  name: string;
  /** One value per category; null where there is no data (the line breaks). */
  values: (number | null)[];
}

/** Lines over categories (e.g. days), y from 0 to `yMax` (default: the data's nice maximum). */
export function LineChart({ categories, series, title, yMax, format = (v) => fmt(v), testId }: { categories: string[]; series: Series[]; title: string; yMax?: number; format?: (v: number) => string; testId?: string }) {
  if (categories.length === 0 || series.length === 0) return <div className="chart-empty" data-testid={testId}>Nothing in this period.</div>;
  const W = 760, H = 280, L = 56, R = 16, T = 16, B = 48;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const ymax = yMax ?? niceMax(Math.max(0, ...all));
  const step = categories.length > 1 ? (W - L - R) / (categories.length - 1) : 0;
  const x = (k: number) => (categories.length > 1 ? L + step * k : (L + W - R) / 2);
  const y = (v: number) => T + (H - T - B) * (1 - v / ymax);
  const every = Math.max(1, Math.ceil(categories.length / 10));
  return (
    <>
      <div className="chart-legend">
        {series.map((s, i) => (
          <span key={s.name} style={{ ['--swatch' as string]: SERIES_COLOURS[i % SERIES_COLOURS.length] }}>
            {s.name}
          </span>
        ))}
      </div>
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title} data-testid={testId}>
        <title>{title}</title>
        {ticks(ymax).map((t) => (
          <g key={t}>
            <line className="grid" x1={L} x2={W - R} y1={y(t)} y2={y(t)} />
            <text x={L - 6} y={y(t) + 4} textAnchor="end">
              {format(t)}
            </text>
          </g>
        ))}
        {categories.map((c, k) =>
          k % every === 0 || k === categories.length - 1 ? (
            <text key={c} x={x(k)} y={H - B + 18} textAnchor="middle">
              {c}
            </text>
          ) : null,
        )}
        {series.map((s, i) => {
          const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
          const segments: string[][] = [[]];
          s.values.forEach((v, k) => {
            if (v === null) segments.push([]);
            else segments[segments.length - 1]!.push(`${x(k)},${y(v)}`);
          });
          return (
            <g key={s.name} data-series={s.name}>
              {segments.filter((seg) => seg.length > 1).map((seg, j) => (
                <polyline key={j} className="series" stroke={colour} points={seg.join(' ')} />
              ))}
              {s.values.map((v, k) =>
                v === null ? null : (
                  <circle key={k} cx={x(k)} cy={y(v)} r={4} fill={colour} data-category={categories[k]} data-value={v} className="chart-point">
                    <title>{`${s.name} · ${categories[k]}: ${format(v)}`}</title>
                  </circle>
                ),
              )}
            </g>
          );
        })}
        <line className="axis" x1={L} x2={W - R} y1={H - B} y2={H - B} />
        <line className="axis" x1={L} x2={L} y1={T} y2={H - B} />
      </svg>
    </>
  );
}

export interface GroupedBar {
  label: string;
  values: (number | null)[];
}

/** Groups of bars (e.g. per station: availability, performance, quality, OEE), y from 0 to yMax. */
export function GroupedBarChart({ groups, seriesNames, title, yMax = 1, format = (v) => fmt(v, 2), testId }: { groups: GroupedBar[]; seriesNames: string[]; title: string; yMax?: number; format?: (v: number) => string; testId?: string }) {
  if (groups.length === 0) return <div className="chart-empty" data-testid={testId}>Nothing in this period.</div>;
  const W = 760, H = 300, L = 48, R = 16, T = 16, B = 80;
  const gw = (W - L - R) / groups.length;
  const bw = (gw * 0.8) / seriesNames.length;
  const y = (v: number) => T + (H - T - B) * (1 - Math.min(v, yMax) / yMax);
  return (
    <>
      <div className="chart-legend">
        {seriesNames.map((s, i) => (
          <span key={s} style={{ ['--swatch' as string]: SERIES_COLOURS[i % SERIES_COLOURS.length] }}>
            {s}
          </span>
        ))}
      </div>
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title} data-testid={testId}>
        <title>{title}</title>
        {ticks(yMax).map((t) => (
          <g key={t}>
            <line className="grid" x1={L} x2={W - R} y1={y(t)} y2={y(t)} />
            <text x={L - 6} y={y(t) + 4} textAnchor="end">
              {format(t)}
            </text>
          </g>
        ))}
        {groups.map((g, k) => (
          <g key={g.label} data-label={g.label}>
            {g.values.map((v, i) => {
              const x = L + gw * k + gw * 0.1 + bw * i;
              return v === null ? (
                <text key={i} x={x + bw / 2} y={H - B - 4} textAnchor="middle">
                  –
                </text>
              ) : (
                <rect key={i} x={x} width={bw - 2} y={y(v)} height={H - B - y(v)} fill={SERIES_COLOURS[i % SERIES_COLOURS.length]} data-series={seriesNames[i]} data-value={v}>
                  <title>{`${g.label} · ${seriesNames[i]}: ${format(v)}`}</title>
                </rect>
              );
            })}
            <text x={L + gw * k + gw / 2} y={H - B + 14} textAnchor="end" transform={`rotate(-30 ${L + gw * k + gw / 2} ${H - B + 14})`}>
              {g.label.length > 18 ? `${g.label.slice(0, 17)}…` : g.label}
              <title>{g.label}</title>
            </text>
          </g>
        ))}
        <line className="axis" x1={L} x2={W - R} y1={H - B} y2={H - B} />
        <line className="axis" x1={L} x2={L} y1={T} y2={H - B} />
      </svg>
    </>
  );
}

/** A labelled number. */
export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div className="stat" data-testid={testId}>
      <span className="stat-label">{label}</span>
      <span className="stat-value">{value}</span>
    </div>
  );
}
