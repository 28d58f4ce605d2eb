import type { ReactNode } from 'react';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Badge, KeyValues, Loading, PageHeader, Panel, formatDateTime, type Tone } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { Link } from '../../router.tsx';
import { STATE_LABEL, traceApi, type Candidate, type Genealogy, type RefdesRow, type UnitState } from './api.ts';
import './trace.css';

const STATE_TONE: Record<UnitState, Tone> = { wip: 'info', finished: 'good', packed: 'good', shipped: 'neutral', scrapped: 'bad', on_hold: 'bad' };
export function StateBadge({ state }: { state: UnitState }) {
  return <Badge tone={STATE_TONE[state]}>{STATE_LABEL[state]}</Badge>;
}
const resultTone = (r: string): Tone => (r === 'pass' ? 'good' : r === 'fail' || r === 'scrap' || r === 'error' ? 'bad' : 'neutral');

interface Event { at: string; kind: string; tone: Tone; text: ReactNode; key: string }

/** Every record of the unit as one time-ordered list. */
function events(g: Genealogy): Event[] {
  const out: Event[] = [];
  for (const p of g.process) {
    out.push({
      key: `p${p.id}`, at: p.completedAt, kind: `${p.stepName} (step ${p.stepSeq})`, tone: resultTone(p.result),
      text: (
        <>
          <Badge tone={resultTone(p.result)}>{p.result}</Badge> at {p.stationCode}
          {p.equipmentCode ? ` / ${p.equipmentCode}` : ''}
          {p.programName ? ` · program ${p.programName} rev ${p.programRevision ?? '?'}` : ''}
          {p.operator ? ` · operator ${p.operator}` : ''} · {p.outcome}
          {p.repairLoop ? ` · repair loop ${p.repairLoop}` : ''}
        </>
      ),
    });
  }
  for (const r of g.refusals) out.push({ key: `f${r.id}`, at: r.at, kind: 'Interlock refusal', tone: 'warn', text: `${r.codes.join(', ')} at ${r.stationCode ?? '?'}${r.messages?.length ? ` — ${r.messages.join('; ')}` : ''}` });
  for (const r of g.results) {
    out.push({
      key: `r${r.id}`, at: r.completedAt, kind: `${r.method.toUpperCase()} ${r.kind}${r.retest ? ' (retest)' : ''}`, tone: resultTone(r.verifiedResult ?? r.result),
      text: `${r.verifiedResult ?? r.result} at ${r.stationCode}${r.defects.length ? ` — ${r.defects.map((d) => `${d.code}${d.refdes ? `@${d.refdes}` : ''} (${d.verification})`).join(', ')}` : ''}`,
    });
  }
  for (const d of g.dispositions) {
    out.push({
      key: `d${d.id}`, at: d.createdAt, kind: `Disposition: ${d.decision}`, tone: 'info',
      text: `${d.reason} · by ${d.createdBy}${d.signature ? ` · signed by ${d.signature.name} (${d.signature.meaning})` : ''}${d.verified === null ? '' : d.verified ? ' · verified' : ' · not verified yet'}`,
    });
  }
  for (const w of g.rework) {
    out.push({
      key: `w${w.id}`, at: w.performedAt, kind: 'Repair', tone: w.verified ? 'good' : 'warn',
      text: `${w.action}${w.refdes ? ` at ${w.refdes}` : ''}${w.removedPackage ? ` · removed ${w.removedPackage.packageCode}` : ''}${w.newPackage ? ` · new ${w.newPackage.packageCode}` : ''}${w.operator ? ` · ${w.operator}` : ''} · ${w.verified ? 'verified' : 'not verified yet'}`,
    });
  }
  for (const n of g.ncrs) out.push({ key: `n${n.id}`, at: n.createdAt, kind: `NCR ${n.number}`, tone: n.state === 'open' ? 'warn' : 'neutral', text: `${n.title} · ${n.state}` });
  for (const h of g.holds) {
    out.push({ key: `h${h.id}`, at: h.placedAt, kind: `Hold ${h.number} placed`, tone: 'bad', text: `${h.scope} · ${h.reasonCode}: ${h.reason} · by ${h.placedBy}` });
    if (h.releasedAt) out.push({ key: `hr${h.id}`, at: h.releasedAt, kind: `Hold ${h.number} released`, tone: 'good', text: `by ${h.releasedBy}` });
  }
  if (g.carton) out.push({ key: 'c', at: g.carton.packedAt, kind: 'Packed', tone: 'good', text: `carton ${g.carton.code}` });
  if (g.shipment?.releasedAt) out.push({ key: 's', at: g.shipment.releasedAt, kind: 'Shipped', tone: 'neutral', text: `shipment ${g.shipment.number} to ${g.shipment.customer}` });
  return out.sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime());
}

function CandidateLine({ c }: { c: Candidate }) {
  return (
    <div className={c.state === 'removed' ? 'trace-removed' : undefined} data-testid={`candidate-${c.packageCode}`}>
      <span className="mono">{c.packageCode}</span> · {c.manufacturer} {c.mpn} · lot {c.lotCode ?? '—'} · DC {c.dateCode ?? '—'}
      {c.equipmentCode ? ` · ${c.equipmentCode}/${c.slot}` : ''}
      {c.mslFloorLifeRemainingMinutesAtPlacement !== null ? ` · floor life left ${Math.round(c.mslFloorLifeRemainingMinutesAtPlacement / 60)} h` : ''}
      {c.state === 'removed' ? ' · removed by repair' : c.state === 'rework' ? ' · placed by repair' : ''}
    </div>
  );
}

/** The genealogy of one unit: header, timeline, materials by refdes, results, repairs, holds. */
export function UnitPage({ params }: ScreenProps) {
  const serial = params.serial ?? '';
  const q = useQuery(() => traceApi.unit(serial), [serial]);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading what="Loading the genealogy" />;
  const g = q.data;
  const basis = g.buildBasis;
  return (
    <div data-testid="genealogy">
      <PageHeader
        title={<>Unit {g.unit.serial} <StateBadge state={g.unit.state} /></>}
        subtitle={`${g.workOrder.productCode} rev ${g.workOrder.revision} · work order ${g.workOrder.number}`}
      />
      <div className="trace-grid">
        <Panel title="Order and build">
          <KeyValues
            items={[
              ['Work order', g.workOrder.number],
              ['Customer', g.workOrder.customer],
              ['Customer PO', g.workOrder.customerPo],
              ['Build basis', basis ? <span className="mono" title={basis.hash}>v{basis.version} · {basis.hash.slice(0, 12)}…</span> : ''],
              ['Programs', basis ? basis.programs.map((p) => `${p.name} rev ${p.revision}`).join(', ') : ''],
              ['Panel', g.panel ? <Link to={`/trace/panels/${encodeURIComponent(g.panel.code)}`}>{g.panel.code} · position {g.panel.position}</Link> : ''],
              ['Production lot', g.lot ? <Link to={`/trace/lots/${encodeURIComponent(g.lot.code)}`}>{g.lot.code}</Link> : ''],
              ['Carton', g.carton ? `${g.carton.code} (${g.carton.state})` : ''],
              ['Shipment', g.shipment ? `${g.shipment.number} · ${g.shipment.customer} · ${g.shipment.state}` : ''],
            ]}
          />
        </Panel>
        <Panel title="Consumables at printing">
          <DataTable
            rows={g.consumables}
            rowKey={(c) => `${c.visit}-${c.kind}-${c.packageCode ?? c.stencilCode}`}
            empty="No paste jar or stencil recorded on the printer."
            columns={[
              { key: 'kind', header: 'Kind' },
              { key: 'id', header: 'ID', render: (c) => <span className="mono">{c.kind === 'paste' ? c.packageCode : c.stencilCode}</span> },
              { key: 'lot', header: 'Lot', render: (c) => c.lotCode ?? '' },
              { key: 'equipmentCode', header: 'Printer' },
            ]}
          />
        </Panel>
      </div>
      <Panel title="Timeline">
        <ol className="trace-timeline" data-testid="timeline">
          {events(g).map((e) => (
            <li key={e.key} className={`trace-event trace-event-${e.tone}`}>
              <span className="trace-event-time">{formatDateTime(e.at)}</span>
              <span className="trace-event-kind">{e.kind}</span>
              <span className="trace-event-detail">{e.text}</span>
            </li>
          ))}
        </ol>
      </Panel>
      <Panel title="Materials by reference designator">
        <DataTable<RefdesRow>
          testId="materials-table"
          rows={g.materials}
          rowKey={(r) => r.refdes}
          rowTestId={(r) => `refdes-row-${r.refdes}`}
          empty="No material recorded for this unit."
          columns={[
            { key: 'refdes', header: 'Refdes', render: (r) => <span className="refdes">{r.refdes}</span> },
            { key: 'ipn', header: 'IPN', render: (r) => r.ipn ?? '' },
            { key: 'source', header: 'Trace', render: (r) => <Badge tone={r.source === 'M3' ? 'good' : 'info'}>{r.source}</Badge> },
            { key: 'candidates', header: 'Package · MPN · lot · date code', render: (r) => r.candidates.map((c) => <CandidateLine key={`${c.packageId}-${c.state}-${c.from}`} c={c} />) },
          ]}
        />
      </Panel>
      <Panel title="Inspection and test results">
        <DataTable
          testId="results-table"
          rows={g.results}
          rowKey={(r) => r.id}
          empty="No results recorded."
          columns={[
            { key: 'completedAt', header: 'When', render: (r) => formatDateTime(r.completedAt) },
            { key: 'method', header: 'Method', render: (r) => `${r.method.toUpperCase()}${r.retest ? ' (retest)' : ''}` },
            { key: 'result', header: 'Result', render: (r) => <Badge tone={resultTone(r.verifiedResult ?? r.result)}>{r.verifiedResult ?? r.result}</Badge> },
            { key: 'stationCode', header: 'Station' },
            { key: 'program', header: 'Program', render: (r) => (r.programName ? `${r.programName} rev ${r.programRevision ?? '?'}` : '') },
            {
              key: 'defects', header: 'Defects',
              render: (r) => r.defects.map((d) => (
                <div key={d.id}>
                  {d.code} {d.refdes ? <span className="refdes">{d.refdes}</span> : null} <span className="muted">{d.category} · {d.verification}</span>
                  {d.imageRef ? <span className="muted mono"> · {d.imageRef}</span> : null}
                </div>
              )),
            },
            { key: 'falseCalls', header: 'False calls', align: 'right' },
            { key: 'measurements', header: 'Measurements', align: 'right', render: (r) => r.measurements.length },
          ]}
        />
      </Panel>
      <div className="trace-grid">
        <Panel title="Repairs">
          <DataTable
            testId="repairs-table"
            rows={g.rework}
            rowKey={(w) => w.id}
            empty="No repairs."
            columns={[
              { key: 'performedAt', header: 'When', render: (w) => formatDateTime(w.performedAt) },
              { key: 'action', header: 'Action' },
              { key: 'refdes', header: 'Refdes', render: (w) => (w.refdes ? <span className="refdes">{w.refdes}</span> : '') },
              { key: 'packages', header: 'Removed → new', render: (w) => `${w.removedPackage?.packageCode ?? '—'} → ${w.newPackage?.packageCode ?? '—'}` },
              { key: 'verified', header: 'Verified', render: (w) => <Badge tone={w.verified ? 'good' : 'warn'}>{w.verified ? 'verified' : 'open'}</Badge> },
            ]}
          />
        </Panel>
        <Panel title="Holds covering the unit">
          <DataTable
            testId="holds-table"
            rows={g.holds}
            rowKey={(h) => h.id}
            empty="No hold has covered this unit."
            columns={[
              { key: 'number', header: 'Hold' },
              { key: 'scope', header: 'Scope' },
              { key: 'reason', header: 'Reason', render: (h) => `${h.reasonCode}: ${h.reason}` },
              { key: 'active', header: 'State', render: (h) => <Badge tone={h.active ? 'bad' : 'good'}>{h.active ? 'active' : 'released'}</Badge> },
            ]}
          />
        </Panel>
      </div>
    </div>
  );
}
