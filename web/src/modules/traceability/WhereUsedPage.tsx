import { useState } from 'react';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Field, Notice, PageHeader, Panel } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { STATE_LABEL, TRACE_ROLES, UNIT_STATES, traceApi, type Impact, type PlacedHold, type TraceQuery } from './api.ts';
import { StateBadge } from './UnitPage.tsx';
import './trace.css';

type Kind = TraceQuery['kind'];
/** The fields of each starting point: [name, label, input type, required]. */
const KINDS: Record<Kind, { label: string; fields: [string, string, 'text' | 'number' | 'datetime', boolean][] }> = {
  material_lot: { label: 'Supplier lot', fields: [['materialLotId', 'Material lot id', 'number', true]] },
  package: { label: 'Package', fields: [['package', 'Package ID', 'text', true]] },
  mpn: { label: 'MPN + date codes', fields: [['mpn', 'MPN', 'text', true], ['dateCodeFrom', 'Date code from', 'text', false], ['dateCodeTo', 'Date code to', 'text', false]] },
  paste_jar: { label: 'Paste jar', fields: [['package', 'Paste jar ID', 'text', true]] },
  stencil: { label: 'Stencil', fields: [['stencil', 'Stencil code', 'text', true]] },
  program: { label: 'Program revision', fields: [['program', 'Program name', 'text', true], ['revision', 'Revision', 'text', false], ['equipment', 'Equipment code', 'text', false]] },
  operator: { label: 'Operator', fields: [['operator', 'Operator', 'text', true], ['from', 'From', 'datetime', false], ['to', 'To', 'datetime', false]] },
  station_window: { label: 'Station + time window', fields: [['station', 'Station code', 'text', true], ['from', 'From', 'datetime', true], ['to', 'To', 'datetime', true]] },
};

function toQuery(kind: Kind, v: Record<string, string>): TraceQuery {
  const q: Record<string, unknown> = { kind };
  for (const [name, , type] of KINDS[kind].fields) {
    const s = (v[name] ?? '').trim();
    if (!s) continue;
    q[name] = type === 'number' ? Number(s) : type === 'datetime' ? new Date(s).toISOString() : s;
  }
  return q as TraceQuery;
}

function HoldAll({ query, total, onHeld }: { query: TraceQuery; total: number; onHeld(h: PlacedHold): void }) {
  const reasons = useQuery(() => traceApi.holdReasons(), []);
  const [reasonCode, setReasonCode] = useState('RECALL');
  const [reason, setReason] = useState('');
  const [run, state] = useAction(async () => onHeld(await traceApi.holdAll(query, reasonCode, reason.trim())));
  return (
    <form className="record-form" data-testid="hold-all-form" onSubmit={(e) => (e.preventDefault(), void run())}>
      <div className="form-grid">
        <Field label="Reason code" required>
          <select value={reasonCode} onChange={(e) => setReasonCode(e.target.value)}>
            {(reasons.data ?? [{ code: 'RECALL', description: 'Recall containment' }]).map((r) => (
              <option key={r.code} value={r.code}>{r.code} · {r.description}</option>
            ))}
          </select>
        </Field>
        <Field label="Reason" required wide>
          <input value={reason} onChange={(e) => setReason(e.target.value)} name="hold-reason" />
        </Field>
      </div>
      <ErrorPanel error={state.error} />
      <div className="form-actions">
        <Button type="submit" variant="danger" busy={state.busy} disabled={reason.trim().length < 3}>Hold all {total} units</Button>
      </div>
    </form>
  );
}

/** Where-used and recall impact from any starting point; "Hold all" contains the result in one action. */
export function WhereUsedPage({ query: search }: ScreenProps) {
  const initialKind = (search.get('kind') as Kind | null) ?? 'package';
  const [kind, setKind] = useState<Kind>(KINDS[initialKind] ? initialKind : 'package');
  const [v, setV] = useState<Record<string, string>>(() => Object.fromEntries([...search.entries()].filter(([k]) => k !== 'kind')));
  const [asked, setAsked] = useState<TraceQuery | null>(() => (search.get('kind') && KINDS[initialKind] ? toQuery(initialKind, Object.fromEntries(search.entries())) : null));
  const [held, setHeld] = useState<PlacedHold | null>(null);
  const canHold = useCan(TRACE_ROLES.hold);
  const result = useQuery<Impact | null>(() => (asked ? traceApi.whereUsed(asked, { limit: 1000 }) : Promise.resolve(null)), [asked, held?.id]);
  const ask = () => {
    setHeld(null);
    setAsked(toQuery(kind, v));
  };
  const r = result.data;
  return (
    <div>
      <PageHeader title="Where-used and recall impact" subtitle="From a material, program, operator or station window to the affected units" />
      <Panel>
        <form className="record-form" data-testid="where-used-form" onSubmit={(e) => (e.preventDefault(), ask())}>
          <div className="form-grid">
            <Field label="Starting point" required>
              <select value={kind} onChange={(e) => (setKind(e.target.value as Kind), setV({}))} name="kind">
                {(Object.keys(KINDS) as Kind[]).map((k) => <option key={k} value={k}>{KINDS[k].label}</option>)}
              </select>
            </Field>
            {KINDS[kind].fields.map(([name, label, type, required]) => (
              <Field key={name} label={label} required={required}>
                <input name={name} type={type === 'number' ? 'number' : type === 'datetime' ? 'datetime-local' : 'text'} value={v[name] ?? ''} onChange={(e) => setV((s) => ({ ...s, [name]: e.target.value }))} />
              </Field>
            ))}
          </div>
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={result.loading && !!asked}>Find units</Button>
          </div>
        </form>
        <ErrorPanel error={result.error} />
      </Panel>
      {r ? (
        <>
          <Panel title={`${r.total} affected units`}>
            <div className="trace-counts" data-testid="impact-counts">
              {UNIT_STATES.map((s) => (
                <div key={s} className={`trace-count trace-count-${s}${r.byState[s] > 0 ? ' trace-count-some' : ''}`} data-testid={`count-${s}`}>
                  <div className="trace-count-value">{r.byState[s]}</div>
                  <div className="trace-count-label">{STATE_LABEL[s]}</div>
                </div>
              ))}
            </div>
            <div className="trace-grid">
              <DataTable rows={r.byWorkOrder} rowKey={(w) => w.workOrderId} empty="No work order." columns={[
                { key: 'number', header: 'Work order' }, { key: 'customer', header: 'Customer' }, { key: 'customerPo', header: 'PO' }, { key: 'units', header: 'Units', align: 'right' },
              ]} />
              <DataTable rows={r.byCustomer} rowKey={(c) => c.customer} empty="No customer." columns={[
                { key: 'customer', header: 'Customer' }, { key: 'units', header: 'Units', align: 'right' }, { key: 'shipped', header: 'Shipped', align: 'right' },
              ]} />
              <DataTable rows={r.shipments} rowKey={(s) => s.number} empty="None shipped." columns={[
                { key: 'number', header: 'Shipment' }, { key: 'customer', header: 'Customer' }, { key: 'state', header: 'State' }, { key: 'units', header: 'Units', align: 'right' },
              ]} />
            </div>
          </Panel>
          {canHold && asked && r.total > 0 ? (
            <Panel title="Containment">
              {held ? (
                <Notice tone="warn">
                  <span data-testid="created-hold">Hold {held.number}</span> placed on {held.units} units ({held.reasonCode}: {held.reason}). The interlock, packing and shipment clearance now refuse them; release needs a signature (Quality → Holds).
                </Notice>
              ) : (
                <HoldAll query={asked} total={r.total} onHeld={setHeld} />
              )}
            </Panel>
          ) : null}
          <Panel title="Units">
            <DataTable testId="where-used-units" rows={r.units ?? []} rowKey={(u) => u.unitId} onRowClick={(u) => navigate(`/trace/units/${encodeURIComponent(u.serial)}`)} limit={1000} columns={[
              { key: 'serial', header: 'Serial', render: (u) => <span className="mono">{u.serial}</span> },
              { key: 'state', header: 'State', render: (u) => <StateBadge state={u.state} /> },
              { key: 'workOrderNumber', header: 'Work order' }, { key: 'customer', header: 'Customer' },
              { key: 'carton', header: 'Carton', render: (u) => u.carton ?? '' }, { key: 'shipment', header: 'Shipment', render: (u) => u.shipment ?? '' },
              { key: 'via', header: 'Via', render: (u) => u.via ?? '' },
            ]} />
            {r.nextAfterId ? <p className="table-note">The first {r.units?.length} units are shown.</p> : null}
          </Panel>
        </>
      ) : null}
    </div>
  );
}
