import { api, type Line, type Station } from '../../api.ts';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Empty, Loading, Panel } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';

/** Big touch buttons, one per station, grouped by line. */
export function StationPicker({ onPick, current, filter }: { onPick(s: Station): void; current?: string | null; filter?: (s: Station) => boolean }) {
  const q = useQuery(async () => {
    const [lines, stations] = await Promise.all([api.lines.list(), api.stations.list()]);
    return { lines, stations };
  }, []);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading what="Loading stations" />;
  const stations = q.data.stations.filter((s) => !filter || filter(s));
  if (stations.length === 0) return <Empty>No stations are defined. An administrator adds them under Master data → Factory.</Empty>;
  const groups: { line: Line | null; stations: Station[] }[] = [];
  for (const line of [...q.data.lines, null]) {
    const list = stations.filter((s) => s.lineId === (line?.id ?? null)).sort((a, b) => a.seq - b.seq || a.code.localeCompare(b.code));
    if (list.length) groups.push({ line, stations: list });
  }
  return (
    <div className="station-picker" data-testid="station-picker">
      {groups.map((g) => (
        <Panel key={g.line?.id ?? 'none'} title={g.line ? `${g.line.code} · ${g.line.name}` : 'Not on a line'}>
          <div className="station-grid">
            {g.stations.map((s) => (
              <button key={s.id} type="button" className={`station-button${s.code === current ? ' station-button-current' : ''}`} onClick={() => onPick(s)}>
                <span className="station-button-code">{s.code}</span>
                <span className="station-button-name">{s.name}</span>
                <span className="station-button-type">{s.type}</span>
              </button>
            ))}
          </div>
        </Panel>
      ))}
    </div>
  );
}
