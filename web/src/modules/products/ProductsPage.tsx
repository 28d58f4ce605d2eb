import { useState } from 'react';
import { api, type Product, type ProductRevision } from '../../api.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { RecordForm, initialValues, toBody, type FieldSpec } from '../../components/RecordForm.tsx';
import { Button, Loading, PageHeader, Panel, StateBadge } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { R } from '../../roles.ts';
import { Link, navigate } from '../../router.tsx';
import { useCan } from '../../session.tsx';

export const PRODUCT_FIELDS: FieldSpec[] = [
  { name: 'code', label: 'Product code', required: true, hint: 'Letters, digits, . _ -' },
  { name: 'name', label: 'Name', required: true },
  { name: 'customer', label: 'Customer' },
];

function RevisionSummary({ revs }: { revs: ProductRevision[] }) {
  if (revs.length === 0) return <span className="muted">no revision</span>;
  return (
    <span className="rev-list">
      {revs.map((r) => (
        <Link key={r.id} to={`/revisions/${r.id}`} className="rev-chip" onClick={(e) => e.stopPropagation()}>
          {r.revision} <StateBadge state={r.state} />
        </Link>
      ))}
    </span>
  );
}

/** Products and their revisions; engineering opens a revision to see or change its contents. */
export function ProductsPage() {
  const canWrite = useCan(R.masterDataWrite);
  const [filter, setFilter] = useState('');
  const [adding, setAdding] = useState(false);
  const q = useQuery(async () => {
    const [products, revisions] = await Promise.all([api.products.list(), api.revisions.list()]);
    return { products, revisions };
  }, []);
  const [create, createState] = useAction(async (v: Record<string, string | boolean>) => {
    const p = await api.products.create(toBody(PRODUCT_FIELDS, v));
    navigate(`/products/${p.id}`);
  });
  const revsOf = (p: Product) => q.data?.revisions.filter((r) => r.productId === p.id) ?? [];
  const rows = q.data?.products.filter((p) => !filter || `${p.code} ${p.name} ${p.customer}`.toLowerCase().includes(filter.toLowerCase()));
  return (
    <>
      <PageHeader title="Products" subtitle="What is built: each product has revisions; only a released revision can be built." />
      <Panel
        title={rows ? `${rows.length} product${rows.length === 1 ? '' : 's'}` : undefined}
        actions={
          <>
            <input className="filter" type="search" placeholder="Filter…" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter products" />
            {canWrite ? (
              <Button variant="primary" onClick={() => setAdding(true)}>
                New product
              </Button>
            ) : null}
          </>
        }
      >
        {adding ? (
          <RecordForm title="New product" fields={PRODUCT_FIELDS} initial={initialValues(PRODUCT_FIELDS)} submitLabel="Create product" onSubmit={create} onCancel={() => setAdding(false)} busy={createState.busy} error={createState.error} />
        ) : null}
        <ErrorPanel error={q.error} />
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable
            testId="products"
            rows={rows}
            rowKey={(p) => p.id}
            onRowClick={(p) => navigate(`/products/${p.id}`)}
            empty={filter ? 'Nothing matches the filter.' : 'No products yet.'}
            columns={[
              { key: 'code', header: 'Code', render: (p) => <strong>{p.code}</strong> },
              { key: 'name', header: 'Name' },
              { key: 'customer', header: 'Customer' },
              { key: 'revs', header: 'Revisions', render: (p) => <RevisionSummary revs={revsOf(p)} /> },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
