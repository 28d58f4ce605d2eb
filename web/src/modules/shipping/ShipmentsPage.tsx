import { useState } from 'react';
import type { ApiError } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Badge, Button, Field, KeyValues, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { Verdict } from '../../components/Verdict.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { Link, navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { SignedAction } from '../quality/common.tsx';
import { SHIPPING_ROLES, shippingApi, type Carton, type ClearanceBlocker, type Shipment } from './api.ts';

const TONE = { open: 'info', released: 'good', cancelled: 'neutral' } as const;

/** Shipments: the list and creating one. */
export function ShipmentsPage() {
  const canShip = useCan(SHIPPING_ROLES.ship);
  const [state, setState] = useState<'open' | 'released' | ''>('open');
  const q = useQuery(() => shippingApi.shipments({ state: state || undefined, limit: 500 }), [state]);
  const [adding, setAdding] = useState(false);
  const [v, setV] = useState({ customer: '', customerPo: '', shipTo: '' });
  const [create, cs] = useAction(async () => {
    const s = await shippingApi.createShipment({ customer: v.customer.trim(), ...(v.customerPo.trim() ? { customerPo: v.customerPo.trim() } : {}), ...(v.shipTo.trim() ? { shipTo: v.shipTo.trim() } : {}) });
    navigate(`/shipping/shipments/${s.id}`);
  });
  return (
    <>
      <PageHeader
        title="Shipments"
        subtitle="Cartons go into a shipment; a shipment is released, signed, only when its clearance finds no blocker."
        actions={canShip ? <Button variant="primary" onClick={() => setAdding((a) => !a)}>{adding ? 'Cancel' : 'New shipment'}</Button> : null}
      />
      {adding ? (
        <Panel title="New shipment">
          <form
            className="record-form"
            onSubmit={(e) => {
              e.preventDefault();
              void create();
            }}
          >
            <div className="form-grid">
              <Field label="Customer" required>
                <input value={v.customer} onChange={(e) => setV((s) => ({ ...s, customer: e.target.value }))} />
              </Field>
              <Field label="Customer PO">
                <input value={v.customerPo} onChange={(e) => setV((s) => ({ ...s, customerPo: e.target.value }))} />
              </Field>
              <Field label="Ship to" wide>
                <textarea rows={2} value={v.shipTo} onChange={(e) => setV((s) => ({ ...s, shipTo: e.target.value }))} />
              </Field>
            </div>
            <ErrorPanel error={cs.error} />
            <div className="form-actions">
              <Button type="submit" variant="primary" busy={cs.busy} disabled={!v.customer.trim()}>
                Create shipment
              </Button>
            </div>
          </form>
        </Panel>
      ) : null}
      <Panel
        title={q.data ? `${q.data.length} shipment${q.data.length === 1 ? '' : 's'}` : undefined}
        actions={
          <select value={state} onChange={(e) => setState(e.target.value as typeof state)} aria-label="State">
            <option value="open">open</option>
            <option value="released">released</option>
            <option value="">all</option>
          </select>
        }
      >
        <ErrorPanel error={q.error} />
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable<Shipment>
            testId="shipments"
            rows={q.data}
            rowKey={(s) => s.id}
            onRowClick={(s) => navigate(`/shipping/shipments/${s.id}`)}
            empty="No shipment."
            columns={[
              { key: 'number', header: 'Shipment', render: (s) => <strong>{s.number}</strong> },
              { key: 'customer', header: 'Customer' },
              { key: 'customerPo', header: 'PO' },
              { key: 'cartons', header: 'Cartons', align: 'right' },
              { key: 'units', header: 'Units', align: 'right' },
              { key: 'state', header: 'State', render: (s) => <Badge tone={TONE[s.state]}>{s.state}</Badge> },
              { key: 'createdAt', header: 'Created', render: (s) => formatDateTime(s.createdAt) },
            ]}
          />
        )}
      </Panel>
    </>
  );
}

function BlockerList({ blockers, testId }: { blockers: ClearanceBlocker[]; testId: string }) {
  return (
    <ol className="blockers" data-testid={testId}>
      {blockers.map((b, i) => (
        <li key={i} data-code={b.code}>
          <span className="blocker-message">{b.message}</span>
          <span className="blocker-meta">
            {b.code}
            {b.carton ? ` · carton ${b.carton}` : ''}
          </span>
        </li>
      ))}
    </ol>
  );
}

/** One shipment: its cartons, the clearance check with every blocker, and the signed release. */
export function ShipmentPage({ params }: ScreenProps) {
  const id = Number(params.id);
  const canShip = useCan(SHIPPING_ROLES.ship);
  const canRelease = useCan(SHIPPING_ROLES.release);
  const q = useQuery(async () => {
    const [shipment, cartons, clearance] = await Promise.all([shippingApi.shipment(id), shippingApi.cartons({ shipmentId: id, limit: 5000 }), shippingApi.clearance(id)]);
    return { shipment, cartons, clearance };
  }, [id]);
  const [notice, setNotice] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [add, addState] = useAction(async (code: string) => {
    await shippingApi.addCartons(id, [code]);
    setNotice(`Carton ${code} added`);
    q.reload();
  });
  const [remove, removeState] = useAction(async (code: string) => {
    await shippingApi.removeCartons(id, [code]);
    setNotice(`Carton ${code} taken out`);
    q.reload();
  });
  if (!q.data) return q.error ? <ErrorPanel error={q.error} /> : <Loading />;
  const { shipment: s, cartons, clearance: c } = q.data;
  const open = s.state === 'open';
  return (
    <>
      <PageHeader
        title={
          <>
            Shipment {s.number} <Badge tone={TONE[s.state]}>{s.state}</Badge>
          </>
        }
        subtitle={
          <>
            <Link to="/shipping/shipments">Shipments</Link> · {s.customer}
            {s.customerPo ? ` · PO ${s.customerPo}` : ''}
          </>
        }
        actions={
          <>
            <Button variant="ghost" onClick={() => (setRefusal(null), q.reload())}>
              Check again
            </Button>
            {open && canRelease ? (
              <SignedAction
                label="Release shipment"
                title={`Release shipment ${s.number}`}
                meanings={['released']}
                sign={(sig) => shippingApi.release(id, sig)}
                refusalCodes={['SHIPMENT_BLOCKED']}
                onRefused={(e) => (setRefusal(e), q.reload())}
                onDone={(r) => (setNotice(`Shipment ${r.number} released (signed)`), setRefusal(null), q.reload())}
              >
                {c.cartons} carton(s), {c.units} unit(s) to {s.customer}.
              </SignedAction>
            ) : null}
          </>
        }
      />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      {refusal ? <Verdict kind="nogo" size="compact" title="Not released" reason={refusal.detail} code={refusal.code} /> : null}
      {s.state === 'released' ? (
        <Verdict kind="go" size="compact" title="Released" reason={`Released by ${s.releasedBy} on ${formatDateTime(s.releasedAt)}, signed.`} />
      ) : c.clear ? (
        <Verdict kind="go" title="Clear to ship" reason={`${c.cartons} carton(s) and ${c.units} unit(s) checked: no blocker.`} />
      ) : (
        <Verdict kind="nogo" title="Not clear to ship" reason={`${c.total} blocker${c.total === 1 ? '' : 's'} over ${c.units} unit(s) in ${c.cartons} carton(s).`} code={Object.entries(c.counts).map(([k, n]) => `${k} ×${n}`).join(' · ')}>
          <BlockerList blockers={c.blockers} testId="clearance-blockers" />
          {c.total > c.blockers.length ? <p>… and {c.total - c.blockers.length} more.</p> : null}
        </Verdict>
      )}
      <div className="two-col">
        <Panel title={`${cartons.length} carton${cartons.length === 1 ? '' : 's'}`}>
          {open && canShip ? (
            <>
              <ScanInput id="shipment-carton-scan" label="Scan a carton to add it" onScan={(code) => void add(code)} holdFocus={false} />
              <ErrorPanel error={addState.error ?? removeState.error} onClose={() => (addState.clearError(), removeState.clearError())} />
            </>
          ) : null}
          <DataTable<Carton>
            testId="shipment-cartons"
            rows={cartons}
            rowKey={(x) => x.id}
            empty="No carton yet."
            columns={[
              { key: 'code', header: 'Carton', render: (x) => <Link to={`/shipping/pack/${x.id}`} className="mono">{x.code}</Link> },
              { key: 'workOrderNumber', header: 'Work order' },
              { key: 'packed', header: 'Units', align: 'right' },
              { key: 'state', header: 'State' },
              ...(open && canShip
                ? [{ key: 'rm', header: '', align: 'right' as const, render: (x: Carton) => <Button variant="ghost" onClick={() => void remove(x.code)}>Take out</Button> }]
                : []),
            ]}
          />
        </Panel>
        <Panel title="Shipment">
          <KeyValues
            items={[
              ['Customer', s.customer],
              ['Customer PO', s.customerPo],
              ['Ship to', <span className="text-block">{s.shipTo}</span>],
              ['Created', `${formatDateTime(s.createdAt)} · ${s.createdBy}`],
              ['Clearance checked', `${formatDateTime(c.checkedAt)} (${Math.round(c.elapsedMs)} ms)`],
            ]}
          />
        </Panel>
      </div>
    </>
  );
}
