import { useEffect, useRef } from 'react';
import { api } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Empty, Loading, PageHeader, Panel } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { Link, navigate } from '../../router.tsx';
import { useLiveLine, type LineSnapshot, type LiveStation } from './useLiveLine.ts';
import './dashboard.css';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`);
const STATE_LABEL: Record<LiveStation['state'], string> = { productive: 'Running', standby: 'Idle', down: 'Down', engineering: 'Engineering', offline: 'Offline', unknown: 'No data' };
const LAST_LINE = 'mes.dashboard.line';

/** The live line dashboard: everything on it is pushed by the server (no polling). */
export function DashboardPage({ params }: ScreenProps) {
  const lineId = params.lineId ? Number(params.lineId) : null;
  const lines = useQuery(() => api.lines.list(), []);
  useEffect(() => {
    if (lineId !== null || !lines.data) return;
    const saved = Number(localStorage.getItem(LAST_LINE));
    const pick = lines.data.find((l) => l.id === saved) ?? (lines.data.length === 1 ? lines.data[0] : undefined);
    if (pick) navigate(`/dashboard/${pick.id}`, { replace: true });
  }, [lineId, lines.data]);
  useEffect(() => {
    if (lineId !== null) localStorage.setItem(LAST_LINE, String(lineId));
  }, [lineId]);

  if (lineId === null || !Number.isInteger(lineId)) {
    return (
      <>
        <PageHeader title="Line dashboard" subtitle="Choose a line." />
        <ErrorPanel error={lines.error} />
        {lines.data ? (
          lines.data.length ? (
            <div className="line-choice">
              {lines.data.map((l) => (
                <Link key={l.id} className="btn btn-secondary btn-xl" to={`/dashboard/${l.id}`}>
                  {l.code} · {l.name}
                </Link>
              ))}
            </div>
          ) : (
            <Empty>No lines are defined yet.</Empty>
          )
        ) : (
          <Loading what="Loading lines" />
        )}
      </>
    );
  }
  return <LineDashboard lineId={lineId} otherLines={lines.data?.filter((l) => l.id !== lineId) ?? []} />;
}

function LineDashboard({ lineId, otherLines }: { lineId: number; otherLines: { id: number; code: string }[] }) {
  const live = useLiveLine(lineId);
  const s = live.snapshot;
  const marked = useRef(false);
  useEffect(() => {
    // For the browser test's timing: navigation start → the first populated dashboard.
    if (s && !marked.current) {
      marked.current = true;
      performance.mark('dashboard-populated');
    }
  }, [s]);
  return (
    <div className="dashboard" data-testid="dashboard" data-ready={s ? 'true' : 'false'}>
      <PageHeader
        title={
          <>
            {s ? s.line.code : 'Line'} <span className="title-sub">{s?.line.name ?? ''}</span>
          </>
        }
        subtitle={s?.activeWorkOrder ? `Running ${s.activeWorkOrder.number} · ${s.activeWorkOrder.productCode} rev ${s.activeWorkOrder.revision}` : s ? 'No work order active on this line' : 'Connecting…'}
        actions={
          <>
            <span className={`live-status live-${live.status}`} data-testid="live-status" role="status">
              <span className="live-dot" aria-hidden="true" />
              {live.status === 'live' ? 'Live' : live.status === 'connecting' ? 'Connecting' : live.status === 'reconnecting' ? 'Reconnecting' : 'Stopped'}
            </span>
            {otherLines.map((l) => (
              <Link key={l.id} className="btn btn-ghost" to={`/dashboard/${l.id}`}>
                {l.code}
              </Link>
            ))}
          </>
        }
      />
      {live.error ? <div className="error-panel" role="alert">{live.error}</div> : null}
      {!s ? <Loading what="Waiting for the line" /> : <Board s={s} />}
    </div>
  );
}

function Board({ s }: { s: LineSnapshot }) {
  const wo = s.activeWorkOrder;
  const done = wo ? Math.min(1, wo.progress.passed / Math.max(wo.progress.quantity, 1)) : 0;
  const wip = wo ? wo.progress.queued + wo.progress.inProcess : 0;
  return (
    <>
      <section className="kpis" aria-label="Key figures">
        <div className="kpi" data-testid="kpi-progress">
          <div className="kpi-label">Passed</div>
          <div className="kpi-value">
            <span data-testid="passed">{wo?.progress.passed ?? 0}</span>
            <span className="kpi-of"> / {wo?.progress.quantity ?? 0}</span>
          </div>
          <div className="progress" aria-hidden="true">
            <div className="progress-bar" style={{ width: `${(done * 100).toFixed(1)}%` }} />
          </div>
        </div>
        <div className="kpi" data-testid="kpi-wip">
          <div className="kpi-label">WIP</div>
          <div className="kpi-value">{wip}</div>
          <div className="kpi-sub">
            {wo?.progress.inProcess ?? 0} in process · {wo?.progress.failed ?? 0} failed · {wo?.progress.onHold ?? 0} on hold
          </div>
        </div>
        <div className="kpi" data-testid="kpi-fpy">
          <div className="kpi-label">First-pass yield</div>
          <div className="kpi-value">{pct(wo?.fpy)}</div>
          <div className="kpi-sub">{wo ? `${wo.completedFirstPass} of ${wo.completedUnits} completed units` : '–'}</div>
        </div>
        <div className="kpi" data-testid="kpi-oee">
          <div className="kpi-label">OEE today</div>
          <div className="kpi-value">{pct(s.oee.oee)}</div>
          <div className="kpi-sub">
            A {pct(s.oee.availability)} · P {pct(s.oee.performance)} · Q {pct(s.oee.quality)}
          </div>
        </div>
        <div className={`kpi${s.alerts.some((a) => a.severity === 'high') ? ' kpi-alert' : ''}`} data-testid="kpi-alerts">
          <div className="kpi-label">Alerts</div>
          <div className="kpi-value">{s.alerts.length}</div>
          <div className="kpi-sub">{s.alerts.filter((a) => a.severity === 'high').length} need action</div>
        </div>
      </section>

      <section className="station-strip" aria-label="Stations" data-testid="stations">
        {s.stations.map((st) => (
          <div key={st.id} className={`st-tile st-${st.state}`} data-state={st.state} data-station={st.code}>
            <div className="st-head">
              <span className="st-code" title={st.code}>
                {st.code}
              </span>
              <span className="st-state">{STATE_LABEL[st.state]}</span>
            </div>
            <div className="st-name">{st.name}</div>
            <div className="st-figures">
              <span title="units in process">▶ {st.inProcess}</span>
              <span title="units waiting">wait {st.waiting}</span>
              <span title="OEE today">{st.oee === null ? 'OEE –' : `OEE ${Math.round(st.oee * 100)}%`}</span>
            </div>
            {st.faults.length ? (
              <div className="st-fault" role="alert">
                ⚠ {st.faults.map((f) => f.code ?? 'fault').join(', ')}
              </div>
            ) : null}
          </div>
        ))}
      </section>

      <div className="dash-grid">
        <Panel title={wo ? `WIP per step · ${wo.number}` : 'WIP per step'}>
          {wo ? (
            <table className="table dash-steps" data-testid="wip-steps">
              <thead>
                <tr>
                  <th>Step</th>
                  <th className="num">Waiting</th>
                  <th className="num">In process</th>
                  <th className="num">Failed</th>
                  <th className="num">On hold</th>
                  <th className="num">First pass</th>
                </tr>
              </thead>
              <tbody>
                {wo.steps.map((st) => (
                  <tr key={st.seq} className={st.isRepair ? 'muted' : undefined} data-seq={st.seq}>
                    <td>
                      {st.seq} {st.name}
                    </td>
                    <td className="num">{st.queued}</td>
                    <td className="num">{st.inProcess}</td>
                    <td className="num">{st.failed || ''}</td>
                    <td className="num">{st.onHold || ''}</td>
                    <td className="num" title={`${st.passedFirst} of ${st.firstPasses} passed at the first try`}>
                      {st.fpy === null ? '–' : pct(st.fpy)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>No work order is active on this line.</Empty>
          )}
        </Panel>
        <Panel title={`Alerts (${s.alerts.length})`}>
          {s.alerts.length ? (
            <ul className="alerts" data-testid="alerts">
              {s.alerts.slice(0, 12).map((a) => (
                <li key={a.ref} className={`alert alert-${a.severity}`} data-kind={a.kind}>
                  <span className="alert-kind">{a.kind.replace('-', ' ')}</span>
                  <span className="alert-message">{a.message}</span>
                </li>
              ))}
              {s.alerts.length > 12 ? <li className="muted">and {s.alerts.length - 12} more</li> : null}
            </ul>
          ) : (
            <Empty>No alerts.</Empty>
          )}
        </Panel>
      </div>
      <p className="last-passage" data-testid="last-passage" data-id={s.lastPassage?.id ?? ''}>
        {s.lastPassage
          ? `Last passage #${s.lastPassage.id}: ${s.lastPassage.serial} ${s.lastPassage.result} at ${s.lastPassage.station} (step ${s.lastPassage.stepSeq}), ${new Date(s.lastPassage.recordedAt).toLocaleTimeString()}`
          : 'No passage recorded on this line yet.'}
      </p>
    </>
  );
}
