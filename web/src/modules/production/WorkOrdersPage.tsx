import { useState } from 'react';
import { api } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { RecordForm, initialValues, toBody, type FieldSpec } from '../../components/RecordForm.tsx';
import { Badge, Button, Loading, PageHeader, Panel, formatDateTime, type Tone } from '../../components/ui.tsx';
import { useAction, useDebounced, useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { PLANNING_ROLES, WORK_ORDER_STATES, workOrdersApi, type WorkOrderInput } from './api.ts';

const TONE: Record<string, Tone> = { planned: 'neutral', released: 'info', in_progress: 'good', on_hold: 'bad', completed: 'good', closed: 'neutral', cancelled: 'neutral' };
export function WoStateBadge({ state }: { state: string }) {
  return <Badge tone={TONE[state] ?? 'neutral'}>{state.replace('_', ' ')}</Badge>;
}

/** Work orders: filter by state, line, product and due date; create one (planned). */
export function WorkOrdersPage({ query }: ScreenProps) {
  const canPlan = useCan(PLANNING_ROLES);
  const [state, setState] = useState(query.get('state') ?? '');
  const [lineId, setLineId] = useState(query.get('lineId') ?? '');
  const [product, setProduct] = useState('');
  const [dueBy, setDueBy] = useState('');
  const [adding, setAdding] = useState(false);
  const meta = useQuery(async () => {
    const [lines, revisions] = await Promise.all([api.lines.list(), api.revisions.list({ state: 'released' })]);
    return { lines, revisions };
  }, []);
  // Every filter is the server's (the search waits for a pause in typing).
  const q = useDebounced(product.trim());
  const list = useQuery(
    (signal) => workOrdersApi.list({ ...(state ? { state } : {}), ...(lineId ? { lineId: Number(lineId) } : {}), ...(q ? { q } : {}), ...(dueBy ? { dueBy } : {}), limit: 1000 }, signal),
    [state, lineId, q, dueBy],
  );
  const fields: FieldSpec[] = [
    { name: 'number', label: 'Work order number', required: true, hint: 'As in the ERP; letters, digits, . _ / -' },
    {
      name: 'productRevisionId', label: 'Product revision', type: 'select', required: true, numeric: true,
      options: (meta.data?.revisions ?? []).map((r) => ({ value: String(r.id), label: `${r.productCode} rev ${r.revision}` })), emptyLabel: 'Choose a released revision',
    },
    { name: 'quantity', label: 'Quantity', type: 'number', required: true, min: 1 },
    { name: 'lineId', label: 'Line', type: 'select', numeric: true, options: (meta.data?.lines ?? []).map((l) => ({ value: String(l.id), label: `${l.code} · ${l.name}` })), emptyLabel: 'No line yet' },
    { name: 'dueDate', label: 'Due date', type: 'text', placeholder: 'YYYY-MM-DD', pattern: '\\d{4}-\\d{2}-\\d{2}' },
    { name: 'customer', label: 'Customer' },
    { name: 'customerPo', label: 'Customer PO' },
    { name: 'overrunUnits', label: 'Overrun (units)', type: 'number', min: 0 },
  ];
  const [create, createState] = useAction(async (v: Record<string, string | boolean>) => {
    const wo = await workOrdersApi.create(toBody(fields, v) as unknown as WorkOrderInput);
    navigate(`/work-orders/${wo.id}`);
  });
  return (
    <>
      <PageHeader
        title="Work orders"
        subtitle="What to build, on which line, by when. Release freezes the build basis; the line runs one active order."
        actions={
          canPlan ? (
            <Button variant="primary" onClick={() => setAdding(true)}>
              New work order
            </Button>
          ) : null
        }
      />
      {adding ? (
        <RecordForm title="New work order" fields={fields} initial={initialValues(fields)} submitLabel="Create work order" onSubmit={create} onCancel={() => setAdding(false)} busy={createState.busy} error={createState.error} testId="wo-form" />
      ) : null}
      <Panel>
        <div className="inline-form wo-filters" role="search">
          <label className="field">
            <span className="field-label">State</span>
            <select value={state} onChange={(e) => setState(e.target.value)} aria-label="State">
              <option value="">All states</option>
              {WORK_ORDER_STATES.map((s) => (
                <option key={s} value={s}>
                  {s.replace('_', ' ')}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span className="field-label">Line</span>
            <select value={lineId} onChange={(e) => setLineId(e.target.value)} aria-label="Line">
              <option value="">All lines</option>
              {(meta.data?.lines ?? []).map((l) => (
                <option key={l.id} value={l.id}>
                  {l.code}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span className="field-label">Product / customer</span>
            <input type="search" value={product} onChange={(e) => setProduct(e.target.value)} placeholder="e.g. CTRL-100" aria-label="Product" />
          </label>
          <label className="field">
            <span className="field-label">Due by</span>
            <input type="date" value={dueBy} onChange={(e) => setDueBy(e.target.value)} aria-label="Due by" />
          </label>
        </div>
        <ErrorPanel error={list.error ?? meta.error} />
        {list.loading && !list.data ? (
          <Loading />
        ) : (
          <DataTable
            testId="work-orders"
            rows={list.data}
            rowKey={(w) => w.id}
            onRowClick={(w) => navigate(`/work-orders/${w.id}`)}
            empty="No work order matches the filter."
            columns={[
              { key: 'number', header: 'Number', render: (w) => <strong>{w.number}</strong> },
              { key: 'state', header: 'State', render: (w) => <WoStateBadge state={w.state} /> },
              { key: 'product', header: 'Product', render: (w) => `${w.productCode} rev ${w.revision}` },
              { key: 'quantity', header: 'Qty', align: 'right', render: (w) => w.quantity },
              { key: 'line', header: 'Line', render: (w) => (w.lineCode ? `${w.lineCode}${w.activeOnLine ? ' · active' : ''}` : '—') },
              { key: 'due', header: 'Due', render: (w) => w.dueDate ?? '—' },
              { key: 'customer', header: 'Customer' },
              { key: 'created', header: 'Created', render: (w) => formatDateTime(w.createdAt) },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
