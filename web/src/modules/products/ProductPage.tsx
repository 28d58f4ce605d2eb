import { useState } from 'react';
import { api } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { RecordForm, initialValues, toBody, type FieldSpec } from '../../components/RecordForm.tsx';
import { Button, KeyValues, Loading, PageHeader, Panel, StateBadge, formatDateTime } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { R } from '../../roles.ts';
import { Link, navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';
import { PRODUCT_FIELDS } from './ProductsPage.tsx';

const REVISION_FIELDS: FieldSpec[] = [
  { name: 'revision', label: 'Revision', required: true, placeholder: 'A' },
  { name: 'bomRevision', label: 'BOM revision' },
  { name: 'gerberRevision', label: 'Gerber revision' },
  { name: 'assemblyDrawingRevision', label: 'Assembly drawing revision' },
  { name: 'centroidRevision', label: 'Centroid revision' },
];

export function ProductPage({ params }: ScreenProps) {
  const id = Number(params.id);
  const canWrite = useCan(R.masterDataWrite);
  const [mode, setMode] = useState<'none' | 'edit' | 'revision'>('none');
  const q = useQuery(async () => {
    const [product, revisions] = await Promise.all([api.products.get(id), api.revisions.list({ productId: id })]);
    return { product, revisions };
  }, [id]);
  const [save, saveState] = useAction(async (v: Record<string, string | boolean>) => {
    await api.products.update(id, toBody(PRODUCT_FIELDS, v, { onlyChanged: initialValues(PRODUCT_FIELDS, q.data!.product as unknown as Record<string, unknown>) }));
    setMode('none');
    q.reload();
  });
  const [createRev, revState] = useAction(async (v: Record<string, string | boolean>) => {
    const r = await api.revisions.create({ productId: id, ...(toBody(REVISION_FIELDS, v) as { revision: string }) });
    navigate(`/revisions/${r.id}`);
  });

  if (q.error && !q.data) return <ErrorPanel error={q.error} />;
  if (!q.data) return <Loading />;
  const { product, revisions } = q.data;
  return (
    <>
      <PageHeader
        title={
          <>
            {product.code} <span className="title-sub">{product.name}</span>
          </>
        }
        subtitle={<Link to="/products">← All products</Link>}
        actions={
          canWrite ? (
            <>
              <Button onClick={() => setMode('edit')}>Edit product</Button>
              <Button variant="primary" onClick={() => setMode('revision')}>
                New revision
              </Button>
            </>
          ) : null
        }
      />
      {mode === 'edit' ? (
        <Panel>
          <RecordForm title="Change product" fields={PRODUCT_FIELDS} initial={initialValues(PRODUCT_FIELDS, product as unknown as Record<string, unknown>)} submitLabel="Save" onSubmit={save} onCancel={() => setMode('none')} busy={saveState.busy} error={saveState.error} />
        </Panel>
      ) : null}
      {mode === 'revision' ? (
        <Panel>
          <RecordForm
            title="New draft revision"
            fields={REVISION_FIELDS}
            initial={initialValues(REVISION_FIELDS)}
            submitLabel="Create revision"
            onSubmit={createRev}
            onCancel={() => setMode('none')}
            busy={revState.busy}
            error={revState.error}
          />
          <p className="muted">To change a released revision, open it and derive a new revision from it: its BOM, route, programs and quality plan are copied.</p>
        </Panel>
      ) : null}
      <Panel title="Product">
        <KeyValues items={[['Code', product.code], ['Name', product.name], ['Customer', product.customer]]} />
      </Panel>
      <Panel title="Revisions">
        <DataTable
          testId="revisions"
          rows={revisions}
          rowKey={(r) => r.id}
          onRowClick={(r) => navigate(`/revisions/${r.id}`)}
          empty="No revision yet."
          columns={[
            { key: 'revision', header: 'Revision', render: (r) => <strong>{r.revision}</strong> },
            { key: 'state', header: 'State', render: (r) => <StateBadge state={r.state} /> },
            { key: 'bomRevision', header: 'BOM rev.' },
            { key: 'gerberRevision', header: 'Gerber rev.' },
            { key: 'createdAt', header: 'Created', render: (r) => formatDateTime(r.createdAt) },
            { key: 'releasedAt', header: 'Released', render: (r) => (r.releasedAt ? `${formatDateTime(r.releasedAt)} by ${r.releasedBy}` : '') },
            { key: 'changeReason', header: 'Change reason', render: (r) => r.changeReason ?? '' },
          ]}
        />
      </Panel>
    </>
  );
}
