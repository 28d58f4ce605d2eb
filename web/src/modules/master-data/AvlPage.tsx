import { useState } from 'react';
import { api, type AvlEntry } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { RecordForm, initialValues, toBody, type FieldSpec } from '../../components/RecordForm.tsx';
import { Badge, Button, Field, Loading, Notice, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { AVL_PERMISSION_ROLES, R } from '../../roles.ts';
import { navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';

const ENTRY_FIELDS: FieldSpec[] = [
  { name: 'ipn', label: 'IPN', required: true },
  { name: 'manufacturer', label: 'Manufacturer', required: true },
  { name: 'mpn', label: 'MPN', required: true },
  { name: 'preference', label: 'Preference', type: 'number', min: 1, max: 99, hint: '1 = preferred' },
  { name: 'alternate', label: 'Alternate (needs a permission to be used)', type: 'checkbox' },
  { name: 'active', label: 'Active', type: 'checkbox' },
  { name: 'notes', label: 'Notes', wide: true },
];

const GRANT_FIELDS: FieldSpec[] = [
  { name: 'scope', label: 'Scope', type: 'select', required: true, options: [{ value: 'global', label: 'Global' }, { value: 'product_revision', label: 'One product revision' }, { value: 'work_order', label: 'One work order' }] },
  { name: 'productRevisionId', label: 'Product revision id', type: 'number', min: 1, hint: 'For the product-revision scope' },
  { name: 'workOrderId', label: 'Work order id', type: 'number', min: 1, hint: 'For the work-order scope' },
  { name: 'reason', label: 'Reason', required: true, wide: true },
];

function Permissions({ entry }: { entry: AvlEntry }) {
  const canGrant = useCan(AVL_PERMISSION_ROLES);
  const q = useQuery(() => api.avl.permissions(entry.id), [entry.id]);
  const [granting, setGranting] = useState(false);
  const [grant, grantState] = useAction(async (v: Record<string, string | boolean>) => {
    await api.avl.grant(entry.id, toBody(GRANT_FIELDS, v) as Parameters<typeof api.avl.grant>[1]);
    setGranting(false);
    q.reload();
  });
  const [revoke, revokeState] = useAction(async (id: number, reason: string) => {
    await api.avl.revoke(id, reason);
    q.reload();
  });
  return (
    <div className="subpanel">
      <h3>Permissions to use this alternate</h3>
      <ErrorPanel error={q.error ?? revokeState.error} />
      <DataTable
        rows={q.data}
        rowKey={(p) => p.id}
        empty="No permission: this alternate may not be used in any build."
        columns={[
          { key: 'scope', header: 'Scope', render: (p) => (p.scope === 'global' ? 'global' : p.scope === 'product_revision' ? `product revision #${p.productRevisionId}` : `work order #${p.workOrderId}`) },
          { key: 'reason', header: 'Reason' },
          { key: 'grantedBy', header: 'Granted by', render: (p) => `${p.grantedBy}, ${formatDateTime(p.grantedAt)}` },
          ...(canGrant
            ? [
                {
                  key: 'x',
                  header: '',
                  align: 'right' as const,
                  render: (p: { id: number }) => (
                    <Button
                      variant="ghost"
                      className="btn-danger-text"
                      onClick={() => {
                        const reason = window.prompt('Why is this permission withdrawn?');
                        if (reason && reason.trim().length >= 3) void revoke(p.id, reason.trim());
                      }}
                    >
                      Withdraw
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
      {canGrant && !granting ? (
        <Button onClick={() => setGranting(true)}>Permit this alternate…</Button>
      ) : null}
      {granting ? (
        <RecordForm fields={GRANT_FIELDS} initial={initialValues(GRANT_FIELDS, { scope: 'global' })} submitLabel="Grant permission" onSubmit={grant} onCancel={() => setGranting(false)} busy={grantState.busy} error={grantState.error} />
      ) : null}
    </div>
  );
}

/** The approved vendor list: which MPNs may be used for which IPN; alternates need a permission. */
export function AvlPage({ query }: ScreenProps) {
  const canWrite = useCan(R.masterDataWrite);
  const ipn = query.get('ipn') ?? '';
  const mpn = query.get('mpn') ?? '';
  const [ipnInput, setIpnInput] = useState(ipn);
  const [mpnInput, setMpnInput] = useState(mpn);
  const [open, setOpen] = useState<number | null>(null);
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const q = useQuery(() => api.avl.list({ ...(ipn ? { ipn } : {}), ...(mpn ? { mpn } : {}) }), [ipn, mpn]);
  const [save, saveState] = useAction(async (v: Record<string, string | boolean>) => {
    const r = await api.avl.put(toBody(ENTRY_FIELDS, v) as Parameters<typeof api.avl.put>[0]);
    setNotice(`AVL entry ${r.entry.ipn} / ${r.entry.mpn}: ${r.change}`);
    setAdding(false);
    q.reload();
  });

  const applyFilter = () => {
    const sp = new URLSearchParams();
    if (ipnInput.trim()) sp.set('ipn', ipnInput.trim());
    if (mpnInput.trim()) sp.set('mpn', mpnInput.trim());
    const qs = sp.toString();
    // The same filter again means "look again": the list may have changed meanwhile.
    if (qs === new URLSearchParams({ ...(ipn ? { ipn } : {}), ...(mpn ? { mpn } : {}) }).toString()) q.reload();
    else navigate(`/avl${qs ? `?${qs}` : ''}`, { replace: true });
  };

  return (
    <>
      <PageHeader title="Approved vendor list" subtitle="Manufacturer parts approved per IPN. An alternate may be used only with a permission (global, per product revision or per work order)." />
      <Panel
        actions={
          canWrite ? (
            <Button variant="primary" onClick={() => (setAdding(true), setNotice(null))}>
              Add AVL entry
            </Button>
          ) : undefined
        }
        title={
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              applyFilter();
            }}
          >
            <Field label="IPN">
              <input value={ipnInput} onChange={(e) => setIpnInput(e.target.value)} placeholder="exact IPN" />
            </Field>
            <Field label="MPN">
              <input value={mpnInput} onChange={(e) => setMpnInput(e.target.value)} placeholder="exact MPN" />
            </Field>
            <Button type="submit">Show</Button>
            {ipn || mpn ? (
              <Button variant="ghost" onClick={() => (setIpnInput(''), setMpnInput(''), navigate('/avl', { replace: true }))}>
                All
              </Button>
            ) : null}
          </form>
        }
      >
        {notice ? <Notice onClose={() => setNotice(null)}>{notice}</Notice> : null}
        {adding ? (
          <RecordForm
            title="Add or change an AVL entry"
            fields={ENTRY_FIELDS}
            initial={initialValues(ENTRY_FIELDS, { ipn, mpn, preference: 1, active: true })}
            submitLabel="Save entry"
            onSubmit={save}
            onCancel={() => setAdding(false)}
            busy={saveState.busy}
            error={saveState.error}
          />
        ) : null}
        <ErrorPanel error={q.error} />
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable
            testId="avl"
            rows={q.data}
            rowKey={(r) => r.id}
            empty="No AVL entries match."
            onRowClick={(r) => setOpen(open === r.id ? null : r.id)}
            expanded={(r) => (open === r.id && r.alternate ? <Permissions entry={r} /> : open === r.id ? <p className="muted">An approved source needs no permission.</p> : null)}
            columns={[
              { key: 'ipn', header: 'IPN', render: (r) => <strong>{r.ipn}</strong> },
              { key: 'manufacturer', header: 'Manufacturer' },
              { key: 'mpn', header: 'MPN', render: (r) => <code>{r.mpn}</code> },
              { key: 'kind', header: 'Kind', render: (r) => (r.alternate ? <Badge tone="warn">alternate</Badge> : <Badge tone="good">approved</Badge>) },
              { key: 'active', header: 'State', render: (r) => (r.active ? 'active' : <Badge>inactive</Badge>) },
              { key: 'preference', header: 'Pref.', align: 'right' },
              { key: 'notes', header: 'Notes' },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
