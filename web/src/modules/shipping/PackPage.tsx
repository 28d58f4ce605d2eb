import { useState } from 'react';
import { isApiError } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { LabelActions } from '../../components/LabelActions.tsx';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Badge, Button, Field, Loading, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { Verdict, type VerdictProps } from '../../components/Verdict.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { SHIPPING_ROLES, shippingApi, type Carton, type Refusal } from './api.ts';

type Shown = VerdictProps & { seq: number; refusals?: Refusal[] };

function NewCarton() {
  const [wo, setWo] = useState('');
  const [capacity, setCapacity] = useState('10');
  const [create, state] = useAction(async () => {
    const c = await shippingApi.createCarton({ workOrder: wo.trim(), capacity: Number(capacity) });
    navigate(`/shipping/pack/${c.id}`);
  });
  return (
    <form
      className="record-form"
      onSubmit={(e) => {
        e.preventDefault();
        void create();
      }}
    >
      <div className="form-grid">
        <Field label="Work order" required>
          <input value={wo} onChange={(e) => setWo(e.target.value)} placeholder="Work order number" />
        </Field>
        <Field label="Capacity" required>
          <input type="number" min={1} value={capacity} onChange={(e) => setCapacity(e.target.value)} />
        </Field>
      </div>
      <ErrorPanel error={state.error} />
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={state.busy} disabled={!wo.trim()}>
          Open carton
        </Button>
      </div>
    </form>
  );
}

/** Packing station: open or pick a carton, then scan units into it; refusals are shown big with every reason. */
export function PackPage({ params }: ScreenProps) {
  const id = params.id ? Number(params.id) : null;
  return id ? <PackCarton key={id} id={id} /> : <PickCarton />;
}

function PickCarton() {
  const canPack = useCan(SHIPPING_ROLES.pack);
  const open = useQuery(() => shippingApi.cartons({ state: 'open', limit: 200 }), []);
  const [err, setErr] = useState<string | null>(null);
  return (
    <>
      <PageHeader title="Packing" subtitle="Scan a carton to continue packing it, or open a new one for a work order." />
      <Panel className="scan-panel">
        <ScanInput
          id="carton-scan"
          label="Scan a carton ID"
          holdFocus={false}
          onScan={async (code) => {
            try {
              const c = await shippingApi.cartonByCode(code);
              navigate(`/shipping/pack/${c.id}`);
            } catch (e) {
              if (isApiError(e) && e.code === 'NOT_FOUND') setErr(`There is no carton ${code}.`);
              else setErr(isApiError(e) ? `${e.detail} (${e.code})` : String(e));
            }
          }}
        />
        {err ? <Verdict kind="nogo" size="compact" title="Unknown carton" reason={err} /> : null}
      </Panel>
      {canPack ? (
        <Panel title="Open a new carton">
          <NewCarton />
        </Panel>
      ) : null}
      <Panel title="Open cartons">
        <ErrorPanel error={open.error} />
        {open.loading && !open.data ? (
          <Loading />
        ) : (
          <DataTable<Carton>
            testId="open-cartons"
            rows={open.data}
            rowKey={(c) => c.id}
            onRowClick={(c) => navigate(`/shipping/pack/${c.id}`)}
            empty="No open carton."
            columns={[
              { key: 'code', header: 'Carton', render: (c) => <strong className="mono">{c.code}</strong> },
              { key: 'workOrderNumber', header: 'Work order' },
              { key: 'productCode', header: 'Product', render: (c) => `${c.productCode} rev ${c.revision}` },
              { key: 'packed', header: 'Packed', align: 'right', render: (c) => `${c.packed} / ${c.capacity}` },
              { key: 'createdAt', header: 'Opened', render: (c) => formatDateTime(c.createdAt) },
            ]}
          />
        )}
      </Panel>
    </>
  );
}

function PackCarton({ id }: { id: number }) {
  const canPack = useCan(SHIPPING_ROLES.pack);
  const q = useQuery(() => shippingApi.carton(id), [id]);
  const [shown, setShown] = useState<Shown | null>(null);
  const show = (v: Omit<Shown, 'seq'>) => setShown((s) => ({ ...v, seq: (s?.seq ?? 0) + 1 }));
  const [close, closeState] = useAction(async () => {
    await shippingApi.close(id);
    q.reload();
  });
  const onScan = async (code: string) => {
    try {
      const r = await shippingApi.pack(id, code);
      show({ kind: 'go', title: 'Packed', reason: `${r.serial} is in carton ${r.carton.code} (${r.carton.packed} of ${r.carton.capacity}).${r.carton.state === 'closed' ? ' The carton is full and closed.' : ''}` });
      q.reload();
    } catch (e) {
      if (!isApiError(e)) throw e;
      const refusals = (e.details?.refusals as Refusal[] | undefined) ?? [];
      show({ kind: 'nogo', title: 'Not packed', reason: refusals.length ? `${code} cannot go into this carton.` : e.detail, code: e.code, refusals });
    }
  };
  const c = q.data;
  if (!c) return q.error ? <ErrorPanel error={q.error} /> : <Loading />;
  return (
    <>
      <PageHeader
        title={
          <>
            Carton <span className="mono">{c.code}</span> <Badge tone={c.state === 'open' ? 'info' : c.state === 'shipped' ? 'good' : 'neutral'}>{c.state}</Badge>
          </>
        }
        subtitle={`${c.workOrderNumber} · ${c.productCode} rev ${c.revision}${c.shipmentNumber ? ` · shipment ${c.shipmentNumber}` : ''}`}
        actions={
          <>
            <Button variant="ghost" onClick={() => navigate('/shipping/pack')}>
              Other carton
            </Button>
            {canPack && c.state === 'open' ? (
              <Button busy={closeState.busy} onClick={() => void close()}>
                Close carton
              </Button>
            ) : null}
          </>
        }
      />
      <ErrorPanel error={closeState.error} onClose={closeState.clearError} />
      <div className="stat-row">
        <div className="stat">
          <span className="stat-label">Packed</span>
          <span className="big-count" data-testid="carton-count">
            {c.packed} / {c.capacity}
          </span>
        </div>
      </div>
      {c.state === 'open' && canPack ? (
        <Panel className="scan-panel">
          <ScanInput id="pack-scan" label={`Scan a unit into ${c.code}`} onScan={onScan} />
        </Panel>
      ) : null}
      {shown ? (
        <Verdict {...shown} beep>
          {shown.refusals?.length ? (
            <ol className="blockers" data-testid="pack-refusals">
              {shown.refusals.map((r, i) => (
                <li key={i} data-code={r.code}>
                  <span className="blocker-message">{r.message}</span>
                  <span className="blocker-meta">{r.code}</span>
                </li>
              ))}
            </ol>
          ) : null}
        </Verdict>
      ) : c.state === 'open' ? (
        <Verdict kind="idle" title="Ready" reason="Waiting for a unit scan." />
      ) : null}
      <div className="two-col">
        <Panel title={`${c.units.length} unit${c.units.length === 1 ? '' : 's'} in the carton`}>
          <DataTable
            testId="carton-units"
            rows={c.units}
            rowKey={(u) => u.serial}
            empty="Empty."
            columns={[
              { key: 'serial', header: 'Serial', render: (u) => <span className="mono">{u.serial}</span> },
              { key: 'packedAt', header: 'Packed', render: (u) => formatDateTime(u.packedAt as string | undefined) },
            ]}
          />
        </Panel>
        <Panel title="Carton label">
          <LabelActions base={`/shipping/cartons/${c.id}/label`} name={c.code} preview="both" />
        </Panel>
      </div>
    </>
  );
}
