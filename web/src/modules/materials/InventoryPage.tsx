import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { LabelActions } from '../../components/LabelActions.tsx';
import { Badge, Checkbox, Field, Loading, PageHeader, Panel, formatDateTime, type Tone } from '../../components/ui.tsx';
import { useDebounced, useQuery } from '../../hooks.ts';
import { locationText, materialsApi, PACKAGE_STATUSES, type Package, type StockRow } from './api.ts';

const STATUS_TONE: Record<string, Tone> = { available: 'good', 'in-use': 'info', blocked: 'bad', quarantined: 'warn', empty: 'neutral', scrapped: 'neutral' };
export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={STATUS_TONE[status] ?? 'neutral'}>{status}</Badge>;
}

/** Inventory: packages with status, location and quantity (filtered), and stock per part and location. */
export function InventoryPage() {
  const [view, setView] = useState<'packages' | 'stock'>('packages');
  const [ipn, setIpn] = useState('');
  const [status, setStatus] = useState('');
  const [locationKind, setLocationKind] = useState('');
  const [finished, setFinished] = useState(false);
  const [openId, setOpenId] = useState<number | null>(null);
  // Every filter is the server's: the part search matches the IPN or MPN anywhere and the package ID from its start.
  const q = useDebounced(ipn.trim());
  const filter = { locationKind: locationKind || undefined, q: q || undefined };
  const packages = useQuery(
    (signal) => (view === 'packages' ? materialsApi.packages({ ...filter, status: status || undefined, includeFinished: finished || undefined, limit: 2000 }, signal) : Promise.resolve(undefined)),
    [view, status, locationKind, finished, q],
  );
  const stock = useQuery((signal) => (view === 'stock' ? materialsApi.stock(filter, signal) : Promise.resolve(undefined)), [view, locationKind, q]);
  return (
    <>
      <PageHeader title="Inventory" subtitle="Every package with its status, place and quantity; stock per part and location." />
      <Panel>
        <div className="toolbar">
          <Field label="View">
            <select value={view} onChange={(e) => setView(e.target.value as typeof view)}>
              <option value="packages">packages</option>
              <option value="stock">stock per part and location</option>
            </select>
          </Field>
          <Field label="Part number">
            <input value={ipn} onChange={(e) => setIpn(e.target.value)} placeholder="IPN, MPN or package ID" />
          </Field>
          <Field label="Location">
            <select value={locationKind} onChange={(e) => setLocationKind(e.target.value)}>
              <option value="">anywhere</option>
              <option value="store">store</option>
              <option value="line">line</option>
              <option value="equipment">machine</option>
            </select>
          </Field>
          {view === 'packages' ? (
            <>
              <Field label="Status">
                <select value={status} onChange={(e) => setStatus(e.target.value)}>
                  <option value="">any</option>
                  {PACKAGE_STATUSES.map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              </Field>
              <Checkbox label="Include empty and scrapped" checked={finished} onChange={setFinished} />
            </>
          ) : null}
        </div>
      </Panel>
      {view === 'packages' ? (
        <Panel title={packages.data ? `${packages.data.length} package${packages.data.length === 1 ? '' : 's'}` : undefined}>
          <ErrorPanel error={packages.error} />
          {packages.loading && !packages.data ? (
            <Loading />
          ) : (
            <DataTable<Package>
              testId="packages"
              rows={packages.data}
              rowKey={(p) => p.id}
              onRowClick={(p) => setOpenId(openId === p.id ? null : p.id)}
              expanded={(p) => (openId === p.id ? <LabelActions base={`/packages/${p.id}/label`} name={p.code} preview="png" /> : null)}
              empty="No package matches."
              columns={[
                { key: 'code', header: 'Package', render: (p) => <strong className="mono">{p.code}</strong> },
                { key: 'ipn', header: 'Part' },
                { key: 'mpn', header: 'MPN', render: (p) => `${p.manufacturer} ${p.mpn}` },
                { key: 'lotCode', header: 'Lot / date', render: (p) => `${p.lotCode ?? ''}${p.dateCode ? ` · ${p.dateCode}` : ''}` },
                { key: 'quantity', header: 'Qty', align: 'right' },
                { key: 'status', header: 'Status', render: (p) => <StatusBadge status={p.status} /> },
                { key: 'location', header: 'Location', render: (p) => locationText(p.location) },
                { key: 'msd', header: 'MSL', render: (p) => (p.msd.state === 'not-sensitive' ? '' : `${p.msd.level} · ${p.msd.state}`) },
                { key: 'receivedAt', header: 'Received', render: (p) => formatDateTime(p.receivedAt) },
              ]}
            />
          )}
        </Panel>
      ) : (
        <Panel title={stock.data ? `${stock.data.length} part / location row${stock.data.length === 1 ? '' : 's'}` : undefined}>
          <ErrorPanel error={stock.error} />
          {stock.loading && !stock.data ? (
            <Loading />
          ) : (
            <DataTable<StockRow>
              testId="stock"
              rows={stock.data}
              rowKey={(r) => `${r.partId}-${locationText(r.location)}`}
              empty="No stock."
              columns={[
                { key: 'ipn', header: 'Part', render: (r) => <strong>{r.ipn}</strong> },
                { key: 'location', header: 'Location', render: (r) => locationText(r.location) },
                { key: 'packages', header: 'Packages', align: 'right' },
                { key: 'usableQuantity', header: 'Usable', align: 'right' },
                { key: 'blockedQuantity', header: 'Blocked', align: 'right' },
              ]}
            />
          )}
        </Panel>
      )}
    </>
  );
}
