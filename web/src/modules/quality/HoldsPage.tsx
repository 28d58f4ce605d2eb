import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button, Field, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { useCan } from '../../session.tsx';
import { HOLD_SCOPES, QUALITY_ROLES, qualityApi, type Hold, type HoldScope, type UnitRef } from './api.ts';
import { QBadge, SignedAction, splitSerials } from './common.tsx';

/** The input each scope needs: [body field, label, kind]. */
const SCOPE_FIELDS: Record<HoldScope, [string, string, 'text' | 'number' | 'list' | 'datetime'][]> = {
  unit: [['serial', 'Serial', 'text']],
  units: [['serials', 'Serials (spaces, commas or new lines)', 'list']],
  panel: [['panel', 'Panel ID', 'text']],
  lot: [['lot', 'Production lot code', 'text']],
  work_order: [['workOrder', 'Work order number', 'text']],
  product_revision: [['productRevisionId', 'Product revision id', 'number']],
  material_lot: [['materialLotId', 'Material lot id', 'number']],
  package: [['packageCode', 'Package ID', 'text']],
  station: [['station', 'Station code', 'text']],
  station_window: [['station', 'Station code', 'text'], ['from', 'From', 'datetime'], ['to', 'To', 'datetime']],
};

function HoldForm({ onDone }: { onDone(h: Hold): void }) {
  const reasons = useQuery(() => qualityApi.holdReasons(), []);
  const [scope, setScope] = useState<HoldScope>('unit');
  const [v, setV] = useState<Record<string, string>>({});
  const [reasonCode, setReasonCode] = useState('');
  const [reason, setReason] = useState('');
  const [run, state] = useAction(async () => {
    const body: Record<string, unknown> = { scope, reasonCode: reasonCode || reasons.data?.[0]?.code, reason: reason.trim() };
    for (const [name, , kind] of SCOPE_FIELDS[scope]) {
      const s = (v[name] ?? '').trim();
      if (!s) continue;
      body[name] = kind === 'number' ? Number(s) : kind === 'list' ? splitSerials(s) : kind === 'datetime' ? new Date(s).toISOString() : s;
    }
    onDone(await qualityApi.placeHold(body));
  });
  return (
    <form
      className="record-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
      data-testid="hold-form"
    >
      <div className="form-grid">
        <Field label="Scope" required>
          <select value={scope} onChange={(e) => (setScope(e.target.value as HoldScope), setV({}))}>
            {HOLD_SCOPES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </Field>
        {SCOPE_FIELDS[scope].map(([name, label, kind]) => (
          <Field key={name} label={label} required wide={kind === 'list'}>
            {kind === 'list' ? (
              <textarea rows={3} value={v[name] ?? ''} onChange={(e) => setV((s) => ({ ...s, [name]: e.target.value }))} />
            ) : (
              <input type={kind === 'number' ? 'number' : kind === 'datetime' ? 'datetime-local' : 'text'} value={v[name] ?? ''} onChange={(e) => setV((s) => ({ ...s, [name]: e.target.value }))} />
            )}
          </Field>
        ))}
        <Field label="Reason code" required>
          <select value={reasonCode} onChange={(e) => setReasonCode(e.target.value)}>
            {(reasons.data ?? []).map((r) => (
              <option key={r.code} value={r.code}>
                {r.code} · {r.description}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Reason" required wide>
          <input value={reason} onChange={(e) => setReason(e.target.value)} />
        </Field>
      </div>
      <ErrorPanel error={state.error} />
      <div className="form-actions">
        <Button type="submit" variant="danger" busy={state.busy} disabled={reason.trim().length < 3}>
          Place hold
        </Button>
      </div>
    </form>
  );
}

function HoldUnits({ id }: { id: number }) {
  const q = useQuery(() => qualityApi.holdUnits(id), [id]);
  if (q.error) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading />;
  return (
    <DataTable<UnitRef>
      rows={q.data}
      rowKey={(u) => u.unitId}
      limit={200}
      empty="The hold covers no unit now."
      columns={[
        { key: 'serial', header: 'Serial' },
        { key: 'workOrderNumber', header: 'Work order' },
        { key: 'status', header: 'Status' },
      ]}
    />
  );
}

/** Holds: active and released, placing one by scope, and the signed release. */
export function HoldsPage() {
  const canHold = useCan(QUALITY_ROLES.hold);
  const canRelease = useCan(QUALITY_ROLES.quality);
  const [active, setActive] = useState<'true' | 'false' | ''>('true');
  const q = useQuery(() => qualityApi.holds({ active: active === '' ? undefined : active === 'true', limit: 500 }), [active]);
  const [adding, setAdding] = useState(false);
  const [openId, setOpenId] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <>
      <PageHeader
        title="Holds"
        subtitle="A hold stops the units it covers at every station, at packing and at shipment clearance; releasing it is signed by a quality engineer."
        actions={canHold ? <Button variant="primary" onClick={() => setAdding((a) => !a)}>{adding ? 'Cancel' : 'Place a hold'}</Button> : null}
      />
      {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
      {adding ? (
        <Panel title="Place a hold">
          <HoldForm onDone={(h) => (setAdding(false), setNotice(`Hold ${h.number} placed`), q.reload())} />
        </Panel>
      ) : null}
      <Panel
        title={q.data ? `${q.data.length} hold${q.data.length === 1 ? '' : 's'}` : undefined}
        actions={
          <select value={active} onChange={(e) => setActive(e.target.value as typeof active)} aria-label="Which holds">
            <option value="true">active</option>
            <option value="false">released</option>
            <option value="">all</option>
          </select>
        }
      >
        <ErrorPanel error={q.error} />
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable<Hold>
            testId="holds"
            rows={q.data}
            rowKey={(h) => h.id}
            onRowClick={(h) => setOpenId(openId === h.id ? null : h.id)}
            expanded={(h) => (openId === h.id ? <HoldUnits id={h.id} /> : null)}
            empty="No hold."
            columns={[
              { key: 'number', header: 'Hold', render: (h) => <strong>{h.number}</strong> },
              { key: 'scope', header: 'Scope', render: (h) => h.scope.replace('_', ' ') },
              { key: 'reason', header: 'Reason', render: (h) => `${h.reasonCode}: ${h.reason}` },
              { key: 'placedAt', header: 'Placed', render: (h) => `${formatDateTime(h.placedAt)} · ${h.placedBy}` },
              { key: 'state', header: 'State', render: (h) => (h.releasedAt ? <QBadge state="released" /> : <QBadge state="active" />) },
              {
                key: 'act', header: '', align: 'right',
                render: (h) =>
                  !h.releasedAt && canRelease ? (
                    <span onClick={(e) => e.stopPropagation()}>
                      <SignedAction label="Release" title={`Release hold ${h.number}`} meanings={['released']} sign={(s) => qualityApi.releaseHold(h.id, s)} onDone={(r) => (setNotice(`Hold ${r.number} released (signed)`), q.reload())}>
                        {h.scope.replace('_', ' ')} hold: {h.reason}
                      </SignedAction>
                    </span>
                  ) : h.releasedAt ? (
                    <span className="muted">
                      {formatDateTime(h.releasedAt)} · {h.releasedBy}
                    </span>
                  ) : null,
              },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
